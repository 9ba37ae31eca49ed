#if canImport(Glibc)
import Glibc
#endif
import Storage
import PathRules

/// What a LIST/NLST/STAT argument asks for: hidden `ls` options (`-la`) are tolerated and dropped, and
/// a last component with `*`, `?` or `[` is a name pattern (`NLST *.txt`, as Windows `mget` sends).
struct FTPListRequest {
    let path: String
    let pattern: String?

    init(argument: String) {
        var rest = Substring(argument)
        while rest.hasPrefix("-") {
            let option = rest.prefix(while: { $0 != " " })
            rest = rest.dropFirst(option.count).drop(while: { $0 == " " })
        }
        var path = String(rest)
        var pattern: String?
        let (directory, name) = KeyBytes.splitAtLastSeparator(path)  // bytewise: see KeyBytes
        if name.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }) {
            pattern = name
            path = directory
        }
        self.path = path.isEmpty ? "." : path
        self.pattern = pattern
    }

    /// Whether a directory entry is listed: every entry without a pattern, else fnmatch(3) rules.
    func matches(_ name: String) -> Bool {
        guard let pattern else { return true }
        return fnmatch(pattern, name, 0) == 0
    }
}
