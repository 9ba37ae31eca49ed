internal import CLibSSH
import Foundation

/// A session channel (`sftp` subsystem, scp or checksum exec) as a blocking byte stream for the
/// thread that serves it, over the connection's shared `SSHTransport` (non-blocking libssh calls
/// under its lock; waits without it).
final class SSHChannelStream: ChannelIO {
    private let transport: SSHTransport
    private let channel: OpaquePointer
    /// A write that makes no progress for this long fails (a client that stopped reading, or never
    /// grows its window).
    private let writeTimeout: TimeInterval

    init(transport: SSHTransport, channel: OpaquePointer, writeTimeout: TimeInterval) {
        self.transport = transport
        self.channel = channel
        self.writeTimeout = writeTimeout
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: TimeInterval) throws(ChannelError) -> Int? {
        let count = UInt32(min(buffer.count, Int(UInt32.max)))
        let deadline = Date().addingTimeInterval(timeout)
        transport.lock()
        defer { transport.unlock() }
        while true {
            // Takes what is buffered for this channel, else handles what the socket holds; only then
            // may other channels have data to wake up for (an empty read wakes no one: two idle
            // readers would otherwise keep waking each other).
            let incoming = transport.socketHasInput
            let n = ssh_channel_read_nonblocking(channel, buffer.baseAddress, count, 0)
            if incoming { transport.packetsHandled() }
            if n > 0 { return Int(n) }
            if n == SSH_EOF || ssh_channel_is_eof(channel) != 0 || ssh_channel_is_closed(channel) != 0 { return nil }
            if n == SSH_ERROR { throw ChannelError("channel read: \(SSHConnection.lastError(transport.session))") }
            if Date() >= deadline { return 0 }
            transport.awaitIncoming(until: deadline)
        }
    }

    func write(_ bytes: [UInt8]) throws(ChannelError) {
        try send(bytes, standardError: false)
    }

    /// Writes a message on the channel's standard error (SSH extended data, RFC 4254 §5.2).
    func writeStandardError(_ text: String) throws(ChannelError) {
        try send(Array(text.utf8), standardError: true)
    }

    private func send(_ bytes: [UInt8], standardError: Bool) throws(ChannelError) {
        // (Array's closures rethrow untyped errors: the typed one travels in a Result.)
        let result: Result<Void, ChannelError> = bytes.withUnsafeBytes { raw in
            do throws(ChannelError) {
                return .success(try send(raw, standardError: standardError))
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Sends all of `bytes`, at most the client's window at a time (RFC 4254 §5.2): with no window
    /// left, waits without the lock for the client's WINDOW_ADJUST, which another thread (or this
    /// one's flush) handles.
    private func send(_ bytes: UnsafeRawBufferPointer, standardError: Bool) throws(ChannelError) {
        transport.lock()
        defer { transport.unlock() }
        var offset = 0
        var lastProgress = Date()
        while offset < bytes.count {
            guard ssh_channel_is_closed(channel) == 0 else {
                throw ChannelError("channel write: the client closed the channel")
            }
            guard Date().timeIntervalSince(lastProgress) < writeTimeout else {
                throw ChannelError("channel write: the client took nothing for \(Int(writeTimeout)) s")
            }
            let window = Int(ssh_channel_window_size(channel))
            if window == 0 {
                try transport.drainOutput(timeout: writeTimeout)
                if ssh_channel_window_size(channel) == 0 {
                    transport.waitForPackets(until: Date().addingTimeInterval(0.2))
                }
                continue
            }
            let length = UInt32(min(window, bytes.count - offset))
            let start = bytes.baseAddress! + offset
            let written = standardError ? ssh_channel_write_stderr(channel, start, length) : ssh_channel_write(channel, start, length)
            if written == SSH_ERROR {
                throw ChannelError("channel write: \(SSHConnection.lastError(transport.session))")
            }
            if written == 0 {
                // Nothing taken (a key re-exchange under way): let the packets that end it arrive.
                transport.waitForPackets(until: Date().addingTimeInterval(0.05))
                continue
            }
            offset += Int(written)
            lastProgress = Date()
            try transport.drainOutput(timeout: writeTimeout)
        }
    }

    /// Ends the channel as OpenSSH's servers do (exit-status, EOF, close; RFC 4254 §6.10): scp and
    /// the checksum commands report failure in the exit status.
    func close(exitStatus: Int32 = 0) {
        transport.lock()
        defer { transport.unlock() }
        if ssh_channel_is_closed(channel) == 0 {
            ssh_channel_request_send_exit_status(channel, exitStatus)
            ssh_channel_send_eof(channel)
            ssh_channel_close(channel)
            try? transport.drainOutput(timeout: writeTimeout)
        }
    }
}
