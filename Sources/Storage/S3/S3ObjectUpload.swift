import Foundation
import Locking
import Digests

/// A streamed upload to S3 with bounded memory: bytes fill one part buffer; a full part goes to a
/// worker of the process-wide pool (`S3Settings.partWorkers`) while the next one fills, with at most
/// `concurrency` parts in flight. Every buffer is leased from the process-wide `TransferMemory`: the
/// first one is waited for (back-pressure), further ones only taken when free at once; without one the
/// part is sent from this thread with the one buffer the upload holds, so an upload always makes
/// progress. An object smaller than one part is one PutObject at commit. Nothing is visible before
/// CompleteMultipartUpload; abort (or dropping the upload uncommitted) aborts the multipart upload.
final class S3ObjectUpload: ObjectUpload {
    private let client: S3Client
    private let key: ObjectKey
    private let partSize: Int
    private let maxObjectSize: UInt64
    /// The part being filled; leased at the first byte (an empty upload leases nothing).
    private var buffer: PartBuffer?
    private var filled = 0
    private var total: UInt64 = 0
    private var uploadID: String?
    private var nextPartNumber = 1
    private var finished = false
    /// MD5 and SHA-256 of the whole object as its bytes pass, stored in its metadata at commit
    /// (`StoredMetadata`). Nil when some bytes never pass through here (a prefix kept by a
    /// server-side copy) or a digest failed: the object is then stored without them.
    private var wholeObjectDigests: (md5: RunningChecksum, sha256: RunningChecksum)?
    /// A modification time the client set before the end (`recordModificationTime`).
    private var modificationTime: Date?
    private(set) var published: ObjectMetadata?
    /// The condition the object is published under: `If-None-Match: *` for `UploadOptions.onlyIfAbsent`,
    /// then `If-Match` on the object found instead (`commitAgain`).
    private var condition: PublishCondition
    /// The digests' metadata, once the digests are finished (`finalMetadata`).
    private var checksums: [String: String]?
    /// ETags by part number and the first failure, shared with the worker threads.
    private final class PartResults: Sendable {
        let state = Locked<(etags: [Int: String], failure: StorageError?)>(([:], nil))
        func withLock<R>(_ body: (inout (etags: [Int: String], failure: StorageError?)) -> R) -> R {
            state.withLock { body(&$0) }
        }
    }

    /// A leased part buffer. `@unchecked Sendable`: it belongs to one thread at a time; the uploading
    /// thread hands it to a worker, which hands it back through `SpareBuffers`.
    private final class PartBuffer: @unchecked Sendable {
        let leased: LeasedBuffer
        init(_ leased: LeasedBuffer) { self.leased = leased }
        var bytes: UnsafeMutableRawBufferPointer { leased.bytes }
    }

    /// Part buffers handed back by the workers, reused for the next parts: a fresh 16 MiB buffer
    /// costs 4,096 page faults and as many zeroed pages (large blocks are mmapped, see MemoryTuning).
    /// Emptied (and the leases given back) when the upload ends.
    private final class SpareBuffers: Sendable {
        private let free = Locked<[PartBuffer]>([])
        func take() -> PartBuffer? { free.withLock { $0.popLast() } }
        func put(_ buffer: PartBuffer) { free.withLock { $0.append(buffer) } }
        func drop() { free.withLock { $0.removeAll() } }
    }

    private let results = PartResults()
    private let spares = SpareBuffers()
    private let slots: DispatchSemaphore
    private let inFlight = DispatchGroup()

    init(client: S3Client, key: ObjectKey, keepingPrefix: UInt64, onlyIfAbsent: Bool = false) throws(StorageError) {
        self.client = client
        self.condition = onlyIfAbsent ? .absent : .none
        self.key = key
        self.partSize = Int(client.settings.effectivePartSize)
        self.maxObjectSize = client.settings.maxObjectSize
        self.slots = DispatchSemaphore(value: max(1, client.settings.uploadConcurrency))
        self.wholeObjectDigests = try? (RunningChecksum(.md5), RunningChecksum(.sha256))
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
    }

    /// A part buffer: a spare one, else a new lease (waited for when `waiting`, else only if free now).
    private func takeBuffer(waiting: Bool) throws(StorageError) -> PartBuffer? {
        if let spare = spares.take() { return spare }
        let memory = client.settings.transferMemory
        if waiting { return PartBuffer(LeasedBuffer(try memory.lease(partSize))) }
        return memory.tryLease(partSize).map { PartBuffer(LeasedBuffer($0)) }
    }

