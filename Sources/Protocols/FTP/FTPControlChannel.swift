import Foundation

/// What reading the next command produced.
enum FTPControlInput: Equatable {
    case line(String)
    /// The line was longer than the limit; it was discarded up to its end.
    case tooLong
    /// The line was not valid UTF-8.
    case invalidEncoding
    case closed
    case timedOut
}

/// The control connection's byte stream: reads CRLF- (or LF-) terminated lines with Telnet IAC
/// sequences removed (RFC 959 §4.1.3 sends ABOR as `IAC IP IAC DM ABOR`), bounds line length, and
/// writes replies.
final class FTPControlChannel {
    /// Longest command line accepted (bytes, without the line ending).
    static let maxLineBytes = FTPLineReader.maxLineBytes

    /// The connection: plain until AUTH TLS (or TLS from the first byte on an implicit-TLS listener).
    private(set) var stream: any ByteStream
    var socket: Socket { stream.socket }
    var isProtected: Bool { stream is TLSStream }
    let writeTimeout: TimeInterval
    private var lines = FTPLineReader()
    private var readBuffer = [UInt8](repeating: 0, count: 4096)
    private var closedByPeer = false

    init(stream: any ByteStream, writeTimeout: TimeInterval) {
        self.stream = stream
        self.writeTimeout = writeTimeout
    }

    /// Switches to TLS after `234` (RFC 4217 §4). Anything the client sent after AUTH in clear text
    /// is discarded: a command injected before the handshake must never run with TLS authority.
    func upgrade(context: TLSContext, timeout: TimeInterval) throws(SocketError) {
        lines = FTPLineReader()
        stream = try TLSStream(accepting: stream.socket, context: context, isDataConnection: false, timeout: timeout)
    }

    /// Waits up to `timeout` for the next complete line. The time is for the whole line, not for
    /// each byte: a client that trickles a byte every few seconds (slow-loris) still times out.
    func readLine(timeout: TimeInterval?) -> FTPControlInput {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if let input = lines.nextLine() { return input }
            if closedByPeer { return .closed }
            do {
                let remaining = deadline.map { max(0, $0.timeIntervalSinceNow) }
                guard try stream.waitReadable(timeout: remaining) else { return .timedOut }
                if try !fill() { return .closed }
            } catch {
                return .closed
            }
        }
    }

    /// Reads what has arrived without blocking and returns a complete line if there is one
    /// (used during transfers to notice ABOR and STAT).
    func pollLine() -> FTPControlInput? {
        if let input = lines.nextLine() { return input }
        guard !closedByPeer else { return .closed }
        do {
            guard try stream.waitReadable(timeout: 0) else { return nil }
            if try !fill() { return .closed }
        } catch {
            return .closed
        }
        return lines.nextLine()
    }

    /// True when complete lines are already buffered (a pipelining client).
    var hasBufferedLine: Bool { lines.hasLine }

    /// Reads what has arrived; false when the client has gone.
    private func fill() throws -> Bool {
        let read = try readBuffer.withUnsafeMutableBytes { raw throws(SocketError) in try stream.readAvailable(into: raw) }
        guard let count = read else { return true }  // nothing yet (a partial TLS record)
        if count == 0 {
            closedByPeer = true
            return !lines.isEmpty
        }
        lines.feed(readBuffer[0..<count])
        return true
    }

    /// Sends one reply. Returns false when the client is gone.
    @discardableResult
    func send(_ reply: FTPReply) -> Bool {
        do {
            try stream.writeAll(Array(reply.wireText.utf8), timeout: writeTimeout)
            return true
        } catch {
            return false
        }
    }
}
