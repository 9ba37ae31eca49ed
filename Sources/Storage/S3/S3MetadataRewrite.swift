import Foundation

extension S3Client {
    /// Replaces an object's user metadata without downloading it, pinned to the version that was
    /// just written (`etag`, If-Match): CopyObject onto itself with the REPLACE directive up to
    /// 5 GiB; above, a multipart copy onto itself whose CreateMultipartUpload carries the metadata.
    /// The bytes stay as they are; S3 gives the object a new ETag and Last-Modified.
    func replaceMetadata(of key: ObjectKey, size: UInt64, etag: String, with metadata: [String: String]) throws(StorageError) {
        if size <= S3Limits.maxCopySize {
            let response = try send(Request(
                operation: .copyObject, bucket: key.bucket, key: key.key,
                headers: [("x-amz-copy-source", S3Driver.copySource(key)), ("x-amz-copy-source-if-match", etag),
                          ("x-amz-metadata-directive", "REPLACE")] + StoredMetadata.headers(metadata),
                body: UnsafeRawBufferPointer(start: nil, count: 0)))
            if let error = S3XML.error(response.body) { throw .unavailable(detail: "CopyObject: \(error.code)") }
            return
        }
        let created = try send(Request(operation: .createMultipartUpload, bucket: key.bucket, key: key.key, query: [("uploads", "")],
                                       headers: StoredMetadata.headers(metadata), body: UnsafeRawBufferPointer(start: nil, count: 0)))
        guard let uploadID = S3XML.uploadID(created.body) else { throw .io(detail: "CreateMultipartUpload: no UploadId") }
        do throws(StorageError) {
            let parts = try copyParts(of: key, etag: etag, length: size, into: key, uploadID: uploadID, firstPart: 1)
            // If-Match: the parts were copied from `etag`; should the key have been replaced since,
            // completing would put the old bytes back (stores that ignore the header behave as before).
            let response = try send(Request(operation: .completeMultipartUpload, bucket: key.bucket, key: key.key,
                                            query: [("uploadId", uploadID)], headers: [("if-match", etag)]),
                                    document: S3XML.completeMultipart(parts))
            if let error = S3XML.error(response.body) { throw .unavailable(detail: "CompleteMultipartUpload: \(error.code)") }
        } catch {
            _ = try? send(Request(operation: .abortMultipartUpload, bucket: key.bucket, key: key.key, query: [("uploadId", uploadID)]))
            throw error
        }
    }
}
