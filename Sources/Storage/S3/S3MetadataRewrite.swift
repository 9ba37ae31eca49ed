import Foundation

extension S3Client {
    /// Replaces an object's user metadata without downloading it, pinned to the version that was
    /// just written (`etag`, If-Match): CopyObject onto itself with the REPLACE directive up to
    /// 5 GiB; above, a multipart copy onto itself whose CreateMultipartUpload carries the metadata.
    /// The bytes stay as they are; S3 gives the object a new ETag and Last-Modified. `system`
    /// (`ObjectMetadata.systemMetadata`: Content-Type, storage class, KMS encryption…) is sent again,
    /// since REPLACE would drop it.
    func replaceMetadata(of key: ObjectKey, size: UInt64, etag: String, with metadata: [String: String],
                         keeping system: [(String, String)] = []) throws(StorageError) {
        if size <= S3Limits.maxCopySize {
            try copyObject(key, to: key, headers: [("x-amz-copy-source-if-match", etag), ("x-amz-metadata-directive", "REPLACE")]
                                                  + system + StoredMetadata.headers(metadata))
            return
        }
        // If-Match on the completion: the parts were copied from `etag`; should the key have been
        // replaced since, completing would put the old bytes back (stores that ignore the header
        // behave as before).
        try multipartCopy(key, etag: etag, length: size, to: key, metadata: metadata, headers: system, completeIfMatch: etag)
    }
}
