import Foundation
import Synchronization

/// A streamed upload to S3 with bounded memory: bytes fill one part buffer; a full part goes to a
/// worker thread (its own curl handle) while the next one fills, with at most `concurrency` parts in
/// flight, so memory is at most `partSize × (concurrency + 1)`. An object smaller than one part is one
/// PutObject at commit. Nothing is visible before CompleteMultipartUpload; abort (or dropping the
/// upload uncommitted) aborts the multipart upload.
final class S3ObjectUpload: ObjectUpload {
    private let client: S3Client
    private let key: ObjectKey
    private let partSize: Int
    private let maxObjectSize: UInt64
    private var buffer: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var total: UInt64 = 0
    private var uploadID: String?
    private var nextPartNumber = 1
    private var finished = false
    /// ETags by part number and the first failure, shared with the worker threads.
    private final class PartResults: Sendable {
        let state = Mutex<(etags: [Int: String], failure: StorageError?)>(([:], nil))
        func withLock<R>(_ body: (inout (etags: [Int: String], failure: StorageError?)) -> R) -> R {
            state.withLock { body(&$0) }
        }
    }

    /// Part buffers handed back by the workers, reused for the next parts: a fresh 16 MiB buffer
    /// costs 4,096 page faults and as many zeroed pages (large blocks are mmapped, see MemoryTuning),
    /// which was a fifth of an upload's CPU time. At most `concurrency + 1` buffers ever exist.
    /// `@unchecked Sendable`: the list of free buffers is only touched under `lock`.
    private final class PartBufferPool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [UnsafeMutableRawBufferPointer] = []
        let byteCount: Int

        init(byteCount: Int) { self.byteCount = byteCount }

        func take() -> UnsafeMutableRawBufferPointer {
            lock.withLock { free.popLast() } ?? .allocate(byteCount: byteCount, alignment: 64)
        }

        func put(_ buffer: UnsafeMutableRawBufferPointer) {
            lock.withLock { free.append(buffer) }
        }

