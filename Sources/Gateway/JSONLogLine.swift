import Foundation
import Logging
import Timestamps

/// The JSON form of a log line (`[log] format = "json"`), one object per line, for log stores:
/// `{"time":"2026-11-22T10:00:00.123Z","level":"info","logger":"ferry","message":"transfer complete",
/// "user":"alice","bytes":1234,...}`. The event's metadata become fields; counts are JSON numbers.
enum JSONLogLine {
    /// Fields written as numbers when their value is one (the rest are strings).
    static let numericFields: Set<String> = ["bytes", "seconds", "attempt", "parts", "connections", "copied", "id",
                                             "part_size", "repositions", "limit_bytes", "users", "users_added",
                                             "users_removed", "users_changed", "restart_needed", "errors",
                                             "age_seconds", "grace_seconds"]
    /// Names the handler writes itself; a metadata key with one of them gets a `field_` prefix.
    static let reservedFields: Set<String> = ["time", "level", "logger", "message"]

    /// One log line: the JSON object and a newline. Fields in key order, so lines diff well.
    static func line(time: Date, level: Logger.Level, label: String, message: String, fields: Logger.Metadata) -> String {
        var out = "{\"time\":\(quoted(UTCTime(time).rfc3339Milliseconds)),\"level\":\(quoted(level.rawValue))"
            + ",\"logger\":\(quoted(label)),\"message\":\(quoted(message))"
        for key in fields.keys.sorted() {
            let name = reservedFields.contains(key) ? "field_" + key : key
            out += ",\(quoted(name)):\(value(fields[key]!, numeric: numericFields.contains(key)))"
        }
        return out + "}\n"
    }

    private static func value(_ value: Logger.Metadata.Value, numeric: Bool) -> String {
        switch value {
        case .string(let text):
            return numeric && isJSONNumber(text) ? text : quoted(text)
        case .stringConvertible(let convertible):
            let text = convertible.description
            return numeric && isJSONNumber(text) ? text : quoted(text)
        case .array(let items):
            return "[" + items.map { Self.value($0, numeric: false) }.joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { "\(quoted($0)):\(Self.value(entries[$0]!, numeric: false))" }
                .joined(separator: ",") + "}"
        }
    }

    /// `-`? digits, optionally `.` digits: what Ferry's counts and durations look like.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, parts.count == 1 || !(parts.last!.isEmpty) else { return false }
        if whole.count > 1 && whole.first == UInt8(ascii: "0") { return false }
        return parts.allSatisfy { $0.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
    }

    static func quoted(_ text: String) -> String { QuotedString.quoted(text) }
}
