internal import CLibSSH
import Foundation

/// The session channel (`sftp` subsystem or `scp` exec) as a blocking byte stream (libssh channel
/// reads and writes).
final class SSHChannelStream: ChannelIO {
    private let session: OpaquePointer
    private let channel: OpaquePointer

    init(session: OpaquePointer, channel: OpaquePointer) {
        self.session = session
        self.channel = channel
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: TimeInterval) throws(ChannelError) -> Int? {
        let count = UInt32(min(buffer.count, Int(UInt32.max)))
        let n = ssh_channel_read_timeout(channel, buffer.baseAddress, count, 0, Int32(timeout * 1000))
        if n > 0 { return Int(n) }
        if n == SSH_ERROR { throw ChannelError("channel read: \(SSHConnection.lastError(session))") }
        if ssh_channel_is_eof(channel) != 0 || ssh_channel_is_closed(channel) != 0 { return nil }
        return 0
    }

    func write(_ bytes: [UInt8]) throws(ChannelError) {
        let written = bytes.withUnsafeBytes { raw in
            ssh_channel_write(channel, raw.baseAddress, UInt32(raw.count))
        }
        if written == SSH_ERROR || Int(written) != bytes.count {
            throw ChannelError("channel write: \(SSHConnection.lastError(session))")
        }
    }

    /// Ends the channel as OpenSSH's servers do (exit-status, EOF, close; RFC 4254 §6.10): scp
    /// reports failure without the exit status. The connection frees it with the session.
    func close(exitStatus: Int32 = 0) {
        if ssh_channel_is_closed(channel) == 0 {
            ssh_channel_request_send_exit_status(channel, exitStatus)
            ssh_channel_send_eof(channel)
            ssh_channel_close(channel)
        }
    }
}
