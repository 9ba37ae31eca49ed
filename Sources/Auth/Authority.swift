/// What a user may do in a tree: read (download), write (upload, create directories), or both.
/// Listing is allowed for every authority; deleting also needs the per-user `delete` flag.
public enum Authority: String, Sendable, CaseIterable, CustomStringConvertible {
    case readOnly = "RO"
    case writeOnly = "WO"
    case readWrite = "RW"

    /// Parses the config spelling: `RO`, `WO`, `RW`, and cos-ftp-server's `R` and `W` (case-insensitive).
    public init?(configValue: String) {
        switch configValue.uppercased() {
        case "RO", "R": self = .readOnly
        case "WO", "W": self = .writeOnly
        case "RW", "WR": self = .readWrite
        default: return nil
        }
    }

    public var canRead: Bool { self != .writeOnly }
    public var canWrite: Bool { self != .readOnly }
    public var description: String { rawValue }
}

/// Where a tree of the user's virtual file system lives: a storage (by its configured name), a
/// bucket, and a key prefix inside the bucket ("" or "alice/", always ending with "/" when not empty).
public struct StorageBinding: Sendable, Hashable, CustomStringConvertible {
    public var storage: String
    public var bucket: String
    public var prefix: String

    public init(storage: String, bucket: String, prefix: String) {
        self.storage = storage
        self.bucket = bucket
        let trimmed = prefix.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// Parses `storage:bucket[/prefix]`. Returns nil when the form is wrong (the caller names the key).
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let storage = String(text[..<colon])
        let rest = text[text.index(after: colon)...]
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard !storage.isEmpty, let bucket = parts.first, !bucket.isEmpty else { return nil }
        let prefix = parts.count > 1 ? String(parts[1]) : ""
        if prefix.split(separator: "/", omittingEmptySubsequences: false).dropLast(prefix.hasSuffix("/") ? 1 : 0)
            .contains(where: { $0 == "." || $0 == ".." || ($0.isEmpty && !prefix.isEmpty) }) {
            return nil
        }
        self.init(storage: storage, bucket: String(bucket), prefix: prefix)
    }

    public var description: String { "\(storage):\(bucket)/\(prefix)" }
}

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
