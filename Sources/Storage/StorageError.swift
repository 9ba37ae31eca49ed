/// Every failure a storage driver reports. Protocol adapters map these once, exhaustively, to FTP
/// replies and SFTP statuses; the `detail` strings are for the log only, never for clients.
public enum StorageError: Error, Sendable, Equatable {
    /// The object does not exist (S3 NoSuchKey, ENOENT).
    case notFound(key: String)
    /// The bucket does not exist or is not reachable under this name (S3 NoSuchBucket).
    case bucketNotFound(bucket: String)
    /// The store refused the credentials or the operation (S3 AccessDenied, EACCES).
    case accessDenied(detail: String)
    /// The key cannot be stored because of what is already there (a file where a directory is needed).
    case conflict(detail: String)
    /// An upload begun with `UploadOptions.onlyIfAbsent` found an object under its key when it
    /// was to be published (S3 412 to `If-None-Match: *`); nothing was published.
    case objectExists(key: String)
    /// The object would exceed the configured maximum object size.
    case objectTooLarge(limit: UInt64)
    /// The store is out of space or over a quota (ENOSPC, EDQUOT, S3 EntityTooLarge).
    case insufficientSpace(detail: String)
    /// The key is not acceptable to this store (too long, a character the store cannot hold).
    case invalidKey(detail: String)
    /// The store asked us to slow down and retries did not help (S3 SlowDown, 503).
    case throttled(detail: String)
    /// The store could not be reached or failed (network error, 5xx after retries, timeouts).
    case unavailable(detail: String)
    /// A local I/O error not covered above.
    case io(detail: String)
    /// The driver cannot do this (for example keeping a prefix on a store that cannot compose).
    case unsupported(detail: String)
    /// The upload or read was aborted by its owner.
    case aborted
}

extension StorageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notFound(let key): "no such object: \(key)"
        case .bucketNotFound(let bucket): "no such bucket: \(bucket)"
        case .accessDenied(let detail): "access denied: \(detail)"
        case .conflict(let detail): "conflict: \(detail)"
        case .objectExists(let key): "an object appeared under \(key)"
        case .objectTooLarge(let limit): "object larger than the limit of \(limit) bytes"
        case .insufficientSpace(let detail): "insufficient space: \(detail)"
        case .invalidKey(let detail): "invalid key: \(detail)"
        case .throttled(let detail): "throttled: \(detail)"
        case .unavailable(let detail): "storage unavailable: \(detail)"
        case .io(let detail): "I/O error: \(detail)"
        case .unsupported(let detail): "unsupported: \(detail)"
        case .aborted: "aborted"
        }
    }
}
