import Foundation
import Logging

/// Reports finished transfers the same way for every protocol: one `TransferRecord` to the
/// observer (metrics, xferlog) and one log line, "transfer complete", "transfer aborted" or
/// "transfer failed".
struct TransferReporter {
    let service: ServiceName
    let user: String
    let remoteHost: String
    let observer: (any SessionObserver)?
    let logger: Logger

    /// One "transfer started" line, when the first byte is about to move (FTP after 150, SFTP at
    /// OPEN, scp at the file's header).
    func started(_ path: VirtualPath, _ direction: TransferRecord.Direction) {
        logger.info("transfer started", metadata: ["user": "\(user)", "path": "\(path)", "direction": "\(direction)"])
    }

    /// `details` adds protocol facts to the log line (the error, SFTP's repositioned reads). An
    /// upload that did not complete also logs "partial upload discarded": what it wrote was aborted,
    /// nothing of it was published.
    func finished(_ path: VirtualPath, _ direction: TransferRecord.Direction, bytes: UInt64, started: Date,
                  outcome: TransferOutcome, binary: Bool = true, details: Logger.Metadata = [:]) {
        let duration = Date().timeIntervalSince(started)
        observer?.transferFinished(TransferRecord(
            service: service, user: user, remoteHost: remoteHost, path: path.description, direction: direction,
            bytes: bytes, started: started, duration: duration, outcome: outcome, binary: binary))
        var metadata: Logger.Metadata = [
            "user": "\(user)", "path": "\(path)", "direction": "\(direction)", "bytes": "\(bytes)",
            "seconds": "\(String(format: "%.3f", duration))", "outcome": "\(outcome.rawValue)"]
        metadata.merge(details) { $1 }
        switch outcome {
        case .complete: logger.info("transfer complete", metadata: metadata)
        case .aborted: logger.info("transfer aborted", metadata: metadata)
        case .failed: logger.warning("transfer failed", metadata: metadata)
        }
        if direction == .upload && outcome != .complete {
            logger.info("partial upload discarded", metadata: ["user": "\(user)", "path": "\(path)", "bytes": "\(bytes)"])
        }
    }
}