    /// The buffer being filled, leased on first use.
    private func currentBuffer() throws(StorageError) -> UnsafeMutableRawBufferPointer {
        if let buffer { return buffer.bytes }
        let leased = try takeBuffer(waiting: true)!
        buffer = leased
        return leased.bytes
    }

    /// Gives every buffer back once the upload is over (the workers have finished).
    private func releaseBuffers() {
        buffer = nil
        spares.drop()
    }

    // MARK: Resume and append

    /// Starts the new object with the existing object's first `length` bytes: read into the first
    /// part when short, copied server-side (UploadPartCopy, pinned with If-Match) when at least the
    /// minimum part size.
    private func keepPrefix(_ length: UInt64) throws(StorageError) {
        let head = try client.send(S3Client.Request(operation: .headObject, bucket: key.bucket, key: key.key))
        let size = UInt64(head.headers["content-length"] ?? "") ?? 0
        guard size >= length else { throw .conflict(detail: "\(key) is shorter than the resume offset \(length)") }
        let etag = head.headers["etag"] ?? ""
        if length < S3Limits.minPartSize {
            let buffer = try currentBuffer()
            var received = 0
            // Not repeated by the client on a transient failure: the sink would be fed from byte 0
            // again after part of the prefix was copied (the resume fails instead; nothing is published).
            _ = try client.send(S3Client.Request(operation: .getObject, bucket: key.bucket, key: key.key,
                                                 headers: [("range", "bytes=0-\(length - 1)"), ("if-match", etag)],
                                                 idempotent: false)) { bytes, _ in
                let count = min(bytes.count, Int(length) - received)
                (buffer.baseAddress! + received).copyMemory(from: bytes.baseAddress!, byteCount: count)
                received += count
                return true
            }
            guard received == Int(length) else { throw .conflict(detail: "\(key) changed while it was being resumed") }
            filled = received
            total = length
            digest(UnsafeRawBufferPointer(rebasing: buffer[0..<received]))
            return
        }
        wholeObjectDigests = nil  // the prefix is copied inside S3: its bytes never pass here
        try createMultipartUpload()
        guard let uploadID else { throw .io(detail: "CreateMultipartUpload: no UploadId") }
        let copied = try client.copyParts(of: key, etag: etag, length: length, into: key, uploadID: uploadID, firstPart: nextPartNumber)
        results.withLock { state in
            for part in copied { state.etags[part.number] = part.etag }
        }
        nextPartNumber += copied.count
        total = length
    }

    // MARK: Writing

