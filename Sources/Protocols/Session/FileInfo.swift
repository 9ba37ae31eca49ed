import Foundation

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
