import Storage

/// The one place where session and storage errors become FTP replies (RFC 959 §4.2). Exhaustive and
/// without `default`: a new error case does not compile until FTP decides its reply.
enum FTPErrorMapping {
    /// `verb` is the command that failed, for the one reply that depends on it.
    static func reply(for error: SessionError, verb: String = "") -> (FTPReplyCode, String) {
        switch error {
        case .invalidPath(let reason): (.fileNameNotAllowed, "File name not allowed: \(reason).")
        case .notFound: (.fileUnavailable, "No such file or directory.")
        case .alreadyExists: (.fileUnavailable, "File exists.")
        // RFC 3659 §7.2.1: MLSD of something that is not a directory is a bad argument.
        case .notADirectory where verb == "MLSD": (.syntaxErrorInParameters, "Not a directory: MLSD lists directories (MLST for one entry).")
        case .notADirectory: (.fileUnavailable, "Not a directory.")
        case .isADirectory: (.fileUnavailable, "Is a directory.")
        case .directoryNotEmpty: (.fileUnavailable, "Directory not empty.")
        case .permissionDenied: (.fileUnavailable, "Permission denied.")
        case .bindingRoot: (.fileUnavailable, "Permission denied: this folder is a mount point.")
        case .renameIntoItself: (.fileUnavailable, "Cannot move a directory into itself.")
        case .offsetBeyondEnd: (.invalidRestartPosition, "Restart position is beyond the end of the file.")
        case .unknownStorage: (.localErrorInProcessing, "Storage is not configured correctly.")
        case .tooLargeToHash(_, let size, let limit):
            (.fileUnavailable, "File too large to hash: \(size) bytes, the limit is \(limit) bytes.")
        case .storage(let storageError): reply(for: storageError)
        }
    }

    static func reply(for error: StorageError) -> (FTPReplyCode, String) {
        switch error {
        case .notFound: (.fileUnavailable, "No such file or directory.")
        case .bucketNotFound: (.fileUnavailable, "Storage bucket not available.")
        case .accessDenied: (.fileUnavailable, "Permission denied by storage.")
        case .conflict: (.fileUnavailable, "Conflicts with an existing file or directory.")
        case .objectExists: (.fileUnavailable, "A file of that name appeared meanwhile.")
        case .objectTooLarge: (.exceededStorageAllocation, "File exceeds the maximum allowed size.")
        case .insufficientSpace: (.insufficientStorageSpace, "Insufficient storage space.")
        case .invalidKey: (.fileNameNotAllowed, "File name not allowed by storage.")
        case .throttled: (.fileActionNotTakenBusy, "Storage is busy, try again later.")
        case .unavailable: (.localErrorInProcessing, "Storage unavailable, try again later.")
        case .io: (.localErrorInProcessing, "Local error in processing.")
        case .unsupported: (.fileUnavailable, "Not supported by this storage.")
        case .aborted: (.localErrorInProcessing, "Operation aborted.")
        }
    }
}
