import Foundation

/// Why the channel under a session failed (the client went away, the transport broke).
public struct ChannelError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The blocking byte channel a file-transfer session runs on: an SSH channel carrying the `sftp`
/// subsystem or a legacy `scp` exec.
protocol ChannelIO: AnyObject {
    /// Reads what is available: a count > 0, 0 when nothing came within `timeout`, nil when the
    /// client closed the channel.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: TimeInterval) throws(ChannelError) -> Int?
    /// Writes all of `bytes`, waiting for the client's window.
    func write(_ bytes: [UInt8]) throws(ChannelError)
}
