#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Timestamps
import Logging

/// swift-log handler writing one line per event to stderr:
/// `2026-11-22T10:00:00.123Z info ferry.ftp: login succeeded client=127.0.0.1:50000 user=alice`.
/// Each line goes out in one write(2), so lines from different threads never interleave.
struct ConsoleLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func timestamp() -> String { UTCTime(Date()).rfc3339Milliseconds }

    func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error { all["error"] = "\(error)" }
        var text = "\(Self.timestamp()) \(event.level) \(label): \(event.message)"
        for key in all.keys.sorted() {
            let value = "\(all[key]!)"
            text += value.contains(" ") || value.isEmpty ? " \(key)=\(value.debugDescription)" : " \(key)=\(value)"
        }
        text += "\n"
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
