import Foundation

/// A bounded pool of worker threads for blocking storage work (S3 part uploads), shared by the whole
/// process instead of a new thread per part. Threads are started on demand up to `maxThreads`; jobs
/// beyond that wait in order. A thread that has had no job for `idleLifetime` ends, so an idle
/// gateway goes back to its idle thread count after a burst (the soak checks it). Jobs never run
/// on Swift's cooperative pool (design.md §2: blocking C calls would starve it).
///
/// `@unchecked Sendable`: `jobs`, `threads` and `idle` are only touched with `condition` locked.
public final class WorkerPool: @unchecked Sendable {
    public let maxThreads: Int
    public let idleLifetime: TimeInterval
    private let name: String
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var threads = 0
    private var idle = 0

    public init(name: String, maxThreads: Int, idleLifetime: TimeInterval = 30) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.idleLifetime = idleLifetime
    }

    /// The pool for S3 part uploads of drivers made without one of their own (tests, tools); the
    /// gateway gives all its drivers one pool sized from `[limits] transfer_memory`.
    public static let defaultPartUploads = WorkerPool(name: "s3-part", maxThreads: 16)

    /// Threads alive now (never more than `maxThreads`).
    public var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    /// Runs `job` on a worker thread, starting one if none is idle and the pool is not full.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let start = idle < jobs.count && threads < maxThreads
        if start { threads += 1 }
        condition.signal()
        condition.unlock()
        if start {
            let thread = Thread { [self] in self.work() }
            thread.name = name
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            idle += 1
            var waited = true
            while jobs.isEmpty && waited {
                waited = condition.wait(until: Date(timeIntervalSinceNow: idleLifetime))
            }
            idle -= 1
            if jobs.isEmpty {  // no job for idleLifetime: this thread ends
                threads -= 1
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
