import Foundation

extension S3Client {
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
