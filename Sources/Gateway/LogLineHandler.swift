#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// swift-log handler writing one line per event to stderr, as text (`TextLogLine`) or as JSON
/// (`JSONLogLine`, `[log] format = "json"`). Each line goes out in one write(2), so lines from
/// different threads never interleave.
struct LogLineHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let format: FerryConfig.Log.Format

    init(label: String, level: Logger.Level, format: FerryConfig.Log.Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let explicit = event.metadata { fields.merge(explicit) { _, new in new } }
        if let error = event.error { fields["error"] = "\(error)" }
        let (now, message) = (Date(), "\(event.message)")
        let line = switch format {
        case .text: TextLogLine.line(time: now, level: event.level, label: label, message: message, fields: fields)
        case .json: JSONLogLine.line(time: now, level: event.level, label: label, message: message, fields: fields)
        }
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
