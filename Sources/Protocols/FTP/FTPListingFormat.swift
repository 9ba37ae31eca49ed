#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Storage
import Timestamps

/// MLST/MLSD facts Ferry reports (RFC 3659 §7.5).
enum FTPFact: String, CaseIterable, Sendable {
    case type
    case size
    case modify
    case perm

    var name: String { rawValue }
    static let defaultSelection = Set(allCases)
}

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

/// Text forms of directory entries: `ls -l` lines for LIST (what FileZilla, WinSCP and Windows parse),
/// names for NLST, and fact lines for MLSD/MLST.
enum FTPListingFormat {
    /// One `ls -l` line (shared with SFTP READDIR's long names).
    static func longLine(_ info: FileInfo, now: Date) -> String { LongListing.line(info, now: now) }

    /// `YYYYMMDDHHMMSS` in UTC (RFC 3659 §2.3), for MDTM and the modify fact.
    static func timeValue(_ date: Date) -> String { UTCTime(date).ftpTimeValue }

    /// RFC 3659 §7.5.5 perm fact: what this user may do with the entry.
    static func permFact(_ info: FileInfo) -> String {
        let p = info.permissions
        var letters = ""
        if info.isDirectory {
            letters += "el"
            if p.canWrite { letters += "cmf" }
            if p.canDelete { letters += "dp" }
        } else {
            if p.canRead { letters += "r" }
            if p.canWrite { letters += "awf" }
            if p.canDelete { letters += "d" }
        }
        return letters
    }

    /// `type=file;size=12;modify=20261122100000;perm=r; name` with the selected facts.
    static func factLine(_ info: FileInfo, facts: Set<FTPFact>, name: String? = nil) -> String {
        var text = ""
        for fact in FTPFact.allCases where facts.contains(fact) {
            switch fact {
            case .type: text += "type=\(info.isDirectory ? "dir" : "file");"
            case .size: text += "size=\(info.size);"
            case .modify: text += "modify=\(timeValue(info.modified));"
            case .perm: text += "perm=\(permFact(info));"
            }
        }
        return text + " " + (name ?? info.name)
    }
}

extension FTPConnection {
    /// Visits what a LIST-like argument names (`path` is `request.path` resolved): a directory's
    /// entries (filtered by the request's pattern), or the one file it names.
    func forEachListed(_ path: VirtualPath, request: FTPListRequest, session: Session, _ visit: (FileInfo) throws -> Bool) throws(SessionError) {
        do {
            try session.listDirectory(path) { info in
                guard request.matches(info.name) else { return true }
                return try visit(info)
            }
        } catch .notADirectory where request.pattern == nil {
            let info = try session.stat(path)
            do {
                _ = try visit(info)
            } catch let error as SessionError {
                throw error
            } catch {
                throw .storage(.aborted)
            }
        }
    }
}
