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
