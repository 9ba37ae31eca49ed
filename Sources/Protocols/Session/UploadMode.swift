/// How an upload treats an existing file.
public enum UploadMode: Sendable, Equatable {
    /// Create or replace.
    case replace
    /// Create only: the name must be free when the upload starts and still free when it is
    /// published (FTP STOU, SFTP OPEN with CREAT|EXCL). Where the store supports conditional writes
    /// (`StorageCapabilities.createsOnlyIfAbsent`) a file another client stored meanwhile makes the
    /// commit fail, whatever the user's delete flag; it is never replaced.
    case create
    /// Keep the first `offset` bytes of the existing file and continue from there (REST + STOR).
    case resume(offset: UInt64)
    /// Continue after the existing file's last byte, or create it (APPE).
    case append
}
