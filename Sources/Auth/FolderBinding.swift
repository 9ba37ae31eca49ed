/// An extra folder inside a user's tree, bound to another place (`[[user.folder]]`).
public struct FolderBinding: Sendable, Hashable {
    /// Absolute virtual path of the folder, normalised (`/shared`, never `/`).
    public var path: String
    public var target: StorageBinding
    public var authority: Authority
    public var mayDelete: Bool

    public init(path: String, target: StorageBinding, authority: Authority, mayDelete: Bool) {
        self.path = path
        self.target = target
        self.authority = authority
        self.mayDelete = mayDelete
    }
}
