import Foundation
import Storage
import Locking
import Testing

@Suite struct TransferMemoryTests {
    @Test func leasesUpToTheLimitAndGivesBack() throws {
        let memory = TransferMemory(limit: 100, maximumWait: 5)
        let a = try memory.lease(60)
        #expect(memory.tryLease(50) == nil)
        let b = try #require(memory.tryLease(40))
        #expect(memory.usage.inUse == 100)
        a.release()
        a.release()  // once only
        #expect(memory.usage.inUse == 40)
        _ = b
        #expect(memory.usage.peak == 100)
    }

    @Test func droppingALeaseGivesItBack() throws {
        let memory = TransferMemory(limit: 100)
        do { _ = try memory.lease(100) }
        #expect(memory.usage.inUse == 0)
    }

    @Test func aWaitEndsWhenBytesAreGivenBack() throws {
        let memory = TransferMemory(limit: 100, maximumWait: 10)
        let held = try memory.lease(100)
        let releasedAt = Locked<Date?>(nil)
        let lease = held
        Thread {
            Thread.sleep(forTimeInterval: 0.2)
            releasedAt.withLock { $0 = Date() }
            lease.release()
        }.start()
        let second = try memory.lease(80)
        let released = try #require(releasedAt.withLock { $0 })
        #expect(Date() >= released)
        #expect(second.bytes == 80)
    }

    @Test func aWaitIsBounded() throws {
        let memory = TransferMemory(limit: 100, maximumWait: 0.2)
        let held = try memory.lease(100)
        let start = Date()
        #expect(throws: StorageError.self) { try memory.lease(1) }
        #expect(Date().timeIntervalSince(start) >= 0.19)
        _ = held
    }

    /// A request larger than the whole budget is served alone, so a huge part size still works.
    @Test func anOversizedRequestIsServedAlone() throws {
        let memory = TransferMemory(limit: 100, maximumWait: 0.2)
        let big = try memory.lease(500)
        #expect(memory.tryLease(1) == nil)
        big.release()
        #expect(memory.tryLease(1) != nil)
    }

    @Test func workerPoolRunsEveryJobOnBoundedThreads() {
        let pool = WorkerPool(name: "test", maxThreads: 3)
        let done = Locked(0)
        let group = DispatchGroup()
        for _ in 0..<50 {
            group.enter()
            pool.submit {
                Thread.sleep(forTimeInterval: 0.005)
                done.withLock { $0 += 1 }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(done.withLock { $0 } == 50)
        #expect(pool.threadCount <= 3)
    }

    /// Threads end after idleLifetime without a job, and the pool starts new ones when work returns.
    @Test func idleWorkerThreadsEnd() {
        let pool = WorkerPool(name: "test", maxThreads: 4, idleLifetime: 0.2)
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            pool.submit {
                Thread.sleep(forTimeInterval: 0.05)
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(pool.threadCount >= 1)
        let deadline = Date(timeIntervalSinceNow: 10)
        while pool.threadCount > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(pool.threadCount == 0)
        group.enter()
        pool.submit { group.leave() }
        #expect(group.wait(timeout: .now() + 30) == .success)
    }
}
