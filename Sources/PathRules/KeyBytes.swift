/// The byte-level rules for keys and paths, in one place for every layer (the session's path
/// resolver, the drivers, scp's names, listings).
///
/// Why bytes: Swift's `String` works on Characters (extended grapheme clusters), and a `/` followed by
/// a combining mark (U+0301), a zero-width joiner (U+200D) or a variation selector (U+FE0F) is *one*
/// Character. Splitting, prefix tests and counts done on Characters therefore disagree with the file
/// system and S3, which split on the byte 0x2F: `"/../\u{301}x".split(separator: "/")` keeps `..` inside
/// a name, and the file system then climbs out of the home. Every split, prefix test and length here is
/// done on the UTF-8 bytes. (0x2F never occurs inside a multi-byte UTF-8 sequence, so splitting valid
/// UTF-8 on it yields valid UTF-8 pieces.)
public enum KeyBytes {
    /// The separator of path components and key segments: `/`.
    public static let separator = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")
    /// Longest name (one component) a file system holds, in bytes.
    public static let maxNameBytes = 255

    /// Why a name cannot be one component of a path or key.
    public enum NameProblem: Error, Sendable, Equatable {
        case empty
        case dotOrDotDot
        case containsSeparator
        case controlCharacter
        case tooLong
    }

    /// Checks that `name` is one plain component: not empty, not `.` or `..`, no `/`, no NUL or other
    /// control byte, at most `maxNameBytes` bytes. Returns the problem, or nil for a plain name.
    public static func problem(withName name: some Collection<UInt8>) -> NameProblem? {
        if name.isEmpty { return .empty }
        if isDotOrDotDot(name) { return .dotOrDotDot }
        for byte in name {
            if byte == separator { return .containsSeparator }
            if isControl(byte) { return .controlCharacter }
        }
        if name.count > maxNameBytes { return .tooLong }
        return nil
    }

    public static func isPlainName(_ name: String) -> Bool { problem(withName: name.utf8) == nil }

    /// `.` or `..`, compared as bytes.
    public static func isDotOrDotDot(_ name: some Collection<UInt8>) -> Bool {
        isDot(name) || isDotDot(name)
    }

    public static func isDot(_ name: some Collection<UInt8>) -> Bool {
        name.count == 1 && name.first == dot
    }

    public static func isDotDot(_ name: some Collection<UInt8>) -> Bool {
        name.count == 2 && name.allSatisfy { $0 == dot }
    }

    /// C0 controls (including NUL) and DEL: never part of a name.
    public static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// The segments of `text` between `/` bytes, empty ones included (`"a//b/"` → `a`, ``, `b`, ``).
    public static func segments(_ text: String) -> [String] {
        text.utf8.split(separator: separator, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `text` starts with the bytes of `prefix` (String's `hasPrefix` compares Characters for
    /// text that is not in NFC, so `"a/\u{301}"` would not start with `"a/"`).
    public static func hasPrefix(_ text: String, _ prefix: String) -> Bool {
        text.utf8.starts(with: prefix.utf8)
    }

    /// `text` without its first `prefix.utf8.count` bytes. The caller has checked `hasPrefix`.
    public static func dropping(_ prefix: String, from text: String) -> String {
        String(decoding: text.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
    }

    /// Whether `text` contains the byte `/`.
    public static func containsSeparator(_ text: some StringProtocol) -> Bool {
        text.utf8.contains(separator)
    }

    /// `text` up to and including its last `/`, and the rest (`"a/b/na"` → `"a/b/"`, `"na"`).
    public static func splitAtLastSeparator(_ text: String) -> (directory: String, name: String) {
        let bytes = Array(text.utf8)
        guard let slash = bytes.lastIndex(of: separator) else { return ("", text) }
        return (String(decoding: bytes[...slash], as: UTF8.self), String(decoding: bytes[(slash + 1)...], as: UTF8.self))
    }
}
