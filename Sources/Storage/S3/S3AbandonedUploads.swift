import Foundation

/// The orphaned-upload reaper's S3 side (issue 12, part 6): multipart uploads that a killed gateway
/// left pending cost storage until someone aborts them, and S3 never does by itself (without a
/// lifecycle rule, which operators of COS and MinIO rarely have).
extension S3Driver {
    /// Aborts the multipart uploads under `scope` initiated before `cutoff` whose parts, if any, are
    /// all older than `cutoff` too: an upload still receiving parts (a long upload by a live
    /// instance) is active whatever its age. Costs one ListMultipartUploads per 1,000 pending
    /// uploads, one ListParts per old one, one AbortMultipartUpload per abandoned one. An upload that
    /// disappears meanwhile (completed, or aborted by another instance) is skipped.
    public func abortAbandonedUploads(in scope: ObjectKey, idleSince cutoff: Date) throws(StorageError) -> [AbandonedUpload] {
        var aborted: [AbandonedUpload] = []
        var marker: (keyMarker: String, uploadIDMarker: String)?
        var pages = 0
        repeat {
            // A server whose markers cycle would keep this loop going: 10,000 pages (10 million
            // pending uploads) is far beyond any real bucket.
            pages += 1
            if pages > Self.maxListingPages { break }
            var query = [("uploads", ""), ("prefix", scope.key)]
            if let marker { query += [("key-marker", marker.keyMarker), ("upload-id-marker", marker.uploadIDMarker)] }
            let response = try client.send(S3Client.Request(operation: .listMultipartUploads, bucket: scope.bucket, query: query))
            guard let page = S3XML.pendingUploads(response.body) else {
                throw .unavailable(detail: "ListMultipartUploads: unreadable answer")
            }
            for upload in page.uploads {
                // No Initiated date: not enough to call it abandoned.
                guard let initiated = upload.initiated, initiated < cutoff, !upload.key.isEmpty, !upload.uploadID.isEmpty else { continue }
                let key = ObjectKey(bucket: scope.bucket, key: upload.key)
                do throws(StorageError) {
                    guard try lastPartActivity(key, uploadID: upload.uploadID).map({ $0 < cutoff }) ?? true else { continue }
                    try client.abortMultipartUpload(key, uploadID: upload.uploadID)
                    aborted.append(AbandonedUpload(key: key, uploadID: upload.uploadID, initiated: initiated))
                } catch .notFound, .conflict {
                    continue  // NoSuchUpload: finished or aborted by someone else meanwhile
                }
            }
            // A server that says "truncated" without moving the marker would loop forever.
            if let next = page.next, let previous = marker, next == previous { break }
            marker = page.next
        } while marker != nil
        return aborted
    }

    static let maxListingPages = 10_000

    /// The newest part's LastModified (ListParts, every page); nil when no part was uploaded.
    private func lastPartActivity(_ key: ObjectKey, uploadID: String) throws(StorageError) -> Date? {
        var newest: Date?
        var partMarker: String?
        var pages = 0
        repeat {
            pages += 1
            if pages > Self.maxListingPages { break }
            var query = [("uploadId", uploadID)]
            if let partMarker { query.append(("part-number-marker", partMarker)) }
            let response = try client.send(S3Client.Request(operation: .listParts, bucket: key.bucket, key: key.key, query: query))
            guard let page = S3XML.partsPage(response.body) else { throw .unavailable(detail: "ListParts: unreadable answer") }
            if let latest = page.modified.max() { newest = max(newest ?? latest, latest) }
            if page.nextMarker != nil && page.nextMarker == partMarker { break }  // not advancing: stop
            partMarker = page.nextMarker
        } while partMarker != nil
        return newest
    }
}
