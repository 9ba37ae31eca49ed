import Foundation
import PathRules

/// One object's address inside a storage: the bucket and the full key (`a/b/c.txt`, or `a/b/` for a
/// directory marker). Keys are UTF-8 strings; their order is UTF-8 byte order, as S3 lists them.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// True for a directory marker key (`dir/`).
    public var isDirectoryMarker: Bool { key.utf8.last == KeyBytes.separator }

    public var description: String { "\(bucket)/\(key)" }
}

/// What the store knows about one object, as HeadObject or a listing row reports it.
public struct ObjectMetadata: Sendable, Equatable {
    public var key: ObjectKey
    public var size: UInt64
    public var modified: Date
    public var etag: String?
    /// User metadata (S3 `x-amz-meta-*`, names lower-case without the prefix), from HeadObject only:
    /// listings do not carry it.
    public var userMetadata: [String: String]
    /// The MD5 of the bytes when the ETag is one: a single-part upload stored without KMS or
    /// customer-key encryption (HeadObject says so; S3 documents no other case).
    public var etagMD5: [UInt8]?
    /// The store's own headers that a metadata rewrite must give the object again (S3 CopyObject
    /// with REPLACE keeps none of them): Content-Type, Cache-Control and the like, the storage class,
    /// server-side encryption with KMS. From HeadObject only; names lower-case.
    public var systemMetadata: [(String, String)] = []

    public static func == (lhs: ObjectMetadata, rhs: ObjectMetadata) -> Bool {
        lhs.key == rhs.key && lhs.size == rhs.size && lhs.modified == rhs.modified && lhs.etag == rhs.etag
            && lhs.userMetadata == rhs.userMetadata && lhs.etagMD5 == rhs.etagMD5
            && lhs.systemMetadata.map(\.0) == rhs.systemMetadata.map(\.0) && lhs.systemMetadata.map(\.1) == rhs.systemMetadata.map(\.1)
    }

    /// The modification time a client set (`x-amz-meta-mtime`, rclone's form) when there is one,
    /// else the store's own (S3: when it was written).
    public var effectiveModified: Date { StoredMetadata.modificationTime(in: userMetadata) ?? modified }

    public init(key: ObjectKey, size: UInt64, modified: Date, etag: String? = nil, userMetadata: [String: String] = [:],
                etagMD5: [UInt8]? = nil) {
        self.key = key
        self.size = size
        self.modified = modified
        self.etag = etag
        self.userMetadata = userMetadata
        self.etagMD5 = etagMD5
    }
}

/// Where a listing continues. Opaque to callers: an S3 continuation token or, for the local and
/// in-memory drivers, the last key returned.
public struct ListCursor: Sendable, Equatable {
    public var token: String
    public init(token: String) { self.token = token }
}

/// One page of a listing (ListObjectsV2 semantics): objects whose key starts with the prefix, and with
/// a delimiter the "common prefixes" that roll up deeper keys. `next` is nil on the last page.
public struct ListPage: Sendable {
    public var objects: [ObjectMetadata]
    public var commonPrefixes: [String]
    public var next: ListCursor?

    public init(objects: [ObjectMetadata], commonPrefixes: [String], next: ListCursor?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.next = next
    }
}

/// What a driver can do natively; the session layer picks its algorithms from these.
public struct StorageCapabilities: Sendable, Equatable {
    /// Largest object the driver accepts, if it has a limit (`max_object_size`).
    public var maxObjectSize: UInt64?
    /// Whether the store itself refuses to publish an upload begun with `UploadOptions.onlyIfAbsent`
    /// when an object is under its key by then (S3 `If-None-Match: *`, `[[storage]]
    /// conditional_writes`; local storage links the file into place, which refuses a taken name),
    /// so that a caller may skip asking first.
    public var createsOnlyIfAbsent: Bool

    public init(maxObjectSize: UInt64? = nil, createsOnlyIfAbsent: Bool = false) {
        self.maxObjectSize = maxObjectSize
        self.createsOnlyIfAbsent = createsOnlyIfAbsent
    }
}

/// How an upload starts.
public struct UploadOptions: Sendable, Equatable {
    /// Number of leading bytes of the existing object to keep before the newly written bytes
    /// (REST+STOR resume, APPE). 0 = a fresh object. The existing object must be at least that long.
    public var keepingPrefix: UInt64
    /// Publish only if no object is under the key at commit (needs
    /// `StorageCapabilities.createsOnlyIfAbsent`; ignored otherwise). When one is, `commit` throws
    /// `.objectExists` and leaves the upload as it was: the caller may `commitAgain(expecting:)` or `abort()`.
    public var onlyIfAbsent: Bool

    public init(keepingPrefix: UInt64 = 0, onlyIfAbsent: Bool = false) {
        self.keepingPrefix = keepingPrefix
        self.onlyIfAbsent = onlyIfAbsent
    }
}
