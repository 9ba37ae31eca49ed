/// Splits the control connection's bytes into command lines (RFC 959 §4.1): Telnet IAC sequences
/// removed (ABOR arrives as `IAC IP IAC DM ABOR`), CRLF or LF line ends, lines longer than
/// `maxLineBytes` discarded up to their end and reported once, invalid UTF-8 reported. Pure: no I/O,
/// so the control channel feeds it and the fuzzer drives it directly.
struct FTPLineReader {
    /// Longest command line accepted (bytes, without the line ending).
    static let maxLineBytes = 8192

    private enum Telnet {
        static let interpretAsCommand: UInt8 = 0xFF
        static let will: UInt8 = 0xFB
        static let wont: UInt8 = 0xFC
        static let doOption: UInt8 = 0xFD
        static let dont: UInt8 = 0xFE
    }

    private static let newline = UInt8(ascii: "\n")
    /// Stands in `pending` for a discarded long line (a NUL never survives into a command line:
    /// a line holding only it is the marker).
    private static let longLineMarker: [UInt8] = [0, newline]

    private var pending: [UInt8] = []
    /// Where the unread part of `pending` begins: lines are taken by moving it, and the consumed
    /// bytes are dropped only when all are read or they are most of the array, so a read holding
    /// many short lines costs linear time, not a shift of the whole buffer per line.
    private var readOffset = 0
    private var discardingLongLine = false
    /// Bytes still to be skipped from a Telnet sequence split across reads.
    private var telnetSkip = 0
    private var sawIAC = false
    private var currentLineLength = 0

    /// No bytes are held (not even part of a line).
    var isEmpty: Bool { readOffset == pending.count }
    /// A complete line is waiting.
    var hasLine: Bool { pending[readOffset...].contains(Self.newline) }

    mutating func feed(_ bytes: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            // Fast path: ordinary bytes (no Telnet sequence in progress, no IAC, no line end) are
            // appended in one piece, up to the line limit; every other byte, and the one that goes
            // past the limit, goes through `accept`. Each byte is scanned once: linear time.
            if telnetSkip == 0 && !sawIAC && !discardingLongLine {
                let runEnd = bytes[index...].firstIndex { $0 == Telnet.interpretAsCommand || $0 == Self.newline }
                    ?? bytes.endIndex
                let take = min(runEnd - index, Self.maxLineBytes - currentLineLength)
                if take > 0 {
                    pending.append(contentsOf: bytes[index..<index + take])
                    currentLineLength += take
                    index += take
                    continue
                }
            }
            accept(bytes[index])
            index += 1
        }
    }

    mutating func feed(_ bytes: [UInt8]) { feed(bytes[...]) }

    /// The next complete line, or nil until one has arrived.
    mutating func nextLine() -> FTPControlInput? {
        guard let newline = pending[readOffset...].firstIndex(of: Self.newline) else { return nil }
        var line = Array(pending[readOffset..<newline])
        readOffset = newline + 1
        if readOffset == pending.count {
            pending.removeAll(keepingCapacity: true)
            readOffset = 0
        } else if readOffset > pending.count / 2 {
            pending.removeSubrange(..<readOffset)
            readOffset = 0
        }
        if line == [0] { return .tooLong }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard let text = String(validating: line, as: UTF8.self) else { return .invalidEncoding }
        return .line(text)
    }

    /// Filters Telnet commands out of the stream and appends ordinary bytes.
    private mutating func accept(_ byte: UInt8) {
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

    private mutating func append(_ byte: UInt8) {
        if discardingLongLine {
            if byte == Self.newline {
                discardingLongLine = false
                pending.append(contentsOf: Self.longLineMarker)  // marker: report the long line
            }
            return
        }
        pending.append(byte)
        if byte == Self.newline {
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
}
