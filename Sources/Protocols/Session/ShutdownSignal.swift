#if canImport(Glibc)
import Glibc
#endif
import Locking
import Synchronization

/// The gateway's stop, in two steps (issue 12, drain). `request()`: connections close at their next
/// idle moment (FTP 421, SSH disconnect) while running transfers go on. `cutConnections()`, when the
/// grace period is over or a second signal came: every connection still open is shut down under
/// its thread, whose ordinary failure path then aborts what it was uploading (nothing published).
public final class ShutdownSignal: Sendable {
    private let requested = Atomic<Bool>(false)
    /// Descriptors of open client connections, by registration token.
    private let connections = Locked<[Int: Int32]>([:])
    private let nextToken = Atomic<Int>(0)

    public init() {}

    public func request() { requested.store(true, ordering: .releasing) }
    public var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// A registered connection; `end()` must be called before its descriptor is closed.
    public struct Registration: Sendable {
        fileprivate let token: Int
        fileprivate let signal: ShutdownSignal

        public func end() { _ = signal.connections.withLock { $0.removeValue(forKey: token) } }
    }

    /// Registers an open connection's descriptor so that a forced stop can cut it.
    public func register(descriptor: Int32) -> Registration {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        connections.withLock { $0[token] = descriptor }
        return Registration(token: token, signal: self)
    }

    /// Shuts every registered connection down in both directions (the descriptors stay open, owned
    /// by their threads, which see end-of-stream or an error at their next read or write). Returns
    /// how many there were.
    @discardableResult
    public func cutConnections() -> Int {
        connections.withLock { open in
            for descriptor in open.values { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
            return open.count
        }
    }
}
