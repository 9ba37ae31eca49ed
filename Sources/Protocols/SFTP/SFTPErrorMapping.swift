import Storage

/// The one place where session and storage errors become SFTP statuses (draft-02 §7). Exhaustive and
/// without `default`: a new error case does not compile until SFTP decides its status. The message
/// is short and fixed; the full reason goes to the log.
enum SFTPErrorMapping {
    static func status(for error: SessionError) -> (SFTPStatusCode, String) {
        switch error {
        case .invalidPath: (.badMessage, "Invalid path")
        case .notFound: (.noSuchFile, "No such file")
        case .alreadyExists: (.failure, "File exists")
        // As OpenSSH's sftp-server maps ENOTDIR: clients read NO_SUCH_FILE on OPENDIR as "not a
        // directory" (fs.sshfs, and tree removal and moves that probe with OPENDIR).
        case .notADirectory: (.noSuchFile, "Not a directory")
        case .isADirectory: (.failure, "Is a directory")
        case .directoryNotEmpty: (.failure, "Directory not empty")
        case .permissionDenied: (.permissionDenied, "Permission denied")
        case .bindingRoot: (.permissionDenied, "Permission denied: mount point")
        case .renameIntoItself: (.failure, "Cannot move a directory into itself")
        case .offsetBeyondEnd: (.failure, "Offset beyond the end of the file")
        case .unknownStorage: (.failure, "Storage is not configured correctly")
        case .tooLargeToHash: (.failure, "File too large to hash (max_hash_size)")
        case .storage(let storageError): status(for: storageError)
        }
    }

    static func status(for error: StorageError) -> (SFTPStatusCode, String) {
        switch error {
        case .notFound: (.noSuchFile, "No such file")
        case .bucketNotFound: (.noSuchFile, "Storage bucket not available")
        case .accessDenied: (.permissionDenied, "Permission denied by storage")
        case .conflict: (.failure, "Conflicts with an existing file or directory")
        case .objectExists: (.failure, "A file of that name appeared meanwhile")
        case .objectTooLarge: (.failure, "File exceeds the maximum allowed size")
        case .insufficientSpace: (.failure, "Insufficient storage space")
        case .invalidKey: (.badMessage, "File name not allowed by storage")
        case .throttled: (.failure, "Storage is busy, try again later")
        case .unavailable: (.failure, "Storage unavailable, try again later")
        case .io: (.failure, "Local error")
        case .unsupported: (.operationUnsupported, "Not supported by this storage")
        case .aborted: (.failure, "Operation aborted")
        }
    }
}
