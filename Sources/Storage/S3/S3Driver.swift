import Locking
import Foundation
import Timestamps
import Logging
import Digests

/// The S3-compatible driver (AWS S3, Tencent COS, R2, MinIO, SeaweedFS, Ceph): libcurl as transport,
/// SigV4 signed in Swift, XML parsed with XMLParser. Costs are one request per call unless noted.
public final class S3Driver: StorageDriver {
    let client: S3Client
    public let capabilities: StorageCapabilities
    let listingTimes: S3ListingTimeCache

    public init(settings: S3Settings, logger: Logger) throws(StorageError) {
        self.client = try S3Client(settings: settings, logger: logger)
        self.capabilities = StorageCapabilities(maxObjectSize: settings.maxObjectSize, createsOnlyIfAbsent: settings.conditionalWrites)
        self.listingTimes = S3ListingTimeCache(source: settings.listingTimes)
    }

    /// `x-amz-copy-source`: `/bucket/key`, URL-encoded.
    static func copySource(_ key: ObjectKey) -> String {
        "/" + key.bucket + "/" + S3Signer.uriEncode(key.key, keepSlash: true)
    }

    public func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata? {
        let response: S3Response
        do throws(StorageError) {
            response = try client.send(S3Client.Request(operation: .headObject, bucket: key.bucket, key: key.key))
        } catch .notFound {
            return nil
        }
        return Self.objectMetadata(key, headers: response.headers)
    }

    /// The object a HeadObject answer's headers describe.
    static func objectMetadata(_ key: ObjectKey, headers: [String: String]) -> ObjectMetadata {
        var metadata = ObjectMetadata(key: key, size: UInt64(headers["content-length"] ?? "") ?? 0,
                                      modified: headers["last-modified"].flatMap(UTCTime.parseHTTPDate) ?? Date(),
                                      etag: headers["etag"], userMetadata: StoredMetadata.userMetadata(headers),
                                      etagMD5: contentMD5(fromETagIn: headers))
        metadata.systemMetadata = StoredMetadata.systemMetadata(headers)
        return metadata
    }

    /// The MD5 a single-part ETag (32 hex digits, no `-n`) is, unless the object is encrypted with
    /// KMS or a customer key (S3 ETag documentation).
    static func contentMD5(fromETagIn headers: [String: String]) -> [UInt8]? {
        guard let etag = headers["etag"] else { return nil }
        if let encryption = headers["x-amz-server-side-encryption"], encryption.hasPrefix("aws:kms") { return nil }
        if headers["x-amz-server-side-encryption-customer-algorithm"] != nil { return nil }
        let hex = String(decoding: bareETag(etag), as: UTF8.self)
        guard hex.utf8.count == 32 else { return nil }
        return StoredMetadata.bytes(hex: hex)
    }

    /// An ETag without its quotes (stores quote them in some answers and not in others).
    static func bareETag(_ etag: String) -> [UInt8] { etag.utf8.filter { $0 != UInt8(ascii: "\"") } }

    public func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage {
        var query = [("list-type", "2"), ("prefix", prefix.key), ("max-keys", "\(max(1, min(limit, 1000)))")]
        if let delimiter { query.append(("delimiter", String(delimiter))) }
        if let after { query.append(("continuation-token", after.token)) }
        let response = try client.send(S3Client.Request(operation: .listObjects, bucket: prefix.bucket, query: query))
        guard let result = S3XML.listResult(response.body) else { throw .io(detail: "ListObjectsV2: unreadable answer") }
        let objects = result.objects.map {
            ObjectMetadata(key: ObjectKey(bucket: prefix.bucket, key: $0.key), size: $0.size, modified: $0.modified, etag: $0.etag)
        }
        return ListPage(objects: objects, commonPrefixes: result.commonPrefixes, next: result.nextToken.map { ListCursor(token: $0) })
    }

    public func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader {
        try S3ObjectReader(client: client, key: key, offset: offset)
    }

    public func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload {
        listingTimes.forgetDirectoryTimes([key])  // a marker written anew holds no time
        return try S3ObjectUpload(client: client, key: key, keepingPrefix: options.keepingPrefix,
                           onlyIfAbsent: options.onlyIfAbsent && capabilities.createsOnlyIfAbsent)
    }

    /// CopyObject up to 5 GiB; above, a multipart upload of UploadPartCopy ranges carrying the
    /// source's metadata (CopyObject's COPY directive keeps it by itself).
    public func copy(_ source: ObjectKey, to target: ObjectKey) throws(StorageError) {
        listingTimes.forgetDirectoryTimes([target])
        guard let info = try metadata(source) else { throw .notFound(key: source.key) }
        if info.size <= S3Limits.maxCopySize {
            try client.copyObject(source, to: target, headers: [("x-amz-metadata-directive", "COPY")])
            return
        }
        try client.multipartCopy(source, etag: info.etag ?? "", length: info.size, to: target, metadata: info.userMetadata,
                                 headers: info.systemMetadata)
    }

