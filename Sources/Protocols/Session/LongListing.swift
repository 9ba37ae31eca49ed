#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The `ls -l` form of a directory entry, as FTP LIST sends it and SFTP READDIR's long names carry
/// it (FileZilla, WinSCP and Windows parse it). Times in UTC; mode bits from what the user may do.
enum LongListing {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    /// `ls` shows the time instead of the year for dates within about six months.
    private static let recentInterval: TimeInterval = 180 * 86_400

    static func utc(_ date: Date) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    static func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

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
        let t = utc(info.modified)
        let month = months[Int(t.tm_mon)]
        let day = padLeft("\(t.tm_mday)", 2)
        let age = now.timeIntervalSince(info.modified)
        let timeOrYear = (age < recentInterval && age > -86_400)
            ? "\(twoDigits(t.tm_hour)):\(twoDigits(t.tm_min))"
            : " \(t.tm_year + 1900)"
        return "\(modeString(info))    1 \(padRight("ftp", 8)) \(padRight("ftp", 8)) \(padLeft(String(info.size), 12)) \(month) \(day) \(timeOrYear) \(info.name)"
    }

}