        deinit {
            for buffer in free { buffer.deallocate() }
        }
    }

    private let results = PartResults()
    private let pool: PartBufferPool
    private let slots: DispatchSemaphore
    private let inFlight = DispatchGroup()

    init(client: S3Client, key: ObjectKey, keepingPrefix: UInt64) throws(StorageError) {
        self.client = client
        self.key = key
        self.partSize = Int(client.settings.effectivePartSize)
        self.maxObjectSize = client.settings.maxObjectSize
        self.slots = DispatchSemaphore(value: max(1, client.settings.uploadConcurrency))
        self.pool = PartBufferPool(byteCount: partSize)
        self.buffer = pool.take()
        if keepingPrefix > 0 {
            do throws(StorageError) {
                try keepPrefix(keepingPrefix)
            } catch {
                abort()
                throw error
            }
        }
    }

    deinit {
        abort()
        buffer.deallocate()
    }

    // MARK: Resume and append

    /// Starts the new object with the existing object's first `length` bytes: read into the first
    /// part when short, copied server-side (UploadPartCopy, pinned with If-Match) when at least the
    /// minimum part size.
    private func keepPrefix(_ length: UInt64) throws(StorageError) {
        let head = try client.send(S3Client.Request(method: "HEAD", bucket: key.bucket, key: key.key))
        let size = UInt64(head.headers["content-length"] ?? "") ?? 0
        guard size >= length else { throw .conflict(detail: "\(key) is shorter than the resume offset \(length)") }
        let etag = head.headers["etag"] ?? ""
        if length < S3Limits.minPartSize {
            var received = 0
            _ = try client.send(S3Client.Request(method: "GET", bucket: key.bucket, key: key.key,
                                                 headers: [("range", "bytes=0-\(length - 1)"), ("if-match", etag)])) { bytes, _ in
                let count = min(bytes.count, Int(length) - received)
                (self.buffer.baseAddress! + received).copyMemory(from: bytes.baseAddress!, byteCount: count)
                received += count
                return true
            }
            guard received == Int(length) else { throw .conflict(detail: "\(key) changed while it was being resumed") }
            filled = received
            total = length
            return
        }
        try createMultipartUpload()
        let chunks = (length + S3Limits.maxCopySize - 1) / S3Limits.maxCopySize
        let chunkSize = (length + chunks - 1) / chunks
        var start: UInt64 = 0
        while start < length {
            let end = min(start + chunkSize, length) - 1
            let partNumber = nextPartNumber
            nextPartNumber += 1
            let response = try client.send(S3Client.Request(
                method: "PUT", bucket: key.bucket, key: key.key,
                query: [("partNumber", "\(partNumber)"), ("uploadId", uploadID!)],
                headers: [("x-amz-copy-source", S3Driver.copySource(key)), ("x-amz-copy-source-range", "bytes=\(start)-\(end)"),
                          ("x-amz-copy-source-if-match", etag)],
                body: UnsafeRawBufferPointer(start: nil, count: 0)))
            guard let partETag = S3XML.etag(response.body) else {
                throw S3XML.error(response.body).map { .unavailable(detail: "UploadPartCopy: \($0.code)") } ?? .io(detail: "UploadPartCopy: no ETag")
            }
            results.withLock { $0.etags[partNumber] = partETag }
            start = end + 1
        }
        total = length
    }

    // MARK: Writing

    private func createMultipartUpload() throws(StorageError) {
        let response = try client.send(S3Client.Request(method: "POST", bucket: key.bucket, key: key.key, query: [("uploads", "")],
                                                        body: UnsafeRawBufferPointer(start: nil, count: 0)))
        guard let id = S3XML.uploadID(response.body) else { throw .io(detail: "CreateMultipartUpload: no UploadId") }
        uploadID = id
        client.logger.debug("s3 multipart upload started", metadata: ["key": "\(key)"])
    }

    private var failure: StorageError? { results.withLock { $0.failure } }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard !finished else { throw .aborted }
        if let failure {
            abort()
            throw failure
        }
        if total + UInt64(bytes.count) > maxObjectSize {
            abort()
            throw .objectTooLarge(limit: maxObjectSize)
        }
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, partSize - filled)
            (buffer.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            filled += count
            offset += count
            if filled == partSize {
                do throws(StorageError) {
                    try sendPart()
                } catch {
                    abort()
                    throw error
                }
            }
        }
        total += UInt64(bytes.count)
    }

    /// Hands the full buffer to a worker thread (waiting for a free slot) and starts a new one.
    private func sendPart() throws(StorageError) {
        if uploadID == nil { try createMultipartUpload() }
        slots.wait()
        if let failure {
            slots.signal()
            throw failure
        }
        let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<filled])
        let whole = buffer
        buffer = pool.take()
        filled = 0
        let partNumber = nextPartNumber
        nextPartNumber += 1
        let client = self.client
        let key = self.key
        let uploadID = self.uploadID!
        let results = self.results
        let slots = self.slots
        let group = self.inFlight
        let pool = self.pool
        nonisolated(unsafe) let bytes = UnsafeRawBufferPointer(part)
        nonisolated(unsafe) let owned = whole
        group.enter()
        let worker = Thread {
            defer {
                pool.put(owned)
                slots.signal()
                group.leave()
            }
            let hash = Digest.hex(Digest.sha256(bytes))
            do throws(StorageError) {
                let response = try client.send(S3Client.Request(
                    method: "PUT", bucket: key.bucket, key: key.key,
                    query: [("partNumber", "\(partNumber)"), ("uploadId", uploadID)],
                    body: bytes, payloadHash: hash))
                guard let etag = response.headers["etag"] else { throw StorageError.io(detail: "UploadPart: no ETag") }
                results.withLock { $0.etags[partNumber] = etag }
            } catch {
                results.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
        worker.name = "s3-part"
        worker.stackSize = 1 << 20
        worker.start()
    }

    func commit() throws(StorageError) -> UInt64 {
        guard !finished else { throw .aborted }
        do throws(StorageError) {
            if uploadID == nil {
                // One part or less: a single PutObject.
                let body = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
                _ = try client.send(S3Client.Request(method: "PUT", bucket: key.bucket, key: key.key, body: body,
                                                     payloadHash: Digest.hex(Digest.sha256(body))))
                finished = true
                return total
            }
            if filled > 0 || nextPartNumber == 1 { try sendPart() }
            inFlight.wait()
            if let failure { throw failure }
            let parts = results.withLock { $0.etags }.sorted { $0.key < $1.key }.map { (number: $0.key, etag: $0.value) }
            let response = try client.send(S3Client.Request(method: "POST", bucket: key.bucket, key: key.key,
                                                            query: [("uploadId", uploadID!)]),
                                           document: S3XML.completeMultipart(parts))
            // CompleteMultipartUpload can fail inside a 200 answer.
            if let error = S3XML.error(response.body) {
                throw StorageError.unavailable(detail: "CompleteMultipartUpload: \(error.code)")
            }
            finished = true
            client.logger.debug("s3 multipart upload completed", metadata: ["key": "\(key)", "parts": "\(parts.count)", "bytes": "\(total)"])
            return total
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        guard !finished else { return }
        finished = true
        inFlight.wait()
        guard let uploadID else { return }
        do throws(StorageError) {
            _ = try client.send(S3Client.Request(method: "DELETE", bucket: key.bucket, key: key.key, query: [("uploadId", uploadID)]))
            client.logger.debug("s3 multipart upload aborted", metadata: ["key": "\(key)"])
        } catch {
            client.logger.error("could not abort a multipart upload (a lifecycle rule should clean it up)",
                                metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }
}
