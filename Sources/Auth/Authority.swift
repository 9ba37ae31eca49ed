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
