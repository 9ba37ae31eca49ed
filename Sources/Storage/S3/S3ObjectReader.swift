import Foundation

/// A bounded hand-over of byte chunks from a producer thread (curl's write callback) to a consumer
/// (the connection thread). A full queue blocks the producer, which stops reading the socket: that is
/// the back-pressure that keeps a download's memory at `capacity`.
///
/// `@unchecked Sendable`: every stored `var` is only read or written with `condition` locked.
final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var buffered = 0
    private let capacity: Int
    private var finished = false
    private var failure: StorageError?
    private var cancelled = false
    private var started = false

    init(capacity: Int) { self.capacity = capacity }

    /// Producer: adds bytes, waiting while the queue is full. False once the consumer has gone.
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while buffered >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        chunks.append(Array(bytes))
        buffered += bytes.count
        started = true
        condition.broadcast()
        return true
    }

    /// Producer: no more bytes (error = the stream failed).
    func finish(_ error: StorageError?) {
        condition.lock()
        finished = true
        failure = error
        started = true
        condition.broadcast()
        condition.unlock()
    }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Consumer: the next chunk, nil at the end.
    func pop() throws(StorageError) -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !finished && !cancelled { condition.wait() }
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            buffered -= chunk.count
            condition.broadcast()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }

    /// Consumer: waits until the first bytes (or the end) arrived; rethrows an early failure.
    func waitStarted() throws(StorageError) {
        condition.lock()
        defer { condition.unlock() }
        while !started { condition.wait() }
        if chunks.isEmpty, let failure { throw failure }
    }

    /// Consumer: gives up; the producer's next push returns false.
    func cancel() {
        condition.lock()
        cancelled = true
        chunks = []
        buffered = 0
        condition.broadcast()
        condition.unlock()
    }
}

/// A streamed GetObject from an offset. A producer thread runs the ranged GET and feeds a bounded
/// queue; if the connection breaks mid-stream, it resumes with a new Range request at the byte where
/// it stopped, pinned to the same object version with If-Match.
///
/// The read-ahead window is leased from the process-wide `TransferMemory`: the full window when it is
/// free, else the smallest window that still streams (waited for), given back at close.
final class S3ObjectReader: ObjectReader {
    static let window = 8 << 20
    static let smallestWindow = 1 << 20
    /// What one push may add beyond the queue's capacity: curl hands over at most this much at once
    /// (CURL_MAX_WRITE_SIZE is 16 KiB; kept generous).
    static let chunkAllowance = 64 << 10

    private let queue: ChunkQueue
    private var lease: TransferMemory.Lease?
    private var current: [UInt8] = []
    private var position = 0

    init(client: S3Client, key: ObjectKey, offset: UInt64) throws(StorageError) {
        let memory = client.settings.transferMemory
        let lease: TransferMemory.Lease
        if let full = memory.tryLease(Self.window) {
            lease = full
        } else {
            lease = try memory.lease(Self.smallestWindow)
        }
        self.lease = lease
        self.queue = ChunkQueue(capacity: lease.bytes - Self.chunkAllowance)
        let queue = self.queue
        let thread = Thread {
            S3ObjectReader.produce(client: client, key: key, offset: offset, queue: queue)
        }
        thread.name = "s3-get"
        thread.stackSize = 1 << 20
        thread.start()
        try queue.waitStarted()
    }

    private static func produce(client: S3Client, key: ObjectKey, offset: UInt64, queue: ChunkQueue) {
        var next = offset
        var etag: String?
        var failures = 0
        while true {
            var headers: [(String, String)] = []
            if next > 0 { headers.append(("range", "bytes=\(next)-")) }
            if let etag { headers.append(("if-match", etag)) }
            // Retries of a stream are done here (resuming at `next`), not by the client.
            let request = S3Client.Request(operation: .getObject, bucket: key.bucket, key: key.key, headers: headers, idempotent: false)
            do throws(StorageError) {
                _ = try client.send(request) { bytes, headers in
                    if etag == nil { etag = headers["etag"] }
                    guard queue.push(bytes) else { return false }
                    next += UInt64(bytes.count)
                    return true
                }
                queue.finish(nil)
                return
            } catch .conflict where next > 0 && etag == nil {
                queue.finish(nil)  // 416: the offset is the end of the object: nothing to send
                return
            } catch {
                if queue.isCancelled { return }
                let transient: Bool
                switch error {
                case .unavailable, .throttled: transient = true
                default: transient = false
                }
                if transient, failures + 1 < client.settings.maxAttempts {
                    failures += 1
                    client.logger.debug("s3 download interrupted, resuming", metadata: ["key": "\(key)", "at": "\(next)"])
                    S3Client.countRetry(.getObject)
                    Thread.sleep(forTimeInterval: S3Client.retryDelay(attempt: failures))
                    continue
                }
                queue.finish(error)
                return
            }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        while position >= current.count {
            guard let chunk = try queue.pop() else { return 0 }
            current = chunk
            position = 0
        }
        let count = min(buffer.count, current.count - position)
        current.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<position + count]))
        }
        position += count
        return count
    }

    func close() {
        queue.cancel()
        lease?.release()
        lease = nil
    }

    deinit { close() }
}