    /// DeleteObjects in batches of 1,000 (one key: DeleteObject). Missing keys are not an error.
    public func delete(_ keys: [ObjectKey]) throws(StorageError) {
        listingTimes.forgetDirectoryTimes(keys)
        var byBucket: [String: [String]] = [:]
        for key in keys { byBucket[key.bucket, default: []].append(key.key) }
        for (bucket, names) in byBucket {
            var start = 0
            while start < names.count {
                let batch = Array(names[start..<min(start + S3Limits.maxDeleteBatch, names.count)])
                start += batch.count
                if batch.count == 1 {
                    do throws(StorageError) {
                        _ = try client.send(S3Client.Request(operation: .deleteObject, bucket: bucket, key: batch[0]))
                    } catch .notFound {
                        continue
                    }
                    continue
                }
                let document = S3XML.deleteObjects(batch)
                let md5 = Data(try digesting { () throws(DigestError) in try Digest.md5(Array(document.utf8)) }).base64EncodedString()
                let response = try client.send(S3Client.Request(operation: .deleteObjects, bucket: bucket, query: [("delete", "")],
                                                                headers: [("content-md5", md5)]),
                                               document: document)
                let failures = (S3XML.deleteErrors(response.body) ?? []).filter { $0.code != "NoSuchKey" }
                if let first = failures.first {
                    throw .unavailable(detail: "DeleteObjects: \(failures.count) keys not deleted, first \(first.key): \(first.code)")
                }
            }
        }
    }

    public func setModificationTime(of current: ObjectMetadata, to modified: Date) throws(StorageError) {
        guard let etag = current.etag else { throw .unavailable(detail: "HeadObject gave no ETag") }
        var kept = current.userMetadata
        kept[StoredMetadata.modificationTimeKey] = StoredMetadata.modificationTimeValue(modified)
        do throws(StorageError) {
            try client.replaceMetadata(of: current.key, size: current.size, etag: etag, with: kept, keeping: current.systemMetadata)
        } catch .notFound {
            throw .notFound(key: current.key.key)
        }
    }

    /// HeadObject of the marker, then a metadata rewrite of it (or a PutObject of a new one carrying
    /// the time, only if still absent), then a HeadObject to see that the store kept it: 3
    /// requests, for what clients do once per directory (rclone sync, `sftp put -rp`). A `dir/`
    /// object holding bytes is not a marker: refused, never overwritten. Once the store was seen
    /// dropping a marker's metadata, refused at once (`markersKeepNoMetadata`).
    public func setDirectoryModificationTime(_ marker: ObjectKey, to modified: Date) throws(StorageError) {
        guard !marker.key.isEmpty else { throw .unsupported(detail: "the root of bucket \(marker.bucket) keeps no time") }
        let value = StoredMetadata.modificationTimeValue(modified)
        let notKept = StorageError.unsupported(detail: "\(marker): this store keeps no metadata on directory markers")
        if listingTimes.markersKeepNoMetadata.withLock({ $0 }) { throw notKept }
        // The store was seen dropping it: remembered, so that no marker is read or set again.
        func keptNone() -> StorageError {
            listingTimes.markersKeepNoMetadata.withLock { $0 = true }
            return notKept
        }
        if let existing = try metadata(marker) {
            guard existing.size == 0 else { throw .conflict(detail: "\(marker) holds data: not a directory marker") }
            do throws(StorageError) {
                try setModificationTime(of: existing, to: modified)
            } catch .notFound {
                // SeaweedFS answers HEAD for its directories but cannot copy them.
                throw keptNone()
            }
        } else {
            let upload = try beginUpload(marker, options: UploadOptions(onlyIfAbsent: true))
            _ = upload.recordModificationTime(modified)
            do throws(StorageError) {
                try upload.commit()
            } catch .objectExists {
                upload.abort()
                throw .conflict(detail: "\(marker) appeared meanwhile")
            }
        }
        guard try metadata(marker)?.userMetadata[StoredMetadata.modificationTimeKey] == value else { throw keptNone() }
        listingTimes.rememberDirectoryTime(marker, modified)
    }

    /// Pending multipart uploads under a prefix (ListMultipartUploads): for tests and operators.
    public func pendingUploads(bucket: String, prefix: String = "") throws(StorageError) -> [String] {
        let response = try client.send(S3Client.Request(operation: .listMultipartUploads, bucket: bucket, query: [("uploads", ""), ("prefix", prefix)]))
        return (S3XML.pendingUploads(response.body)?.uploads ?? []).map(\.key)
    }
}

extension S3Driver {
    public func addStoredTimes(to objects: inout [ObjectMetadata]) {
        listingTimes.complete(&objects, client: client)
    }

    public func directoryTimes(of markers: [ObjectKey], forListing: Bool) -> [Date?] {
        listingTimes.directoryTimes(markers, forListing: forListing, client: client)
    }
}
