#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Protocols
import Storage
import Timestamps
import Locking

/// Counts what happens (for GET /metrics) and writes the xferlog transfer log. Shared by every
/// connection thread; all state sits behind one mutex.
final class GatewayObserver: SessionObserver {
    private struct Counters {
        var values: [String: UInt64] = [:]
        mutating func add(_ name: String, _ amount: UInt64 = 1) { values[name, default: 0] += amount }
    }

    private let counters = Locked(Counters())
    private let activeConnections = Locked([String: Int]())
    private let transferLog: Locked<Int32>
    private let logger: Logger
    private let transferMemory: TransferMemory

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
        counters.withLock { $0.add("ferry_connections_total{protocol=\"\(service.rawValue)\"}") }
        activeConnections.withLock { $0[service.rawValue, default: 0] += 1 }
    }

    func connectionClosed(service: ServiceName) {
        activeConnections.withLock { $0[service.rawValue, default: 1] -= 1 }
    }

    func loginSucceeded(service: ServiceName) {
        counters.withLock { $0.add("ferry_logins_total{protocol=\"\(service.rawValue)\",result=\"success\"}") }
    }

    func loginFailed(service: ServiceName) {
        counters.withLock { $0.add("ferry_logins_total{protocol=\"\(service.rawValue)\",result=\"failure\"}") }
    }

    func transferFinished(_ record: TransferRecord) {
        let direction = record.direction == .upload ? "upload" : "download"
        let result = record.completed ? "complete" : "failed"
        counters.withLock {
            $0.add("ferry_transfers_total{protocol=\"\(record.service.rawValue)\",direction=\"\(direction)\",result=\"\(result)\"}")
            $0.add("ferry_transfer_bytes_total{protocol=\"\(record.service.rawValue)\",direction=\"\(direction)\"}", record.bytes)
        }
        writeTransferLog(record)
    }

    /// The classic xferlog line (wu-ftpd, vsftpd `xferlog_std_format`):
    /// `Sun Nov 22 10:00:00 2026 1 127.0.0.1 1234 /path b _ i r alice ftp 0 * c`.
    static func xferlogLine(_ record: TransferRecord) -> String {
        let stamp = UTCTime(record.started).asctime
        let path = String(record.path.map { $0.isWhitespace ? "_" : $0 })
        return "\(stamp) \(max(1, Int(record.duration.rounded()))) \(record.remoteHost) \(record.bytes) \(path) "
            + "\(record.binary ? "b" : "a") _ \(record.direction == .upload ? "i" : "o") r \(record.user) "
            + "\(record.service.rawValue) 0 * \(record.completed ? "c" : "i")\n"
    }

    private func writeTransferLog(_ record: TransferRecord) {
        let line = Self.xferlogLine(record)
        transferLog.withLock { fd in
            guard fd >= 0 else { return }
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    /// Prometheus text exposition format.
    func metricsText() -> String {
        var text = "# HELP ferry_up 1 while the gateway runs.\n# TYPE ferry_up gauge\nferry_up 1\n"
        text += "# TYPE ferry_connections_active gauge\n"
        for (proto, count) in activeConnections.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            text += "ferry_connections_active{protocol=\"\(proto)\"} \(count)\n"
        }
        let memory = transferMemory.usage
        text += "# HELP ferry_transfer_memory_bytes Bytes of [limits] transfer_memory leased by transfers now.\n"
        text += "# TYPE ferry_transfer_memory_bytes gauge\nferry_transfer_memory_bytes \(memory.inUse)\n"
        text += "# HELP ferry_transfer_memory_limit_bytes The transfer memory budget.\n"
        text += "# TYPE ferry_transfer_memory_limit_bytes gauge\nferry_transfer_memory_limit_bytes \(transferMemory.limit)\n"
        text += "# HELP ferry_transfer_memory_peak_bytes The most transfer memory leased at once since start.\n"
        text += "# TYPE ferry_transfer_memory_peak_bytes gauge\nferry_transfer_memory_peak_bytes \(memory.peak)\n"
        text += "# HELP ferry_transfer_memory_waiting Transfers waiting for transfer memory now.\n"
        text += "# TYPE ferry_transfer_memory_waiting gauge\nferry_transfer_memory_waiting \(memory.waiting)\n"
        let values = counters.withLock { $0.values }
        var typed: Set<String> = []
        for key in values.keys.sorted() {
            let name = String(key.prefix(while: { $0 != "{" }))
            if typed.insert(name).inserted { text += "# TYPE \(name) counter\n" }
            text += "\(key) \(values[key]!)\n"
        }
        return text
    }

}
