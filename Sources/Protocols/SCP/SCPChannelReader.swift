import Foundation

/// Buffered reads of the scp protocol's lines and data from a channel, with the session's idle
/// timeout: a client silent for that long ends the transfer.
final class SCPChannelReader {
    static let maxLineLength = 4096

    enum Failure: Error {
        case channel(ChannelError)
        case ended
        case idle
        case lineTooLong
    }

    private let channel: any ChannelIO
    private let idleTimeout: TimeInterval
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where channel reads land before they join `buffer` (reused: no allocation per read).
    private var chunk = [UInt8](repeating: 0, count: 256 * 1024)

    init(channel: any ChannelIO, idleTimeout: TimeInterval) {
        self.channel = channel
        self.idleTimeout = idleTimeout
    }

    /// Waits for more bytes; returns false when the client closed the channel.
    private func fill() throws(Failure) -> Bool {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        let deadline = Date().addingTimeInterval(idleTimeout)
        while true {
            let received: Int?
            do {
                received = try chunk.withUnsafeMutableBytes { raw throws(ChannelError) in try channel.read(into: raw, timeout: 1) }
            } catch let error as ChannelError {
                throw .channel(error)
            } catch {
                throw .channel(ChannelError("\(error)"))
            }
            guard let received else { return false }
            if received > 0 {
                buffer.append(contentsOf: chunk[0..<received])
                return true
            }
            if Date() > deadline { throw .idle }
        }
    }

    /// One byte, or nil at the end of the channel.
    func byte() throws(Failure) -> UInt8? {
        if start == buffer.count, try !fill() { return nil }
        defer { start += 1 }
        return buffer[start]
    }

    /// A line without its newline, or nil at the end of the channel.
    func line() throws(Failure) -> [UInt8]? {
        var line: [UInt8] = []
        while true {
            guard let next = try byte() else { return line.isEmpty ? nil : line }
            if next == UInt8(ascii: "\n") { return line }
            line.append(next)
            if line.count > Self.maxLineLength { throw .lineTooLong }
        }
    }

    /// Hands exactly `count` bytes to `consume` in chunks; throws `.ended` if the channel ends first.
    func data(_ count: UInt64, _ consume: (ArraySlice<UInt8>) throws -> Void) throws -> Void {
        var remaining = count
        while remaining > 0 {
            if start == buffer.count, try !fill() { throw Failure.ended }
            let take = Int(min(UInt64(buffer.count - start), remaining))
            try consume(buffer[start..<start + take])
            start += take
            remaining -= UInt64(take)
        }
    }
}
