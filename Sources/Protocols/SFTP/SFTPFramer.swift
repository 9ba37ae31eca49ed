/// Splits the channel's byte stream into packets (uint32 length, then that many bytes). A length
/// above `maximumPacketLength` is a framing error: the session is closed with a log line.
struct SFTPFramer {
    /// What Ferry advertises in limits@openssh.com, plus room for the header of a WRITE.
    let maximumPacketLength: Int
    private var buffer: [UInt8] = []
    /// `buffer[start..<end]` holds bytes received but not yet returned as packets. Bytes are
    /// received straight into `buffer` and packets are slices of it: no copy per packet.
    private var start = 0
    private var end = 0

    init(maximumPacketLength: Int) { self.maximumPacketLength = maximumPacketLength }

    /// Bytes received but not yet returned as packets.
    var bufferedCount: Int { end - start }

    /// Lets `receive` write up to `space` bytes after the buffered ones; it returns how many it
    /// wrote (nil: nothing, the source has ended). Packets returned earlier must not be in use any
    /// more (the buffer is reused).
    mutating func receive<E: Error>(space: Int, _ receive: (UnsafeMutableRawBufferPointer) throws(E) -> Int?) throws(E) -> Int? {
        if start == end {
            start = 0
            end = 0
        } else if buffer.count - end < space && start > 0 {
            // Move the partial packet to the front; it is short compared to what was consumed.
            let pending = end - start
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: pending)
            }
            start = 0
            end = pending
        }
        if buffer.count - end < space {
            // A zeroed array appended in one copy: appending `repeatElement(0, count:)` walks the
            // generic Repeated sequence byte by byte in unoptimised builds, and under
            // ThreadSanitizer each step takes a runtime lock (several sessions starting at once
            // stalled for minutes in `make test-tsan`).
            buffer.append(contentsOf: [UInt8](repeating: 0, count: space - (buffer.count - end)))
        }
        let end = self.end
        let outcome: Result<Int?, E> = buffer.withUnsafeMutableBytes { raw in
            do throws(E) {
                return .success(try receive(UnsafeMutableRawBufferPointer(rebasing: raw[end..<end + space])))
            } catch {
                return .failure(error)
            }
        }
        let count = try outcome.get()
        if let count { self.end += count }
        return count
    }

    /// Appends bytes (tests, and sources that hand out their own buffers).
    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        _ = receive(space: bytes.count) { (raw: UnsafeMutableRawBufferPointer) -> Int? in
            raw.copyBytes(from: bytes)
            return bytes.count
        }
    }

    /// The next complete packet (type byte onwards), nil when more bytes are needed.
    mutating func nextPacket() throws(SFTPDecodeError) -> ArraySlice<UInt8>? {
        guard end - start >= 4 else { return nil }
        let length = Int(buffer[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length >= 1 else { throw .invalidField("empty packet") }
        guard length <= maximumPacketLength else { throw .oversized(length: length, limit: maximumPacketLength) }
        guard end - start >= 4 + length else { return nil }
        let packet = buffer[start + 4..<start + 4 + length]
        start += 4 + length
        return packet
    }
}
