#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A moment broken down into UTC calendar fields. Every date Ferry writes as text (S3 signatures,
/// listings, logs) or reads from text (S3 answers) goes through this type and its named formats
/// (`UTCTime+Formats.swift`); no other file calls gmtime_r, timegm or strftime.
public struct UTCTime: Sendable, Equatable {
    public var year: Int
    /// 1...12.
    public var month: Int
    /// 1...31.
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var millisecond: Int
    /// 0 = Sunday ... 6 = Saturday.
    public var weekday: Int

    /// The UTC fields of `date` (sub-second part kept as milliseconds, rounded down).
    public init(_ date: Date) {
        let interval = date.timeIntervalSince1970
        let whole = interval.rounded(.down)
        var seconds = time_t(whole)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        self.year = Int(parts.tm_year) + 1900
        self.month = Int(parts.tm_mon) + 1
        self.day = Int(parts.tm_mday)
        self.hour = Int(parts.tm_hour)
        self.minute = Int(parts.tm_min)
        self.second = Int(parts.tm_sec)
        self.millisecond = min(999, Int(((interval - whole) * 1000).rounded(.down)))
        self.weekday = Int(parts.tm_wday)
    }

    /// A moment from calendar fields; nil when a field is out of range (month 13, hour 24, ...).
    /// Seconds up to 60 are accepted (a leap second), as timegm normalises them.
    public static func date(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Date? {
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
              (0...59).contains(minute), (0...60).contains(second) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    static let monthAbbreviations = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let weekdayAbbreviations = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
}
