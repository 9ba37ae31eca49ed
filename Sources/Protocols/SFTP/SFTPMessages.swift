import Foundation

/// A client request, fully parsed (OpenSSH's rule: parse all arguments first, then act once).
/// Paths and handles stay bytes here; the engine validates paths through `VirtualPath.resolve(bytes:)`.
enum SFTPRequest: Sendable {
    case initialize(version: UInt32)
    case open(id: UInt32, path: [UInt8], flags: SFTPOpenFlags, attributes: SFTPAttributes)
    case close(id: UInt32, handle: [UInt8])
    case read(id: UInt32, handle: [UInt8], offset: UInt64, length: UInt32)
    /// The data is a view into the receive buffer: stream it or copy it before the next receive.
    case write(id: UInt32, handle: [UInt8], offset: UInt64, data: ArraySlice<UInt8>)
    case lstat(id: UInt32, path: [UInt8])
    case fstat(id: UInt32, handle: [UInt8])
    case setstat(id: UInt32, path: [UInt8], attributes: SFTPAttributes)
    case fsetstat(id: UInt32, handle: [UInt8], attributes: SFTPAttributes)
    case opendir(id: UInt32, path: [UInt8])
    case readdir(id: UInt32, handle: [UInt8])
    case remove(id: UInt32, path: [UInt8])
    case mkdir(id: UInt32, path: [UInt8], attributes: SFTPAttributes)
    case rmdir(id: UInt32, path: [UInt8])
    case realpath(id: UInt32, path: [UInt8])
    case stat(id: UInt32, path: [UInt8])
    case rename(id: UInt32, from: [UInt8], to: [UInt8])
    case readlink(id: UInt32, path: [UInt8])
    case symlink(id: UInt32, linkPath: [UInt8], targetPath: [UInt8])
    /// SSH_FXP_EXTENDED: the name selects the extension; the payload is parsed by its handler.
    case extended(id: UInt32, name: String, payload: [UInt8])

    /// The request id every reply must carry (nil for INIT).
    var id: UInt32? {
        switch self {
        case .initialize: nil
        case .open(let id, _, _, _), .close(let id, _), .read(let id, _, _, _), .write(let id, _, _, _),
             .lstat(let id, _), .fstat(let id, _), .setstat(let id, _, _), .fsetstat(let id, _, _),
             .opendir(let id, _), .readdir(let id, _), .remove(let id, _), .mkdir(let id, _, _), .rmdir(let id, _),
             .realpath(let id, _), .stat(let id, _), .rename(let id, _, _), .readlink(let id, _),
             .symlink(let id, _, _), .extended(let id, _, _):
            id
        }
    }

    /// Whether the request works on a handle already open (a transfer or listing under way), as
    /// opposed to starting something new. A removed user's session finishes the former only.
    var continuesOpenHandle: Bool {
        switch self {
        case .close, .read, .write, .fstat, .fsetstat, .readdir: true
        case .initialize, .open, .lstat, .setstat, .opendir, .remove, .mkdir, .rmdir, .realpath, .stat, .rename,
             .readlink, .symlink, .extended: false
        }
    }

    /// Parses one packet (type byte onwards). Trailing bytes after the arguments are malformed,
    /// except after INIT's version (extension pairs) and an extended request's payload.
    static func decode(_ packet: [UInt8]) throws(SFTPDecodeError) -> SFTPRequest {
        try decode(packet[...])
    }

