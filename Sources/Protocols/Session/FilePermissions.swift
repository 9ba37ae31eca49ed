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
