/// One login: credentials, the home binding (the user's `/`), authority and extra folders.
public struct User: Sendable, Equatable {
    public var name: String
    public var passwordHash: PasswordHash?
    public var sshKeys: [SSHPublicKey]
    public var home: StorageBinding
    public var authority: Authority
    /// May delete files and directories, and rename onto an existing name.
    public var mayDelete: Bool
    public var folders: [FolderBinding]
    /// Sessions of this user at once, all protocols together; 0 = unlimited (`max_sessions`).
    public var maxSessions: Int
    /// Defined by an answer of the identity service (`[auth] http`), not by the file: a reload of
    /// the file does not touch such a user's sessions.
    public var definedByIdentityService = false

    public init(name: String, passwordHash: PasswordHash?, sshKeys: [SSHPublicKey], home: StorageBinding,
                authority: Authority, mayDelete: Bool, folders: [FolderBinding], maxSessions: Int = 0) {
        self.maxSessions = maxSessions
        self.name = name
        self.passwordHash = passwordHash
        self.sshKeys = sshKeys
        self.home = home
        self.authority = authority
        self.mayDelete = mayDelete
        self.folders = folders
    }

    /// Whether a session of `other` would see and may do exactly what one of this user may: home,
    /// authority, delete flag and folders (credentials and limits aside).
    public func hasSameAccess(as other: User) -> Bool {
        home == other.home && authority == other.authority && mayDelete == other.mayDelete && folders == other.folders
    }
}
