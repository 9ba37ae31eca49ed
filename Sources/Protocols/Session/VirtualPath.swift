/// Why a client-supplied path was refused. Decided in one place: `VirtualPath.resolve`.
public enum PathError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidUTF8
    case controlCharacter
    case nameTooLong
    case pathTooLong
    /// A protocol that names one entry (scp's C and D lines) got a path or `..` instead.
    case notASingleName

    public var description: String {
        switch self {
        case .invalidUTF8: "the path is not valid UTF-8"
        case .controlCharacter: "the path contains a control character"
        case .nameTooLong: "a name in the path is longer than \(VirtualPath.maxNameBytes) bytes"
        case .pathTooLong: "the path is longer than \(VirtualPath.maxPathBytes) bytes"
        case .notASingleName: "a single file name was expected"
        }
    }
}

/// An absolute, normalised path in a user's virtual file system: `/` is the user's home. Components
/// are never empty, `.` or `..`, and never contain `/`, NUL or control characters; so no VirtualPath
/// can name anything outside the user's bindings.
public struct VirtualPath: Hashable, Sendable, CustomStringConvertible {
    /// Longest name (one component) accepted, in UTF-8 bytes: what file systems hold.
    public static let maxNameBytes = 255
    /// Longest path accepted, in UTF-8 bytes (S3 keys are at most 1,024 bytes).
    public static let maxPathBytes = 1024

    public let components: [String]

    public static let root = VirtualPath(components: [])

    init(components: [String]) { self.components = components }

    public var isRoot: Bool { components.isEmpty }
    public var description: String { "/" + components.joined(separator: "/") }
    /// The last component, or "/" for the root.
    public var name: String { components.last ?? "/" }
    public var parent: VirtualPath { VirtualPath(components: Array(components.dropLast())) }

    /// True when `self` is `other` or lies below it.
    public func isInside(_ other: VirtualPath) -> Bool {
        components.count >= other.components.count && Array(components.prefix(other.components.count)) == other.components
    }

    /// Turns what a client sent into a VirtualPath: relative paths start at `directory`; `.` is
    /// dropped, `..` goes up but never above `/` (as in a chroot), repeated slashes collapse.
    /// Nothing is decoded: `%2e%2e` is a name, and so is `..\..` (a backslash is an ordinary character).
    public static func resolve(_ input: String, from directory: VirtualPath = .root) throws(PathError) -> VirtualPath {
        if input.utf8.count > maxPathBytes * 4 { throw .pathTooLong }
        if input.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { throw .controlCharacter }
        var components = input.hasPrefix("/") ? [] : directory.components
        for part in input.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default:
                guard part.utf8.count <= maxNameBytes else { throw .nameTooLong }
                components.append(String(part))
            }
        }
        let path = VirtualPath(components: components)
        guard path.description.utf8.count <= maxPathBytes else { throw .pathTooLong }
        return path
    }

    /// The same, for paths that arrive as raw bytes (SFTP): they must be valid UTF-8.
    public static func resolve(bytes: [UInt8], from directory: VirtualPath = .root) throws(PathError) -> VirtualPath {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return try resolve(text, from: directory)
    }

    /// A child of this path. The name must be one valid component (used for names coming from storage).
    func appending(_ name: String) -> VirtualPath {
        VirtualPath(components: components + [name])
    }
}
