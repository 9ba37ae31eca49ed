import Foundation

/// How a transfer ended, as metrics and the log name it.
public enum TransferOutcome: String, Sendable, CaseIterable {
    /// Every byte moved; an upload was published.
    case complete
    /// The client cancelled (ABOR, scp's error byte), went away or stopped sending in the middle.
    case aborted
    /// Ferry or the storage failed (a storage error, an upload with missing data).
    case failed
}

/// One finished (or failed) transfer, as the transfer log and metrics record it.
public struct TransferRecord: Sendable {
    public enum Direction: String, Sendable, CaseIterable { case upload, download }

    public var service: ServiceName
    public var user: String
    public var remoteHost: String
    public var path: String
    public var direction: Direction
    public var bytes: UInt64
    public var started: Date
    public var duration: TimeInterval
    public var outcome: TransferOutcome
    public var binary: Bool

    public init(service: ServiceName, user: String, remoteHost: String, path: String, direction: Direction,
                bytes: UInt64, started: Date, duration: TimeInterval, outcome: TransferOutcome, binary: Bool) {
        self.service = service
        self.user = user
        self.remoteHost = remoteHost
        self.path = path
        self.direction = direction
        self.bytes = bytes
        self.started = started
        self.duration = duration
        self.outcome = outcome
        self.binary = binary
    }
}
