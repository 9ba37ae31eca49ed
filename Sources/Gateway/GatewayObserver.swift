#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Protocols
import Storage
import Timestamps
import Locking
import MetricCatalog

/// Counts what happens (swift-metrics, exported on GET /metrics) and writes the xferlog transfer
/// log. Shared by every connection thread.
final class GatewayObserver: SessionObserver {
    private let transferLog: Locked<Int32>
    private let logger: Logger
    private let transferMemory: TransferMemory
    private let exporter = MetricsExporter.shared

    /// Opens (appending) the transfer log; an empty path disables it.
    init(transferLogPath: String, transferMemory: TransferMemory, logger: Logger) {
        self.logger = logger
        self.transferMemory = transferMemory
        var fd: Int32 = -1
        if !transferLogPath.isEmpty {
            let directory = (transferLogPath as NSString).deletingLastPathComponent
            if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            fd = open(transferLogPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 { logger.error("cannot open the transfer log", metadata: ["path": "\(transferLogPath)"]) }
        }
        transferLog = Locked(fd)
    }

    deinit {
        transferLog.withLock { if $0 >= 0 { close($0) } }
    }

    func connectionOpened(service: ServiceName) {
        FerryMetric.sessions.increment(service.rawValue)
        FerryMetric.sessionsActive.adjust(service.rawValue, by: 1)
    }

    func connectionClosed(service: ServiceName) {
        FerryMetric.sessionsActive.adjust(service.rawValue, by: -1)
    }

    func loginSucceeded(service: ServiceName) {
        FerryMetric.logins.increment(service.rawValue, LoginResult.success.rawValue)
    }

    func loginFailed(service: ServiceName) {
        FerryMetric.logins.increment(service.rawValue, LoginResult.failure.rawValue)
    }

    func transferFinished(_ record: TransferRecord) {
        FerryMetric.transfers.increment(record.service.rawValue, record.direction.rawValue, record.outcome.rawValue)
        FerryMetric.transferBytes.increment(record.service.rawValue, record.direction.rawValue, by: record.bytes)
        writeTransferLog(record)
    }

    /// The classic xferlog line (wu-ftpd, vsftpd `xferlog_std_format`):
    /// `Sun Nov 22 10:00:00 2026 1 127.0.0.1 1234 /path b _ i r alice ftp 0 * c`.
    static func xferlogLine(_ record: TransferRecord) -> String {
        let stamp = UTCTime(record.started).asctime
        let path = String(record.path.map { $0.isWhitespace ? "_" : $0 })
        return "\(stamp) \(max(1, Int(record.duration.rounded()))) \(record.remoteHost) \(record.bytes) \(path) "
            + "\(record.binary ? "b" : "a") _ \(record.direction == .upload ? "i" : "o") r \(record.user) "
            + "\(record.service.rawValue) 0 * \(record.outcome == .complete ? "c" : "i")\n"
    }

    private func writeTransferLog(_ record: TransferRecord) {
        let line = Self.xferlogLine(record)
        transferLog.withLock { fd in
            guard fd >= 0 else { return }
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    /// The Prometheus text page for GET /metrics.
    func metricsText() -> String {
        exporter.render(memory: transferMemory)
    }
}
