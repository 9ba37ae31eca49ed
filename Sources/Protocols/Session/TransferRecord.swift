import Foundation

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
