import Foundation
import Timestamps

/// The `ls -l` form of a directory entry, as FTP LIST sends it and SFTP READDIR's long names carry
/// it (FileZilla, WinSCP and Windows parse it). Times in UTC; mode bits from what the user may do.
enum LongListing {
    private static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    private static func padRight(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// `rwx` bits from what the user may do; group and others never get write.
    static func modeString(_ info: FileInfo) -> String {
        let p = info.permissions
        let x = info.isDirectory
        let owner = (p.canRead ? "r" : "-") + (p.canWrite ? "w" : "-") + (x ? "x" : "-")
        let others = (p.canRead ? "r" : "-") + "-" + (x ? "x" : "-")
        return (info.isDirectory ? "d" : "-") + owner + others + others
    }

    /// One `ls -l` line, times in UTC: `-rw-r--r--    1 ftp      ftp          1234 Nov 22 10:00 name`.
    static func line(_ info: FileInfo, now: Date) -> String {
        let date = UTCTime.lsDate(info.modified, now: now)
        return "\(modeString(info))    1 \(padRight("ftp", 8)) \(padRight("ftp", 8)) \(padLeft(String(info.size), 12)) \(date) \(info.name)"
    }

}
