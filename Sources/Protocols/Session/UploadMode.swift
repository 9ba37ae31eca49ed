/// How an upload treats an existing file.
public enum UploadMode: Sendable, Equatable {
    /// Create or replace.
    case replace
    /// Keep the first `offset` bytes of the existing file and continue from there (REST + STOR).
    case resume(offset: UInt64)
    /// Continue after the existing file's last byte, or create it (APPE).
    case append
}
