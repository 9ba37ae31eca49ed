import Foundation

/// The text forms of a moment Ferry writes and reads, one named property or parser per format.
extension UTCTime {
    /// `20261122T100000Z`: ISO 8601 basic format, AWS Signature Version 4's `x-amz-date`.
    public var signatureTimestamp: String {
        "\(digits(year, 4))\(digits(month, 2))\(digits(day, 2))T\(digits(hour, 2))\(digits(minute, 2))\(digits(second, 2))Z"
    }

    /// `20261122100000`: the time-val of RFC 3659 §2.3 (MDTM, the MLST modify fact).
    public var ftpTimeValue: String {
        "\(digits(year, 4))\(digits(month, 2))\(digits(day, 2))\(digits(hour, 2))\(digits(minute, 2))\(digits(second, 2))"
    }

    /// `2026-11-22T10:00:00.123Z`: RFC 3339 with milliseconds (the console log).
    public var rfc3339Milliseconds: String {
        "\(digits(year, 4))-\(digits(month, 2))-\(digits(day, 2))T\(digits(hour, 2)):\(digits(minute, 2)):\(digits(second, 2))"
            + ".\(digits(millisecond, 3))Z"
    }

    /// `Sun Nov  2 10:00:00 2026`: C's asctime form, the first field of an xferlog line.
    public var asctime: String {
        let dayField = day < 10 ? " \(day)" : "\(day)"
        return "\(Self.weekdayAbbreviations[weekday]) \(Self.monthAbbreviations[month - 1]) \(dayField) "
            + "\(digits(hour, 2)):\(digits(minute, 2)):\(digits(second, 2)) \(year)"
    }

    /// The date columns of `ls -l`: `Nov 22 10:00` within about six months of `now`, else
    /// `Nov 22  2026` (what FileZilla, WinSCP and Windows parse in LIST and SFTP long names).
    public static func lsDate(_ date: Date, now: Date) -> String {
        let time = UTCTime(date)
        let age = now.timeIntervalSince(date)
        let dayField = time.day < 10 ? " \(time.day)" : "\(time.day)"
        let timeOrYear = (age < recentInterval && age > -86_400)
            ? "\(time.digits(time.hour, 2)):\(time.digits(time.minute, 2))" : " \(time.year)"
        return "\(monthAbbreviations[time.month - 1]) \(dayField) \(timeOrYear)"
    }

    /// `ls` shows the time instead of the year for dates within about six months.
    static let recentInterval: TimeInterval = 180 * 86_400

    /// Parses `2026-11-22T10:00:00.000Z` (S3 ListObjectsV2 LastModified; fraction and zone ignored,
    /// S3 always answers in UTC). Nil unless the first fourteen ASCII digits make a valid moment.
    public static func parseISO8601(_ text: String) -> Date? {
        var fields: [Int] = []
        var value = 0
        var count = 0
        for byte in text.utf8 {
            guard fields.count < 6 else { break }
            if let digit = asciiDigit(byte) {
                value = value * 10 + digit
                count += 1
                if count == (fields.isEmpty ? 4 : 2) {
                    fields.append(value)
                    value = 0
                    count = 0
                }
            } else if count != 0 {
                return nil  // a field cut short
            }
        }
        guard fields.count == 6 else { return nil }
        return date(year: fields[0], month: fields[1], day: fields[2], hour: fields[3], minute: fields[4], second: fields[5])
    }

    /// Parses `Wed, 12 Oct 2009 17:50:00 GMT` (RFC 9110 §5.6.7 IMF-fixdate: the Last-Modified header).
    public static func parseHTTPDate(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        guard fields.count >= 5, let day = number(fields[1]), let month = monthAbbreviations.firstIndex(of: String(fields[2])),
              let year = number(fields[3]) else { return nil }
        let time = fields[4].split(separator: ":", omittingEmptySubsequences: false).map(number)
        guard time.count == 3, let hour = time[0], let minute = time[1], let second = time[2] else { return nil }
        return date(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
    }

    private static func asciiDigit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// One to four ASCII digits.
    private static func number(_ text: Substring) -> Int? {
        guard (1...4).contains(text.utf8.count) else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard let digit = asciiDigit(byte) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// `value` in decimal, zero-padded to `width`.
    private func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
