/// What a session can do with one entry, derived from its binding's authority and delete flag by
/// the permission gate (`Session.Location.permissions`).
public struct FilePermissions: Sendable, Equatable {
    public var canRead: Bool
    /// Create, append, rename.
    public var canWrite: Bool
    public var canDelete: Bool
    /// Overwrite stored bytes (the gate's `replaceExisting`); an empty file can always be written
    /// over by whoever `canWrite`.
    public var canReplace: Bool

    /// `canReplace` defaults to `canDelete`: the gate asks the same rights for both.
    public init(canRead: Bool, canWrite: Bool, canDelete: Bool, canReplace: Bool? = nil) {
        self.canRead = canRead
        self.canWrite = canWrite
        self.canDelete = canDelete
        self.canReplace = canReplace ?? canDelete
    }
}
