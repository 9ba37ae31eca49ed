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
    static let maxLineBytes = 8192

    private enum Telnet {
        static let interpretAsCommand: UInt8 = 0xFF
        static let will: UInt8 = 0xFB
        static let wont: UInt8 = 0xFC
        static let doOption: UInt8 = 0xFD
        static let dont: UInt8 = 0xFE
    }

    /// The connection: plain until AUTH TLS (or TLS from the first byte on an implicit-TLS listener).
    private(set) var stream: any ByteStream
    var socket: Socket { stream.socket }
    var isProtected: Bool { stream is TLSStream }
    let writeTimeout: TimeInterval
    private var pending: [UInt8] = []
    private var readBuffer = [UInt8](repeating: 0, count: 4096)
    private var discardingLongLine = false
    /// Bytes still to be skipped from a Telnet sequence split across reads.
    private var telnetSkip = 0
    private var closedByPeer = false

    init(stream: any ByteStream, writeTimeout: TimeInterval) {
        self.stream = stream
        self.writeTimeout = writeTimeout
    }

    /// Switches to TLS after `234` (RFC 4217 §4). Anything the client sent after AUTH in clear text
    /// is discarded: a command injected before the handshake must never run with TLS authority.
    func upgrade(context: TLSContext, timeout: TimeInterval) throws(SocketError) {
        pending = []
        currentLineLength = 0
        discardingLongLine = false
        stream = try TLSStream(accepting: stream.socket, context: context, isDataConnection: false, timeout: timeout)
    }

    /// Waits up to `timeout` for the next complete line. The time is for the whole line, not for
    /// each byte: a client that trickles a byte every few seconds (slow-loris) still times out.
    func readLine(timeout: TimeInterval?) -> FTPControlInput {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if let input = takeLine() { return input }
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
        if let input = takeLine() { return input }
        guard !closedByPeer else { return .closed }
        do {
            guard try stream.waitReadable(timeout: 0) else { return nil }
            if try !fill() { return .closed }
        } catch {
            return .closed
        }
        return takeLine()
    }

    /// True when complete lines are already buffered (a pipelining client).
    var hasBufferedLine: Bool { pending.contains(UInt8(ascii: "\n")) }

    /// Reads what has arrived; false when the client has gone.
    private func fill() throws -> Bool {
        let read = try readBuffer.withUnsafeMutableBytes { raw throws(SocketError) in try stream.readAvailable(into: raw) }
        guard let count = read else { return true }  // nothing yet (a partial TLS record)
        if count == 0 {
            closedByPeer = true
            return !pending.isEmpty
        }
        for byte in readBuffer[0..<count] { accept(byte) }
        return true
    }

    /// Filters Telnet commands out of the stream and appends ordinary bytes.
    private var sawIAC = false
    private func accept(_ byte: UInt8) {
        if telnetSkip > 0 {
            telnetSkip -= 1
            return
        }
        if sawIAC {
            sawIAC = false
            switch byte {
            case Telnet.interpretAsCommand: append(byte)        // IAC IAC is a literal 0xFF
            case Telnet.will, Telnet.wont, Telnet.doOption, Telnet.dont: telnetSkip = 1  // option byte follows
            default: break                                    // IP, DM, AO, … carry no data
            }
            return
        }
        if byte == Telnet.interpretAsCommand {
            sawIAC = true
            return
        }
        append(byte)
    }

    private var currentLineLength = 0

    private func append(_ byte: UInt8) {
        if discardingLongLine {
            if byte == UInt8(ascii: "\n") {
                discardingLongLine = false
                pending.append(contentsOf: [0, UInt8(ascii: "\n")])  // marker: report the long line
            }
            return
        }
        pending.append(byte)
        if byte == UInt8(ascii: "\n") {
            currentLineLength = 0
            return
        }
        currentLineLength += 1
        if currentLineLength > Self.maxLineBytes {
            pending.removeLast(currentLineLength)
            currentLineLength = 0
            discardingLongLine = true
        }
    }

    private func takeLine() -> FTPControlInput? {
        guard let newline = pending.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var line = Array(pending[..<newline])
        pending.removeSubrange(...newline)
        if line == [0] { return .tooLong }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard let text = String(validating: line, as: UTF8.self) else { return .invalidEncoding }
        return .line(text)
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
