@testable import Protocols
import Testing

/// The FTP control stream's line splitter (RFC 959 §4.1) without a socket.
@Suite struct FTPLineReaderTests {
    private static func drain(_ reader: inout FTPLineReader) -> [FTPControlInput] {
        var inputs: [FTPControlInput] = []
        while let input = reader.nextLine() { inputs.append(input) }
        return inputs
    }

    @Test func linesEndWithCRLFOrLFAndMayArriveInPieces() {
        var reader = FTPLineReader()
        reader.feed(Array("USER al".utf8))
        #expect(reader.nextLine() == nil)
        #expect(!reader.hasLine && !reader.isEmpty)
        reader.feed(Array("ice\r\nPASS x\nNOOP".utf8))
        #expect(Self.drain(&reader) == [.line("USER alice"), .line("PASS x")])
        reader.feed(Array("\r\n".utf8))
        #expect(Self.drain(&reader) == [.line("NOOP")])
        #expect(reader.isEmpty)
    }

    /// Many short lines in one read come out in order, however the reads and takes interleave (the
    /// reader drops consumed bytes lazily).
    @Test func manyShortLinesInOneReadKeepTheirOrder() {
        var reader = FTPLineReader()
        let lines = (0..<5000).map { "NOOP \($0)" }
        reader.feed(Array(lines.prefix(3000).joined(separator: "\r\n").utf8) + Array("\r\n".utf8))
        var seen: [FTPControlInput] = []
        for _ in 0..<1000 { seen.append(reader.nextLine()!) }
        reader.feed(Array(lines.suffix(2000).joined(separator: "\n").utf8) + Array("\nNOOP tail".utf8))
        seen += Self.drain(&reader)
        #expect(seen == lines.map { .line($0) })
        #expect(!reader.isEmpty && !reader.hasLine)
        reader.feed([UInt8(ascii: "\n")])
        #expect(Self.drain(&reader) == [.line("NOOP tail")])
        #expect(reader.isEmpty)
    }

    @Test func telnetSequencesAreRemoved() {
        var reader = FTPLineReader()
        // ABOR as clients send it: IAC IP, IAC DM (urgent), then the command; IAC IAC is one 0xFF.
        reader.feed([0xFF, 0xF4, 0xFF, 0xF2] + Array("ABOR\r\n".utf8))
        reader.feed([0xFF, 0xFB])  // IAC WILL, option byte in the next read
        reader.feed([0x01] + Array("NOOP\r\n".utf8))
        #expect(Self.drain(&reader) == [.line("ABOR"), .line("NOOP")])
    }

    @Test func aLongLineIsReportedOnceAndTheNextLineIsIntact() {
        var reader = FTPLineReader()
        reader.feed(Array("NOOP\r\n".utf8))
        reader.feed([UInt8](repeating: UInt8(ascii: "a"), count: FTPLineReader.maxLineBytes + 10))
        reader.feed([UInt8](repeating: UInt8(ascii: "a"), count: 100_000))
        reader.feed(Array("\r\nPWD\r\n".utf8))
        #expect(Self.drain(&reader) == [.line("NOOP"), .tooLong, .line("PWD")])
        reader.feed([UInt8](repeating: UInt8(ascii: "b"), count: FTPLineReader.maxLineBytes) + Array("\n".utf8))
        #expect(Self.drain(&reader) == [.line(String(repeating: "b", count: FTPLineReader.maxLineBytes))])
    }

    @Test func invalidUTF8IsReportedAndTheStreamGoesOn() {
        var reader = FTPLineReader()
        reader.feed(Array("CWD ".utf8) + [0xC0, 0xAF] + Array("\r\nPWD\r\n".utf8))
        #expect(Self.drain(&reader) == [.invalidEncoding, .line("PWD")])
    }
}
