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
