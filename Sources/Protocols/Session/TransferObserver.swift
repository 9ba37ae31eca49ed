import Foundation
import Logging

/// The service a session speaks, as metrics labels, logs and the transfer log name it (FTPS counts
/// as `ftp`; an SSH connection is `sftp` until its channel asks for scp).
public enum ServiceName: String, Sendable, CaseIterable {
    case ftp, sftp, scp
}

/// One finished (or failed) transfer, as the transfer log and metrics record it.
public struct TransferRecord: Sendable {
    public enum Direction: Sendable { case upload, download }

    public var service: ServiceName
    public var user: String
    public var remoteHost: String
    public var path: String
    public var direction: Direction
    public var bytes: UInt64
    public var started: Date
    public var duration: TimeInterval
    public var completed: Bool
    public var binary: Bool

    public init(service: ServiceName, user: String, remoteHost: String, path: String, direction: Direction,
                bytes: UInt64, started: Date, duration: TimeInterval, completed: Bool, binary: Bool) {
        self.service = service
        self.user = user
        self.remoteHost = remoteHost
        self.path = path
        self.direction = direction
        self.bytes = bytes
        self.started = started
        self.duration = duration
        self.completed = completed
        self.binary = binary
    }
}

/// Session events the gateway counts and logs (metrics, transfer log). Called on connection threads.
public protocol SessionObserver: Sendable {
    func connectionOpened(service: ServiceName)
    func connectionClosed(service: ServiceName)
    func loginSucceeded(service: ServiceName)
    func loginFailed(service: ServiceName)
    func transferFinished(_ record: TransferRecord)
}

/// Reports finished transfers the same way for every protocol: one `TransferRecord` to the
/// observer (metrics, xferlog) and one log line, "transfer complete" or "transfer failed".
struct TransferReporter {
    let service: ServiceName
    let user: String
    let remoteHost: String
    let observer: (any SessionObserver)?
    let logger: Logger

    /// `details` adds protocol facts to the log line (the error, SFTP's repositioned reads).
    func finished(_ path: VirtualPath, _ direction: TransferRecord.Direction, bytes: UInt64, started: Date,
                  completed: Bool, binary: Bool = true, details: Logger.Metadata = [:]) {
        let duration = Date().timeIntervalSince(started)
        observer?.transferFinished(TransferRecord(
            service: service, user: user, remoteHost: remoteHost, path: path.description, direction: direction,
            bytes: bytes, started: started, duration: duration, completed: completed, binary: binary))
        var metadata: Logger.Metadata = [
            "user": "\(user)", "path": "\(path)", "direction": "\(direction)", "bytes": "\(bytes)",
            "seconds": "\(String(format: "%.3f", duration))"]
        metadata.merge(details) { $1 }
        logger.info(completed ? "transfer complete" : "transfer failed", metadata: metadata)
    }
}