    private func createMultipartUpload() throws(StorageError) {
        let response = try client.send(S3Client.Request(operation: .createMultipartUpload, bucket: key.bucket, key: key.key, query: [("uploads", "")],
                                                        body: UnsafeRawBufferPointer(start: nil, count: 0)))
        guard let id = S3XML.uploadID(response.body) else { throw .io(detail: "CreateMultipartUpload: no UploadId") }
        uploadID = id
        S3UploadsInProgress.begun(id, key: key, client: client)
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
        digest(bytes)
        var offset = 0
        while offset < bytes.count {
            let buffer: UnsafeMutableRawBufferPointer
            do throws(StorageError) {
                buffer = try currentBuffer()
            } catch {
                abort()
                throw error
            }
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

    private func digest(_ bytes: UnsafeRawBufferPointer) {
        guard let digests = wholeObjectDigests else { return }
        do throws(DigestError) {
            try digests.md5.update(bytes)
            try digests.sha256.update(bytes)
        } catch {
            wholeObjectDigests = nil
        }
    }

    /// The metadata to store with the object: its digests, when every byte passed here, and the
    /// modification time a client set.
    private func finalMetadata() -> [String: String] {
        if checksums == nil {
            // Finished once: a digest finished twice gives a wrong answer, and a commit refused by
            // its condition is sent again.
            checksums = [:]
            if let digests = wholeObjectDigests, let md5 = try? digests.md5.finish(), let sha256 = try? digests.sha256.finish() {
                checksums = StoredMetadata.checksums(md5: md5, sha256: sha256)
            }
        }
        var metadata = checksums ?? [:]
        if let modificationTime {
            metadata[StoredMetadata.modificationTimeKey] = StoredMetadata.modificationTimeValue(modificationTime)
        }
        return metadata
    }

    func recordModificationTime(_ date: Date) -> Bool {
        guard !finished else { return false }
        modificationTime = date
        return true
    }

    /// Sends the full buffer: on a worker (waiting for one of the upload's `concurrency` slots) while
    /// a second buffer fills, or, when no memory is free for a second buffer, from this thread.
    private func sendPart() throws(StorageError) {
        if uploadID == nil { try createMultipartUpload() }
        _ = try currentBuffer()
        let full = buffer!
        slots.wait()
        if let failure {
            slots.signal()
            throw failure
        }
        let partNumber = nextPartNumber
        nextPartNumber += 1
        nonisolated(unsafe) let bytes = UnsafeRawBufferPointer(rebasing: full.bytes[0..<filled])
        let uploadID = self.uploadID!
        guard let next = try takeBuffer(waiting: false) else {
            // The budget is spent: this upload goes on with the one buffer it holds.
            defer { slots.signal() }
            let etag = try Self.uploadPart(client: client, key: key, uploadID: uploadID, number: partNumber, bytes: bytes)
            results.withLock { $0.etags[partNumber] = etag }
            filled = 0
            return
        }
        buffer = next
        filled = 0
        let client = self.client
        let key = self.key
        let results = self.results
        let slots = self.slots
        let group = self.inFlight
        let spares = self.spares
        group.enter()
        client.settings.partWorkers.submit {
            defer {
                spares.put(full)
                slots.signal()
                group.leave()
            }
            do throws(StorageError) {
                let etag = try Self.uploadPart(client: client, key: key, uploadID: uploadID, number: partNumber, bytes: bytes)
                results.withLock { $0.etags[partNumber] = etag }
            } catch {
                results.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
    }

    /// UploadPart of one part; returns its ETag.
    private static func uploadPart(client: S3Client, key: ObjectKey, uploadID: String, number: Int,
                                   bytes: UnsafeRawBufferPointer) throws(StorageError) -> String {
        let response = try client.send(S3Client.Request(
            operation: .uploadPart, bucket: key.bucket, key: key.key,
            query: [("partNumber", "\(number)"), ("uploadId", uploadID)],
            body: bytes, payloadHash: Digest.hex(try digesting { () throws(DigestError) in try Digest.sha256(bytes) })))
        guard let etag = response.headers["etag"] else { throw StorageError.io(detail: "UploadPart: no ETag") }
        return etag
    }

    func commit() throws(StorageError) -> UInt64 {
        guard !finished else { throw .aborted }
        return try abortingOnFailure { () throws(StorageError) -> UInt64 in try publish() }
    }

    func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 {
        if let expected {
            condition = expected.etag.map { .matching(etag: $0) } ?? .none
        } else {
            condition = .absent
        }
        return try commit()
    }

    /// Whether `found` (the object under the key after a refused commit) is this upload itself: a
    /// PutObject that was stored but whose answer was lost, so that its retry was refused by the
    /// condition. Same size and the same SHA-256 in its metadata; the upload is then published.
    func isPublished(as found: ObjectMetadata) -> Bool {
        guard uploadID == nil, !finished, found.size == total,
              let sha256 = finalMetadata()[StoredMetadata.sha256Key], found.userMetadata[StoredMetadata.sha256Key] == sha256
        else { return false }
        finished = true
        published = found
        releaseBuffers()
        return true
    }

    private enum PublishCondition {
        case none, absent, matching(etag: String)
        var isMatching: Bool {
            if case .matching = self { return true }
            return false
        }
        /// Whether the store may refuse the publish (412) rather than just take it.
        var isConditional: Bool {
            if case .none = self { return false }
            return true
        }
        var headers: [(String, String)] {
            switch self {
            case .none: []
            case .absent: [("if-none-match", "*")]
            case .matching(let etag): [("if-match", etag)]
            }
        }
    }

    /// Sends a PutObject or CompleteMultipartUpload under `condition`; a refused condition is
    /// `.objectExists`, leaving the upload as it was. Refused means 412 (PreconditionFailed), and
    /// for PutObject also 409 ConditionalRequestConflict (a conditional write racing another); a
    /// 409 on CompleteMultipartUpload ends that upload (AWS), and the other conflicts (NoSuchUpload,
    /// InvalidPart) are failures.
    private func sendPublishing(_ request: S3Client.Request, document: String? = nil) throws(StorageError) -> S3Response {
        var request = request
        request.headers += condition.headers
        do throws(StorageError) {
            if let document { return try client.send(request, document: document) }
            return try client.send(request)
        } catch .conflict(let detail) where condition.isConditional && Self.refusedCondition(detail, completing: document != nil) {
            client.logger.debug("s3 upload refused by its condition", metadata: ["key": "\(key)", "detail": "\(detail)"])
            throw .objectExists(key: key.key)
        } catch .notFound where document == nil && condition.isMatching {
            // If-Match on an object deleted since the check: refused as well, checked again.
            throw .objectExists(key: key.key)
        }
    }

    /// The error's detail ends with the status and S3 error code (`S3Client.storageError`); only
    /// the end is looked at, since the key comes before it.
    private static func refusedCondition(_ detail: String, completing: Bool) -> Bool {
        detail.hasSuffix(": HTTP 412 PreconditionFailed") || detail.hasSuffix(": HTTP 412 ")
            || (!completing && detail.hasSuffix(" ConditionalRequestConflict"))
    }

    private func publish() throws(StorageError) -> UInt64 {
        if uploadID == nil {
            // One part or less: a single PutObject.
            let body = buffer.map { UnsafeRawBufferPointer(rebasing: $0.bytes[0..<filled]) }
                ?? UnsafeRawBufferPointer(start: nil, count: 0)
            let metadata = finalMetadata()
            let response = try sendPublishing(S3Client.Request(
                operation: .putObject, bucket: key.bucket, key: key.key,
                headers: StoredMetadata.headers(metadata), body: body,
                payloadHash: Digest.hex(try digesting { () throws(DigestError) in try Digest.sha256(body) })))
            published = response.headers["etag"].map {
                ObjectMetadata(key: key, size: total, modified: Date(), etag: $0, userMetadata: metadata)
            }
            finished = true
            releaseBuffers()
            return total
        }
        if filled > 0 || nextPartNumber == 1 { try sendPart() }
        inFlight.wait()
        if let failure { throw failure }
        let parts = results.withLock { $0.etags }.sorted { $0.key < $1.key }.map { (number: $0.key, etag: $0.value) }
        let response = try sendPublishing(S3Client.Request(operation: .completeMultipartUpload, bucket: key.bucket, key: key.key,
                                                           query: [("uploadId", uploadID!)]),
                                          document: S3XML.completeMultipart(parts))
        // CompleteMultipartUpload can fail inside a 200 answer.
        if let error = S3XML.error(response.body) {
            if error.code == "PreconditionFailed", condition.isConditional {
                throw .objectExists(key: key.key)
            }
            throw StorageError.unavailable(detail: "CompleteMultipartUpload: \(error.code)")
        }
        finished = true
        S3UploadsInProgress.ended(uploadID!)
        releaseBuffers()
        client.logger.debug("s3 multipart upload completed", metadata: ["key": "\(key)", "parts": "\(parts.count)", "bytes": "\(total)"])
        storeMetadataAfterMultipart(etag: S3XML.etag(response.body))
        return total
    }

    /// A multipart upload's metadata must be given when it starts, before its digests (and perhaps
    /// its modification time) exist: they are written afterwards by a server-side copy onto itself,
    /// pinned to this upload's ETag. The object is already published: a failure here only leaves it
    /// without stored digests (logged; checksums are then computed by reading) or time.
    private func storeMetadataAfterMultipart(etag: String?) {
        let metadata = finalMetadata()
        guard !metadata.isEmpty else { return }
        guard let etag else {
            client.logger.warning("checksums and time not stored: CompleteMultipartUpload gave no ETag", metadata: ["key": "\(key)"])
            return
        }
        do throws(StorageError) {
            try client.replaceMetadata(of: key, size: total, etag: etag, with: metadata)
        } catch {
            client.logger.warning("checksums and time not stored in the object's metadata", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    func abort() {
        guard !finished else { return }
        finished = true
        inFlight.wait()
        releaseBuffers()
        guard let uploadID else { return }
        // The registry keeps the upload until the abort is through: a stop that cannot wait for
        // this thread (S3 slow to answer) aborts it again.
        do throws(StorageError) {
            try client.abortMultipartUpload(key, uploadID: uploadID)
            S3UploadsInProgress.ended(uploadID)
            client.logger.debug("s3 multipart upload aborted", metadata: ["key": "\(key)"])
        } catch .notFound, .conflict {
            S3UploadsInProgress.ended(uploadID)  // NoSuchUpload: aborted already (by a stop, or a reaper)
        } catch {
            client.logger.error("could not abort a multipart upload (a lifecycle rule should clean it up)",
                                metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }
}
