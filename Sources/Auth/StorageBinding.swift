import PathRules

/// Where a tree of the user's virtual file system lives: a storage (by its configured name), a
/// bucket, and a key prefix inside the bucket ("" or "alice/", always ending with "/" when not empty).
public struct StorageBinding: Sendable, Hashable, CustomStringConvertible {
    public var storage: String
    public var bucket: String
    public var prefix: String

    public init(storage: String, bucket: String, prefix: String) {
        self.storage = storage
        self.bucket = bucket
        // Split on the byte `/` only (see KeyBytes): a `/` followed by a combining mark is one
        // Character but two names.
        let trimmed = KeyBytes.segments(prefix).filter { !$0.isEmpty }.joined(separator: "/")
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// Parses `storage:bucket[/prefix]`. Returns nil when the form is wrong (the caller names the key).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        let slash = KeyBytes.separator
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let storage = String(decoding: bytes[..<colon], as: UTF8.self)
        let parts = bytes[(colon + 1)...].split(separator: slash, maxSplits: 1, omittingEmptySubsequences: false)
        guard !storage.isEmpty, let bucket = parts.first, !bucket.isEmpty else { return nil }
        let prefix = parts.count > 1 ? parts[1] : []
        let names = prefix.split(separator: slash, omittingEmptySubsequences: false).dropLast(prefix.last == slash ? 1 : 0)
        // Every prefix component is a plain name (KeyBytes' rule, the one every path obeys).
        if !prefix.isEmpty && names.contains(where: { KeyBytes.problem(withName: $0) != nil }) {
            return nil
        }
        self.init(storage: storage, bucket: String(decoding: bucket, as: UTF8.self),
                  prefix: String(decoding: prefix, as: UTF8.self))
    }

    public var description: String { "\(storage):\(bucket)/\(prefix)" }
}
