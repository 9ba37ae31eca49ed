import Locking

/// Counts each user's sessions across all protocols, for `max_sessions`.
public final class SessionCounter: Sendable {
    private let counts = Locked<[String: Int]>([:])

    public init() {}

    /// Takes a session slot for `user`, or nil when it already has `user.maxSessions` (0 = no limit).
    public func open(for user: User) -> SessionSlot? {
        let admitted = counts.withLock { all -> Bool in
            let current = all[user.name, default: 0]
            if user.maxSessions > 0 && current >= user.maxSessions { return false }
            all[user.name] = current + 1
            return true
        }
        return admitted ? SessionSlot(counter: self, user: user.name) : nil
    }

    public func sessions(of user: String) -> Int { counts.withLock { $0[user, default: 0] } }

    fileprivate func close(_ user: String) {
        counts.withLock { all in
            let left = all[user, default: 1] - 1
            all[user] = left > 0 ? left : nil
        }
    }
}

/// One session of a user, counted until it is released (or dropped).
public final class SessionSlot: Sendable {
    private let counter: SessionCounter
    private let user: String
    private let released = Locked(false)

    fileprivate init(counter: SessionCounter, user: String) {
        self.counter = counter
        self.user = user
    }

    public func release() {
        let first = released.withLock { done in
            defer { done = true }
            return !done
        }
        if first { counter.close(user) }
    }

    deinit { release() }
}
