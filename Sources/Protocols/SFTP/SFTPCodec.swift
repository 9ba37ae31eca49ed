/// Why a packet could not be decoded. The engine answers BAD_MESSAGE (or closes the session for a
/// framing error) and logs the reason.
enum SFTPDecodeError: Error, Equatable, Sendable {
    case truncated
    case unknownType(UInt8)
    case oversized(length: Int, limit: Int)
    case invalidField(String)
}

/// File attributes (draft-02 §5); absent fields are nil.
struct SFTPAttributes: Equatable, Sendable {
    var size: UInt64?
    var ownerGroup: (uid: UInt32, gid: UInt32)?
    var permissions: UInt32?
    var times: (access: UInt32, modification: UInt32)?
    var extended: [(name: String, value: [UInt8])] = []

    static let empty = SFTPAttributes()

    static func == (a: SFTPAttributes, b: SFTPAttributes) -> Bool {
        a.size == b.size && a.ownerGroup?.uid == b.ownerGroup?.uid && a.ownerGroup?.gid == b.ownerGroup?.gid
            && a.permissions == b.permissions && a.times?.access == b.times?.access
            && a.times?.modification == b.times?.modification
            && a.extended.map(\.name) == b.extended.map(\.name) && a.extended.map(\.value) == b.extended.map(\.value)
    }
}

/// Reads SSH wire types (RFC 4251 §5) from one packet, never past its end. Works on a slice of the
/// receive buffer, so that a WRITE's data reaches the upload without an extra copy.
struct SFTPReader {
    private let bytes: ArraySlice<UInt8>
    /// An absolute index into `bytes` (slices keep their parent's indices).
    private(set) var offset: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.offset = bytes.startIndex
    }

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes[...]
        self.offset = offset
    }

    var isAtEnd: Bool { offset == bytes.endIndex }

    mutating func byte() throws(SFTPDecodeError) -> UInt8 {
        guard offset < bytes.endIndex else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint32() throws(SFTPDecodeError) -> UInt32 {
        guard bytes.endIndex - offset >= 4 else { throw .truncated }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() throws(SFTPDecodeError) -> UInt64 {
        UInt64(try uint32()) << 32 | UInt64(try uint32())
    }

    /// A length-prefixed byte string; its length must fit in what is left of the packet.
    mutating func string() throws(SFTPDecodeError) -> [UInt8] {
        Array(try stringSlice())
    }

    /// A length-prefixed byte string as a view into the packet (no copy).
    mutating func stringSlice() throws(SFTPDecodeError) -> ArraySlice<UInt8> {
        let length = Int(try uint32())
        guard length <= bytes.endIndex - offset else { throw .truncated }
        defer { offset += length }
        return bytes[offset..<offset + length]
    }

    mutating func utf8String() throws(SFTPDecodeError) -> String {
        guard let text = String(validating: try string(), as: UTF8.self) else { throw .invalidField("string is not UTF-8") }
        return text
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.endIndex }
        return Array(bytes[offset...])
    }

    mutating func attributes() throws(SFTPDecodeError) -> SFTPAttributes {
        let flags = SFTPAttributeFlags(rawValue: try uint32())
        var attributes = SFTPAttributes()
        if flags.contains(.size) { attributes.size = try uint64() }
        if flags.contains(.ownerGroup) { attributes.ownerGroup = (try uint32(), try uint32()) }
        if flags.contains(.permissions) { attributes.permissions = try uint32() }
        if flags.contains(.accessModificationTime) { attributes.times = (try uint32(), try uint32()) }
        if flags.contains(.extended) {
            let count = try uint32()
            // Each pair needs at least 8 bytes: a count beyond the packet is malformed, not a loop.
            guard Int(count) <= (bytes.endIndex - offset) / 8 else { throw .truncated }
            for _ in 0..<count { attributes.extended.append((try utf8String(), try string())) }
        }
        return attributes
    }
}

/// Writes SSH wire types.
struct SFTPWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the first four bytes are a placeholder for the packet length (see `framedPacket`).
    private var reservesFrame = false

    init() {}

    /// A writer for one whole packet: the length is filled in by `framed()` without copying the body.
    static func framedPacket(capacity: Int = 64) -> SFTPWriter {
        var writer = SFTPWriter()
        writer.bytes.reserveCapacity(capacity)
        writer.bytes = [0, 0, 0, 0]
        writer.reservesFrame = true
        return writer
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// The start of every reply but VERSION: packet type, then the request id it answers.
    mutating func header(_ type: SFTPPacketType, id: UInt32) {
        byte(type.rawValue)
        uint32(id)
    }

    mutating func uint32(_ value: UInt32) {
        bytes.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }

    mutating func uint64(_ value: UInt64) {
        uint32(UInt32(value >> 32))
        uint32(UInt32(value & 0xFFFF_FFFF))
    }

    mutating func string<C: Collection>(_ value: C) where C.Element == UInt8 {
        uint32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) { string(Array(value.utf8)) }

    mutating func raw<C: Collection>(_ value: C) where C.Element == UInt8 { bytes.append(contentsOf: value) }

    mutating func attributes(_ attributes: SFTPAttributes) {
        var flags: SFTPAttributeFlags = []
        if attributes.size != nil { flags.insert(.size) }
        if attributes.ownerGroup != nil { flags.insert(.ownerGroup) }
        if attributes.permissions != nil { flags.insert(.permissions) }
        if attributes.times != nil { flags.insert(.accessModificationTime) }
        if !attributes.extended.isEmpty { flags.insert(.extended) }
        uint32(flags.rawValue)
        if let size = attributes.size { uint64(size) }
        if let owner = attributes.ownerGroup { uint32(owner.uid); uint32(owner.gid) }
        if let permissions = attributes.permissions { uint32(permissions) }
        if let times = attributes.times { uint32(times.access); uint32(times.modification) }
        if !attributes.extended.isEmpty {
            uint32(UInt32(attributes.extended.count))
            for (name, value) in attributes.extended { string(name); string(value) }
        }
    }

    /// The packet with its length prefix (the frame every SFTP packet travels in).
    consuming func framed() -> [UInt8] {
        if reservesFrame {
            let length = UInt32(bytes.count - 4)
            bytes[0] = UInt8(length >> 24)
            bytes[1] = UInt8(length >> 16 & 0xFF)
            bytes[2] = UInt8(length >> 8 & 0xFF)
            bytes[3] = UInt8(length & 0xFF)
            return bytes
        }
        var out = SFTPWriter()
        out.uint32(UInt32(bytes.count))
        return out.bytes + bytes
    }
}

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
