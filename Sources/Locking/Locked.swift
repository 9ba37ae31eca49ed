import Foundation

/// A value that is reachable only while its lock is held: Ferry's one mutual-exclusion primitive
/// for shared state (counters, caches, pools).
///
/// Why not `Synchronization.Locked`: on Linux it locks with futex calls made inside the standard
/// library, which ThreadSanitizer does not see, so `make test-tsan` reported every access it guards
/// as a race and real races would have drowned among them. `NSLock` is a pthread mutex, which
/// ThreadSanitizer intercepts; uncontended, both cost one atomic exchange.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is read and written only inside `withLock`, under `lock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value. `body` must not call `withLock` on the same
    /// instance (the lock is not recursive).
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
