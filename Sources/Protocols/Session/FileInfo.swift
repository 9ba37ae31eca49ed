import Foundation

/// What a session can do with one entry, derived from its binding's authority and delete flag.
public struct FilePermissions: Sendable, Equatable {
    public var canRead: Bool
    public var canWrite: Bool
    public var canDelete: Bool

    public init(canRead: Bool, canWrite: Bool, canDelete: Bool) {
        self.canRead = canRead
        self.canWrite = canWrite
        self.canDelete = canDelete
    }
}

/// One file or directory as clients see it.
public struct FileInfo: Sendable, Equatable {
    public var name: String
    public var isDirectory: Bool
    public var size: UInt64
    public var modified: Date
    public var permissions: FilePermissions

    public init(name: String, isDirectory: Bool, size: UInt64, modified: Date, permissions: FilePermissions) {
        self.name = name
        self.isDirectory = isDirectory
        self.size = size
        self.modified = modified
        self.permissions = permissions
    }
}

/// How an upload treats an existing file.
public enum UploadMode: Sendable, Equatable {
    /// Create or replace.
    case replace
    /// Keep the first `offset` bytes of the existing file and continue from there (REST + STOR).
    case resume(offset: UInt64)
    /// Continue after the existing file's last byte, or create it (APPE).
    case append
}
