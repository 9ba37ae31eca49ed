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
        // Split on the byte `/` only: a `/` followed by a combining mark is one Character but two names.
        let names = prefix.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        let trimmed = names.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// Parses `storage:bucket[/prefix]`. Returns nil when the form is wrong (the caller names the key).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let storage = String(decoding: bytes[..<colon], as: UTF8.self)
        let parts = bytes[(colon + 1)...].split(separator: slash, maxSplits: 1, omittingEmptySubsequences: false)
        guard !storage.isEmpty, let bucket = parts.first, !bucket.isEmpty else { return nil }
        let prefix = parts.count > 1 ? parts[1] : []
        let names = prefix.split(separator: slash, omittingEmptySubsequences: false).dropLast(prefix.last == slash ? 1 : 0)
        // Every prefix component is a plain name, compared as bytes: no `.`, `..`, empty name or control byte.
        if !prefix.isEmpty && names.contains(where: { name in
            name.isEmpty || name.allSatisfy({ $0 == dot }) && name.count <= 2 || name.contains(where: { $0 < 0x20 || $0 == 0x7F })
        }) {
            return nil
        }
        self.init(storage: storage, bucket: String(decoding: bucket, as: UTF8.self),
                  prefix: String(decoding: prefix, as: UTF8.self))
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