    static func decode(_ packet: ArraySlice<UInt8>) throws(SFTPDecodeError) -> SFTPRequest {
        var reader = SFTPReader(packet)
        let typeByte = try reader.byte()
        guard let type = SFTPPacketType(rawValue: typeByte) else { throw .unknownType(typeByte) }
        if type == .initialize {
            return .initialize(version: try reader.uint32())
        }
        let id = try reader.uint32()
        let request: SFTPRequest
        switch type {
        case .open:
            request = .open(id: id, path: try reader.string(), flags: SFTPOpenFlags(rawValue: try reader.uint32()),
                            attributes: try reader.attributes())
        case .close: request = .close(id: id, handle: try reader.string())
        case .read: request = .read(id: id, handle: try reader.string(), offset: try reader.uint64(), length: try reader.uint32())
        case .write: request = .write(id: id, handle: try reader.string(), offset: try reader.uint64(), data: try reader.stringSlice())
        case .lstat: request = .lstat(id: id, path: try reader.string())
        case .fstat: request = .fstat(id: id, handle: try reader.string())
        case .setstat: request = .setstat(id: id, path: try reader.string(), attributes: try reader.attributes())
        case .fsetstat: request = .fsetstat(id: id, handle: try reader.string(), attributes: try reader.attributes())
        case .opendir: request = .opendir(id: id, path: try reader.string())
        case .readdir: request = .readdir(id: id, handle: try reader.string())
        case .remove: request = .remove(id: id, path: try reader.string())
        case .mkdir: request = .mkdir(id: id, path: try reader.string(), attributes: try reader.attributes())
        case .rmdir: request = .rmdir(id: id, path: try reader.string())
        case .realpath: request = .realpath(id: id, path: try reader.string())
        case .stat: request = .stat(id: id, path: try reader.string())
        case .rename: request = .rename(id: id, from: try reader.string(), to: try reader.string())
        case .readlink: request = .readlink(id: id, path: try reader.string())
        case .symlink: request = .symlink(id: id, linkPath: try reader.string(), targetPath: try reader.string())
        case .extended: return .extended(id: id, name: try reader.utf8String(), payload: reader.rest())
        case .initialize, .version, .status, .handle, .data, .name, .attributes, .extendedReply:
            throw .unknownType(typeByte)  // server-to-client types are not requests
        }
        guard reader.isAtEnd else { throw .invalidField("trailing bytes after the arguments") }
        return request
    }
}

/// One directory entry of a NAME reply: file name, `ls -l` style long name, attributes.
struct SFTPNameEntry: Sendable {
    var filename: [UInt8]
    var longname: String
    var attributes: SFTPAttributes
}

/// A server reply. Every request id gets exactly one (the engine's `reply(to:)` enforces it).
enum SFTPReply: Sendable {
    case version(extensions: [(name: String, data: String)])
    case status(id: UInt32, code: SFTPStatusCode, message: String)
    case handle(id: UInt32, handle: [UInt8])
    case data(id: UInt32, bytes: [UInt8])
    case name(id: UInt32, entries: [SFTPNameEntry])
    case attributes(id: UInt32, attributes: SFTPAttributes)
    case extendedReply(id: UInt32, payload: [UInt8])

    /// The framed wire form (length prefix included).
    var encoded: [UInt8] {
        var writer: SFTPWriter
        if case .data(_, let bytes) = self {
            writer = .framedPacket(capacity: bytes.count + 13)
        } else {
            writer = .framedPacket()
        }
        switch self {
        case .version(let extensions):
            writer.byte(SFTPPacketType.version.rawValue)
            writer.uint32(SFTPVersion.supported)
            for (name, data) in extensions { writer.string(name); writer.string(data) }
        case .status(let id, let code, let message):
            writer.header(.status, id: id)
            writer.uint32(code.rawValue)
            writer.string(message)
            writer.string("en")
        case .handle(let id, let handle):
            writer.header(.handle, id: id)
            writer.string(handle)
        case .data(let id, let bytes):
            writer.header(.data, id: id)
            writer.string(bytes)
        case .name(let id, let entries):
            writer.header(.name, id: id)
            writer.uint32(UInt32(entries.count))
            for entry in entries {
                writer.string(entry.filename)
                writer.string(entry.longname)
                writer.attributes(entry.attributes)
            }
        case .attributes(let id, let attributes):
            writer.header(.attributes, id: id)
            writer.attributes(attributes)
        case .extendedReply(let id, let payload):
            writer.header(.extendedReply, id: id)
            writer.raw(payload)
        }
        return writer.framed()
    }
}

extension SFTPNameEntry {
    /// A READDIR entry with OpenSSH's `ls -l` style long name.
    init(_ info: FileInfo, now: Date) {
        self.init(filename: Array(info.name.utf8), longname: LongListing.line(info, now: now), attributes: SFTPAttributes(info))
    }
}
