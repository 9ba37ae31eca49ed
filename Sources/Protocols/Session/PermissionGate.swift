import Auth

/// Everything a client can ask the session to do, as the permission gate sees it.
public enum FileOperation: String, Sendable, CaseIterable {
    case listDirectory
    case readMetadata
    case download
    case upload
    case makeDirectory
    case removeDirectory
    case deleteFile
    case renameSource
    case renameTarget
    /// Destroying bytes of an existing file: uploading over it, resuming before its end, renaming or
    /// copying onto it (`Session.authorizeOverwrite`).
    case replaceExisting
    case setAttributes
    case copySource
    case copyTarget
}

/// The rights a binding grants.
public enum Permission: Sendable, Hashable {
    case list
    case read
    case write
    case delete
}

/// The one permission table: which rights each operation needs. Adapters never check authority
/// themselves; every session operation passes `PermissionGate.allows` first.
public enum PermissionGate {
    public static func requirements(of operation: FileOperation) -> Set<Permission> {
        switch operation {
        case .listDirectory, .readMetadata: [.list]
        case .download, .copySource: [.read]
        case .upload, .makeDirectory, .renameSource, .renameTarget, .setAttributes, .copyTarget: [.write]
        case .removeDirectory, .deleteFile, .replaceExisting: [.write, .delete]
        }
    }

    public static func grants(authority: Authority, mayDelete: Bool) -> Set<Permission> {
        var granted: Set<Permission> = [.list]
        if authority.canRead { granted.insert(.read) }
        if authority.canWrite { granted.insert(.write) }
        if mayDelete { granted.insert(.delete) }
        return granted
    }

    public static func allows(_ operation: FileOperation, authority: Authority, mayDelete: Bool) -> Bool {
        requirements(of: operation).isSubset(of: grants(authority: authority, mayDelete: mayDelete))
    }
}
