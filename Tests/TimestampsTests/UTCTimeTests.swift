import Foundation
import Testing
import Timestamps

/// Every named format against a fixed moment, and the parsers against what S3 sends and garbage.
@Suite struct UTCTimeTests {
    /// 2026-11-02 09:05:07.25 UTC, a Monday (a one-digit day tests the padded forms).
    static let moment = Date(timeIntervalSince1970: 1_793_610_307.25)

    @Test func fieldsAreUTC() {
        let time = UTCTime(Self.moment)
        let fields: [Int] = [time.year, time.month, time.day, time.hour, time.minute, time.second, time.millisecond, time.weekday]
        #expect(fields == [2026, 11, 2, 9, 5, 7, 250, 1])
    }

    @Test func writtenFormats() {
        let time = UTCTime(Self.moment)
        #expect(time.signatureTimestamp == "20261102T090507Z")
        #expect(time.ftpTimeValue == "20261102090507")
        #expect(time.rfc3339Milliseconds == "2026-11-02T09:05:07.250Z")
        #expect(time.asctime == "Mon Nov  2 09:05:07 2026")
    }

    @Test func lsDateShowsTheTimeForRecentDatesAndTheYearOtherwise() {
        #expect(UTCTime.lsDate(Self.moment, now: Self.moment.addingTimeInterval(3600)) == "Nov  2 09:05")
        #expect(UTCTime.lsDate(Self.moment, now: Self.moment.addingTimeInterval(200 * 86_400)) == "Nov  2  2026")
        // More than a day in the future: the year, as ls does.
        #expect(UTCTime.lsDate(Self.moment, now: Self.moment.addingTimeInterval(-2 * 86_400)) == "Nov  2  2026")
    }

    @Test func parsesWhatS3Sends() {
        #expect(UTCTime.parseISO8601("2026-11-02T09:05:07.000Z") == Date(timeIntervalSince1970: 1_793_610_307))
        #expect(UTCTime.parseISO8601("2026-11-02T09:05:07Z") == Date(timeIntervalSince1970: 1_793_610_307))
        #expect(UTCTime.parseHTTPDate("Mon, 02 Nov 2026 09:05:07 GMT") == Date(timeIntervalSince1970: 1_793_610_307))
    }

    @Test func refusesWhatIsNotADate() {
        for text in ["", "garbage", "2026-11-02", "2026-13-02T09:05:07Z", "2026-11-02T24:05:07Z", "2026-1-02T09:05:07Z",
                     "٢٠٢٦-١١-٠٢T09:05:07Z", "99999999999999999999"] {
            #expect(UTCTime.parseISO8601(text) == nil, "\(text)")
        }
        for text in ["", "garbage", "Mon, 02 Foo 2026 09:05:07 GMT", "Mon, 02 Nov 2026 09:05 GMT",
                     "Mon, 02 Nov 2026 09::07 GMT", "Mon, 99999999999 Nov 2026 09:05:07 GMT"] {
            #expect(UTCTime.parseHTTPDate(text) == nil, "\(text)")
        }
    }
}
