#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization

/// swift-log handler writing one line per event to stderr, as text (`TextLogLine`) or as JSON
/// (`JSONLogLine`, `[log] format = "json"`). Each line goes out in one write(2), so lines from
/// different threads never interleave.
struct LogLineHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    let format: FerryConfig.Log.Format

    /// `[log] level` for every logger of the process at once, so that a reload changes it for
    /// loggers already handed out (each connection holds copies).
    private static let processLevel = Atomic<Int>(Logger.Level.allCases.firstIndex(of: .info)!)

    static func setProcessLevel(_ level: Logger.Level) {
        processLevel.store(Logger.Level.allCases.firstIndex(of: level)!, ordering: .relaxed)
    }

    var logLevel: Logger.Level {
        get { Logger.Level.allCases[Self.processLevel.load(ordering: .relaxed)] }
        set { Self.setProcessLevel(newValue) }
    }

    init(label: String, format: FerryConfig.Log.Format) {
        self.label = label
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
