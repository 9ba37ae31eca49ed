import Foundation
import Logging
import Timestamps

/// The text form: `2026-11-22T10:00:00.123Z info ferry: login succeeded client=127.0.0.1 user=alice`.
enum TextLogLine {
    static func line(time: Date, level: Logger.Level, label: String, message: String, fields: Logger.Metadata) -> String {
        var text = "\(UTCTime(time).rfc3339Milliseconds) \(level) \(label): \(message)"
        for key in fields.keys.sorted() {
            let value = "\(fields[key]!)"
            text += value.contains(" ") || value.isEmpty ? " \(key)=\(value.debugDescription)" : " \(key)=\(value)"
        }
        return text + "\n"
    }
}
