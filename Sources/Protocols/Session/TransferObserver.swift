import Foundation

/// One finished (or failed) transfer, as the transfer log and metrics record it.
public struct TransferRecord: Sendable {
    public enum Direction: Sendable { case upload, download }

    public var protocolName: String
    public var user: String
    public var remoteHost: String
    public var path: String
    public var direction: Direction
    public var bytes: UInt64
    public var started: Date
    public var duration: TimeInterval
    public var completed: Bool
    public var binary: Bool

    public init(protocolName: String, user: String, remoteHost: String, path: String, direction: Direction,
                bytes: UInt64, started: Date, duration: TimeInterval, completed: Bool, binary: Bool) {
        self.protocolName = protocolName
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
    func connectionOpened(protocolName: String)
    func connectionClosed(protocolName: String)
    func loginSucceeded(protocolName: String)
    func loginFailed(protocolName: String)
    func transferFinished(_ record: TransferRecord)
}
