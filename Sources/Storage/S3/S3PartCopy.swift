import Foundation

extension S3Client {
    /// AbortMultipartUpload of `uploadID` on `key` (one request).
    func abortMultipartUpload(_ key: ObjectKey, uploadID: String) throws(StorageError) {
        _ = try send(Request(operation: .abortMultipartUpload, bucket: key.bucket, key: key.key, query: [("uploadId", uploadID)]))
    }

    /// CopyObject of `source` onto `target`; `headers` carry the metadata directive (and the
    /// metadata and pins it needs). A CopyObject can fail inside a 200 answer.
    func copyObject(_ source: ObjectKey, to target: ObjectKey, headers: [(String, String)]) throws(StorageError) {
        let response = try send(Request(operation: .copyObject, bucket: target.bucket, key: target.key,
                                         headers: [("x-amz-copy-source", S3Driver.copySource(source))] + headers,
                                         body: UnsafeRawBufferPointer(start: nil, count: 0)))
        if let error = S3XML.error(response.body) { throw .unavailable(detail: "CopyObject: \(error.code)") }
    }

    /// A multipart copy of `source`'s first `length` bytes (pinned to `etag`) onto `target`, for
    /// objects above CopyObject's 5 GiB. A multipart copy does not carry the source's metadata by
    /// itself: `metadata` goes to CreateMultipartUpload. `completeIfMatch` pins the completion to
    /// the target's version (when the target is the source). Aborted on any failure.
    func multipartCopy(_ source: ObjectKey, etag: String, length: UInt64, to target: ObjectKey,
                       metadata: [String: String], headers system: [(String, String)] = [],
                       completeIfMatch: String? = nil) throws(StorageError) {
        let created = try send(Request(operation: .createMultipartUpload, bucket: target.bucket, key: target.key,
                                       query: [("uploads", "")], headers: system + StoredMetadata.headers(metadata),
                                       body: UnsafeRawBufferPointer(start: nil, count: 0)))
        guard let uploadID = S3XML.uploadID(created.body) else { throw .io(detail: "CreateMultipartUpload: no UploadId") }
        // A copy of gigabytes takes minutes of UploadPartCopy: a stop that cannot wait aborts it.
        S3UploadsInProgress.begun(uploadID, key: target, client: self)
        defer { S3UploadsInProgress.ended(uploadID) }
        do throws(StorageError) {
            let parts = try copyParts(of: source, etag: etag, length: length, into: target, uploadID: uploadID, firstPart: 1)
            let response = try send(Request(operation: .completeMultipartUpload, bucket: target.bucket, key: target.key,
                                            query: [("uploadId", uploadID)],
                                            headers: completeIfMatch.map { [("if-match", $0)] } ?? []),
                                    document: S3XML.completeMultipart(parts))
            if let error = S3XML.error(response.body) { throw .unavailable(detail: "CompleteMultipartUpload: \(error.code)") }
        } catch {
            try? abortMultipartUpload(target, uploadID: uploadID)
            throw error
        }
    }

    /// Largest range one UploadPartCopy asks for. S3 allows 5 GiB, but a copy request answers only
    /// when the whole range is copied: 1 GiB keeps each request well inside the stall timeout, and
    /// 5 TiB still fits in 5,120 parts.
    static let copyPartSize: UInt64 = 1 << 30

    /// Copies the first `length` bytes of `source` server-side (UploadPartCopy) into the parts
    /// `firstPart`, `firstPart + 1`, … of the multipart upload `uploadID` of `target`, and returns
    /// their numbers and ETags. Every request is pinned to `etag` with If-Match, so that a source
    /// replaced meanwhile fails the copy instead of mixing two versions. The parts differ in size
    /// by at most one byte (none above `maxPartSize`), so that none is below S3's minimum part size
    /// when `length` is at least that minimum and `maxPartSize` at least twice it. The one copy loop of the driver:
    /// used by rename/copy of large objects and by resume, which keeps an existing prefix.
    func copyParts(of source: ObjectKey, etag: String, length: UInt64, into target: ObjectKey, uploadID: String,
                   firstPart: Int, maxPartSize: UInt64 = copyPartSize) throws(StorageError) -> [(number: Int, etag: String)] {
        var parts: [(number: Int, etag: String)] = []
        for range in Self.copyRanges(length: length, maxPartSize: maxPartSize) {
            let (start, end) = (range.lowerBound, range.upperBound)
            let number = firstPart + parts.count
            let response = try send(Request(
                operation: .uploadPartCopy, bucket: target.bucket, key: target.key,
                query: [("partNumber", "\(number)"), ("uploadId", uploadID)],
                headers: [("x-amz-copy-source", S3Driver.copySource(source)), ("x-amz-copy-source-range", "bytes=\(start)-\(end)"),
                          ("x-amz-copy-source-if-match", etag)],
                body: UnsafeRawBufferPointer(start: nil, count: 0)))
            guard let partETag = S3XML.etag(response.body) else {
                throw S3XML.error(response.body).map { .unavailable(detail: "UploadPartCopy: \($0.code)") }
                    ?? .io(detail: "UploadPartCopy: no ETag")
            }
            parts.append((number, partETag))
        }
        return parts
    }

    /// The byte ranges (inclusive) of `copyParts`: as few as `maxPartSize` allows, their sizes
    /// differing by at most one byte (the first `length % count` get the extra byte).
    static func copyRanges(length: UInt64, maxPartSize: UInt64) -> [ClosedRange<UInt64>] {
        guard length > 0, maxPartSize > 0 else { return [] }
        let count = (length + maxPartSize - 1) / maxPartSize
        let (base, longer) = (length / count, length % count)
        var ranges: [ClosedRange<UInt64>] = []
        var start: UInt64 = 0
        for index in 0..<count {
            let size = base + (index < longer ? 1 : 0)
            ranges.append(start...(start + size - 1))
            start += size
        }
        return ranges
    }

    /// How long to wait before retry number `attempt` (1, 2, …) of a failed request or an
    /// interrupted download: exponential back-off from 0.2 s, capped at 5 s, with jitter (a random
    /// half to whole of the step) so that gateways do not retry in lockstep.
    static func retryDelay(attempt: Int) -> TimeInterval {
        let ceiling = min(5.0, 0.2 * pow(2.0, Double(max(1, attempt) - 1)))
        return Double.random(in: ceiling / 2...ceiling)
    }
}
