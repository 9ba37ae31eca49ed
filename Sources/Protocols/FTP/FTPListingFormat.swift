import Foundation
import Timestamps

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
            if p.canWrite {
                // `w` is STOR over this file (RFC 3659 §7.5.5), which destroys its bytes: the
                // overwrite rule's right, or an empty file. `a` (APPE) and `f` (rename) need write.
                letters += p.canReplace || info.size == 0 ? "awf" : "af"
            }
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
