import Foundation

/// The one process-wide budget for transfer buffers (`[limits] transfer_memory`): S3 upload part
/// buffers and download read-ahead windows are leased from it, so that a busy gateway slows down
/// instead of running out of memory.
///
/// Progress without deadlock: every transfer needs at most one lease it must wait for (an upload's
/// first part buffer, a download's window); anything beyond that (more parts in flight) is only
/// taken when free at once (`tryLease`). A transfer holding its one lease can always finish on its
/// own, so leases are always given back and waiters are served in turn. A wait is bounded by
/// `maximumWait` (the session's idle timeout): past it the transfer fails with a clear error.
///
/// `@unchecked Sendable`: `inUse` and `waiting` are only touched with `condition` locked.
public final class TransferMemory: @unchecked Sendable {
    public let limit: Int
    public let maximumWait: TimeInterval
    private let condition = NSCondition()
    private var inUse = 0
    private var peak = 0
    private var waiting = 0

    public init(limit: Int, maximumWait: TimeInterval = 300) {
        self.limit = max(1, limit)
        self.maximumWait = maximumWait
    }

    /// `[limits] transfer_memory`'s default: 768 MiB, so that a gateway at full load (buffers plus
    /// threads, libssh and libcurl) stays within 1 GiB of RSS (1050 MiB was measured with 1 GiB of
    /// buffers for 64 concurrent 24 MiB transfers).
    public static let defaultLimit = 768 << 20

    /// A budget for drivers made without a configured one (tests, tools): the default.
    public static let unconfigured = TransferMemory(limit: defaultLimit)

    /// Bytes leased now, the most ever leased at once, and transfers waiting for a lease.
    public var usage: (inUse: Int, peak: Int, waiting: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (inUse, peak, waiting)
    }

    /// Leases `bytes`, waiting up to `maximumWait` for them. A request larger than the whole budget
    /// is served when nothing else is leased (a part size above the budget still works, one at a time).
    public func lease(_ bytes: Int) throws(StorageError) -> Lease {
        let deadline = Date().addingTimeInterval(maximumWait)
        condition.lock()
        defer { condition.unlock() }
        waiting += 1
        defer { waiting -= 1 }
        while !fits(bytes) {
            if !condition.wait(until: deadline) && !fits(bytes) {
                throw .unavailable(detail: "no transfer memory free within \(Int(maximumWait)) s (transfer_memory = \(limit) bytes, \(inUse) in use)")
            }
        }
        take(bytes)
        return Lease(budget: self, bytes: bytes)
    }

    /// Leases `bytes` only if they are free now.
    public func tryLease(_ bytes: Int) -> Lease? {
        condition.lock()
        defer { condition.unlock() }
        guard fits(bytes), waiting == 0 || bytes == 0 else { return nil }  // waiters come first
        take(bytes)
        return Lease(budget: self, bytes: bytes)
    }

    private func fits(_ bytes: Int) -> Bool { inUse + bytes <= limit || inUse == 0 }

    private func take(_ bytes: Int) {
        inUse += bytes
        peak = max(peak, inUse)
    }

    fileprivate func giveBack(_ bytes: Int) {
        condition.lock()
        inUse -= bytes
        condition.broadcast()
        condition.unlock()
    }

    /// Some bytes of the budget, given back once: by `release()` or when the lease is dropped.
    public final class Lease: @unchecked Sendable {
        private let budget: TransferMemory
        public let bytes: Int
        private let released = NSLock()
        private var isReleased = false

        fileprivate init(budget: TransferMemory, bytes: Int) {
            self.budget = budget
            self.bytes = bytes
        }

        public func release() {
            released.lock()
            let first = !isReleased
            isReleased = true
            released.unlock()
            if first { budget.giveBack(bytes) }
        }

        deinit { release() }
    }
}

/// A memory block of a transfer together with its lease: freed and given back together.
final class LeasedBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    private let lease: TransferMemory.Lease

    init(_ lease: TransferMemory.Lease) {
        self.lease = lease
        self.bytes = .allocate(byteCount: lease.bytes, alignment: 64)
    }

    deinit {
        bytes.deallocate()
        lease.release()
    }
}
