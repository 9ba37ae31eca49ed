import Storage

/// Every failure of a session operation. Each protocol maps these once, exhaustively, to its wire form
/// (`FTPReply`, `SFTPStatus`); the associated details are for the log.
public enum SessionError: Error, Sendable, Equatable {
    case invalidPath(PathError)
    case notFound(String)
    case alreadyExists(String)
    case notADirectory(String)
    case isADirectory(String)
    case directoryNotEmpty(String)
    case permissionDenied(FileOperation, String)
    /// The path is `/`, a folder binding's root or one of its parents: it cannot be removed or renamed.
    case bindingRoot(String)
    /// A directory cannot be moved into itself.
    case renameIntoItself(String)
    /// A resume offset lies beyond the end of the file.
    case offsetBeyondEnd(requested: UInt64, size: UInt64)
    case storage(StorageError)
    /// A binding names a storage that is not configured (a configuration bug caught at startup).
    case unknownStorage(String)
    /// A checksum would mean reading more than `[limits] max_hash_size`.
    case tooLargeToHash(path: String, size: UInt64, limit: UInt64)
}

extension SessionError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidPath(let error): "invalid path: \(error)"
        case .notFound(let path): "\(path): no such file or directory"
        case .alreadyExists(let path): "\(path): already exists"
        case .notADirectory(let path): "\(path): not a directory"
        case .isADirectory(let path): "\(path): is a directory"
        case .directoryNotEmpty(let path): "\(path): directory not empty"
        case .permissionDenied(let operation, let path): "\(path): \(operation.rawValue) not permitted"
        case .bindingRoot(let path): "\(path): a mount point cannot be changed"
        case .renameIntoItself(let path): "\(path): cannot move a directory into itself"
        case .offsetBeyondEnd(let requested, let size): "offset \(requested) is beyond the end (\(size) bytes)"
        case .storage(let error): error.description
        case .unknownStorage(let name): "unknown storage \(name)"
        case .tooLargeToHash(let path, let size, let limit): "\(path): \(size) bytes is more than max_hash_size (\(limit))"
        }
    }
}
