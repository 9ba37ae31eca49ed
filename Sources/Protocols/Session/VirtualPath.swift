import Storage
import PathRules

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

/// An absolute, normalised path in a user's virtual file system: `/` is the user's home. Every
/// component is a plain name in the sense of `KeyBytes.problem(withName:)`: never empty, `.` or `..`,
/// and never containing the byte `/`, NUL or a control byte. So no VirtualPath can name anything
/// outside the user's bindings, and the key built from it stays under the binding's prefix.
///
/// Paths are bytes: they are split on 0x2F only and compared by their UTF-8 bytes, never by Swift
/// Characters (`/` followed by a combining mark is one Character but two names on disk and in S3).
public struct VirtualPath: Hashable, Sendable, CustomStringConvertible {
    /// Longest name (one component) accepted, in UTF-8 bytes: what file systems hold.
    public static let maxNameBytes = KeyBytes.maxNameBytes
    /// Longest path accepted, in UTF-8 bytes (S3 keys are at most 1,024 bytes).
    public static let maxPathBytes = 1024

    public let components: [String]

    public static let root = VirtualPath(checkedComponents: [])

    /// Only for components already checked to be plain names.
    private init(checkedComponents: [String]) { self.components = checkedComponents }

    public var isRoot: Bool { components.isEmpty }
    public var description: String { "/" + components.joined(separator: "/") }
    /// The last component, or "/" for the root.
    public var name: String { components.last ?? "/" }
    public var parent: VirtualPath { VirtualPath(checkedComponents: Array(components.dropLast())) }

    /// Byte equality: two paths are equal when they name the same key, which canonical equivalence
    /// (String's `==`, under which precomposed and decomposed "é" are equal) does not decide.
    public static func == (lhs: VirtualPath, rhs: VirtualPath) -> Bool {
        lhs.components.count == rhs.components.count
            && zip(lhs.components, rhs.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    public func hash(into hasher: inout Hasher) {
        for component in components {
            hasher.combine(component.utf8.count)
            for byte in component.utf8 { hasher.combine(byte) }
        }
    }

    /// True when `self` is `other` or lies below it.
    public func isInside(_ other: VirtualPath) -> Bool {
        components.count >= other.components.count
            && zip(components, other.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    /// Turns what a client sent into a VirtualPath: relative paths start at `directory`; `.` is
    /// dropped, `..` goes up but never above `/` (as in a chroot), repeated slashes collapse.
    /// Nothing is decoded: `%2e%2e` is a name, and so is `..\..` (a backslash is an ordinary character).
    public static func resolve(_ input: String, from directory: VirtualPath = .root) throws(PathError) -> VirtualPath {
        try resolve(utf8: input.utf8, from: directory)
    }

    /// The same, for paths that arrive as raw bytes (SFTP, scp): they must be valid UTF-8 (overlong
    /// forms and surrogates are invalid).
    public static func resolve(bytes: [UInt8], from directory: VirtualPath = .root) throws(PathError) -> VirtualPath {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalidUTF8 }
        return try resolve(utf8: bytes, from: directory)
    }

    /// The resolver proper, on valid UTF-8 bytes: splits on 0x2F only and resolves `.`/`..` on those
    /// components.
    private static func resolve(utf8 bytes: some Collection<UInt8>, from directory: VirtualPath) throws(PathError) -> VirtualPath {
        if bytes.count > maxPathBytes * 4 { throw .pathTooLong }
        if bytes.contains(where: KeyBytes.isControl) { throw .controlCharacter }
        var components = bytes.first == KeyBytes.separator ? [] : directory.components
        for part in bytes.split(separator: KeyBytes.separator, omittingEmptySubsequences: true) {
            if KeyBytes.isDot(part) { continue }
            if KeyBytes.isDotDot(part) {
                if !components.isEmpty { components.removeLast() }
                continue
            }
            guard part.count <= maxNameBytes else { throw .nameTooLong }
            components.append(String(decoding: part, as: UTF8.self))
        }
        let path = VirtualPath(checkedComponents: components)
        guard path.description.utf8.count <= maxPathBytes else { throw .pathTooLong }
        return path
    }

    /// A child of this path, for a name that must be one plain component (names coming from storage
    /// listings, from scp's C and D lines).
    func appending(_ name: String) throws(PathError) -> VirtualPath {
        switch KeyBytes.problem(withName: name.utf8) {
        case nil: return VirtualPath(checkedComponents: components + [name])
        case .tooLong: throw .nameTooLong
        case .controlCharacter: throw .controlCharacter
        case .empty, .dotOrDotDot, .containsSeparator: throw .notASingleName
        }
    }
}
