import Foundation
import Locking

/// Counts failed logins per client address. After `maxFailures` failures within `banTime`, the address
/// is refused at connect until `banTime` has passed since its last failure. Shared by every protocol.
public final class LoginDefender: Sendable {
    struct Record {
        var failures: [Date] = []
        var bannedUntil: Date?
    }

    private let limits: Locked<(maxFailures: Int, banTime: TimeInterval)>
    private let records = Locked<[String: Record]>([:])
    private let now: @Sendable () -> Date

    public init(maxFailures: Int, banTime: TimeInterval, now: @escaping @Sendable () -> Date = { Date() }) {
        self.limits = Locked((maxFailures, banTime))
        self.now = now
    }

    public var maxFailures: Int { limits.withLock { $0.maxFailures } }
    public var banTime: TimeInterval { limits.withLock { $0.banTime } }

    /// A reload's new limits; failures and bans recorded so far stay.
    public func update(maxFailures: Int, banTime: TimeInterval) {
        limits.withLock { $0 = (maxFailures, banTime) }
    }

    /// True while the address is banned.
    public func isBanned(_ address: String) -> Bool {
        let now = now()
        return records.withLock { all in
            guard let until = all[address]?.bannedUntil else { return false }
            if until > now { return true }
            all[address] = nil
            return false
        }
    }

    /// Records one failed login; returns true when this failure banned the address.
    @discardableResult
    public func recordFailure(_ address: String) -> Bool {
        let (maxFailures, banTime) = limits.withLock { $0 }
        guard maxFailures > 0 else { return false }
        let now = now()
        return records.withLock { all in
            var record = all[address] ?? Record()
            record.failures = record.failures.filter { now.timeIntervalSince($0) < banTime } + [now]
            var banned = false
            if record.failures.count >= maxFailures {
                record.bannedUntil = now.addingTimeInterval(banTime)
                record.failures = []
                banned = true
            }
            all[address] = record
            // Keep the table bounded: forget addresses whose failures have all expired.
            if all.count > 10_000 {
                all = all.filter { entry in
                    entry.value.bannedUntil.map { $0 > now } ?? false
                        || entry.value.failures.contains { now.timeIntervalSince($0) < banTime }
                }
            }
            return banned
        }
    }

    /// A successful login clears the address's failure count (but not an active ban).
    public func recordSuccess(_ address: String) {
        records.withLock { all in
            if all[address]?.bannedUntil == nil { all[address] = nil }
        }
    }
}
