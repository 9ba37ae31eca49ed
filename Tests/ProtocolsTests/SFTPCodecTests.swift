import Foundation
@testable import Protocols
import Testing

/// The SFTP v3 codec without SSH: framing, every request type, replies, malformed packets.
@Suite struct SFTPCodecTests {
    /// Builds a request packet the way a client does.
    static func packet(_ type: SFTPPacketType, id: UInt32? = 7, _ body: (inout SFTPWriter) -> Void = { _ in }) -> [UInt8] {
        var writer = SFTPWriter()
        writer.byte(type.rawValue)
        if let id { writer.uint32(id) }
        body(&writer)
        return writer.bytes
    }

    @Test func framingReceivesInPlaceAcrossBufferReuse() throws {
        // 300 packets of varying sizes, received in chunks that split them anywhere: the framer
        // moves partial packets to the front and reuses its buffer; every packet comes out intact.
        var stream: [UInt8] = []
        var expected: [[UInt8]] = []
        for index in 0..<300 {
            let body = (0..<(1 + index * 37 % 5000)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            var writer = SFTPWriter()
            writer.raw(body)
            stream += writer.framed()
            expected.append(body)
        }
        var framer = SFTPFramer(maximumPacketLength: 8192)
        var received: [[UInt8]] = []
        var position = 0
        var chunk = 1
        while position < stream.count {
            let count = min(chunk, stream.count - position)
            let got = framer.receive(space: 7000) { (raw: UnsafeMutableRawBufferPointer) -> Int? in
                raw.copyBytes(from: stream[position..<position + count])
                return count
            }
            #expect(got == count)
            position += count
            chunk = chunk * 7 % 6997 + 1
            while let packet = try framer.nextPacket() { received.append(Array(packet)) }
        }
        #expect(received == expected)
        #expect(framer.bufferedCount == 0)
    }

    @Test func framingSplitsPacketsAcrossArbitraryChunks() throws {
        var stream: [UInt8] = []
        var first = SFTPWriter(); first.raw(Self.packet(.initialize, id: nil) { $0.uint32(3) })
        var second = SFTPWriter(); second.raw(Self.packet(.stat) { $0.string("/a b") })
        stream = first.framed() + second.framed()
        var framer = SFTPFramer(maximumPacketLength: 1024)
        var packets: [[UInt8]] = []
        for byte in stream {  // one byte at a time: the worst case of a stream
            framer.append([byte])
            while let packet = try framer.nextPacket() { packets.append(Array(packet)) }
        }
        #expect(packets.count == 2)
        guard case .initialize(let version) = try SFTPRequest.decode(packets[0]) else { Issue.record("INIT"); return }
        #expect(version == 3)
        guard case .stat(let id, let path) = try SFTPRequest.decode(packets[1]) else { Issue.record("STAT"); return }
        #expect(id == 7 && path == Array("/a b".utf8))
    }

    @Test func oversizedAndEmptyFramesAreRefused() {
        var framer = SFTPFramer(maximumPacketLength: 1000)
        framer.append([0, 0, 0x10, 0])  // 4,096 bytes announced
        #expect(throws: SFTPDecodeError.oversized(length: 4096, limit: 1000)) { try framer.nextPacket() }
        var empty = SFTPFramer(maximumPacketLength: 1000)
        empty.append([0, 0, 0, 0])
        #expect(throws: SFTPDecodeError.self) { try empty.nextPacket() }
    }

    @Test func decodesEveryRequestType() throws {
        let attributes = SFTPAttributes(size: 42, ownerGroup: (1000, 1000), permissions: 0o100644, times: (1, 2),
                                        extended: [("x@example.com", [9])])
        let open = try SFTPRequest.decode(Self.packet(.open) {
            $0.string("/up.bin"); $0.uint32(SFTPOpenFlags([.write, .create, .truncate]).rawValue); $0.attributes(attributes)
        })
        guard case .open(_, let path, let flags, let decoded) = open else { Issue.record("OPEN"); return }
        #expect(path == Array("/up.bin".utf8) && flags == [.write, .create, .truncate] && decoded == attributes)

        let write = try SFTPRequest.decode(Self.packet(.write) { $0.string([1, 2]); $0.uint64(1 << 40); $0.string([0, 0, 0xFF]) })
        guard case .write(7, [1, 2], 1 << 40, let data) = write else { Issue.record("WRITE"); return }
        #expect(data == [0, 0, 0xFF])  // binary data, NUL bytes included

        let read = try SFTPRequest.decode(Self.packet(.read) { $0.string([5]); $0.uint64(32768); $0.uint32(32768) })
        guard case .read(7, [5], 32768, 32768) = read else { Issue.record("READ"); return }

        let rename = try SFTPRequest.decode(Self.packet(.rename) { $0.string("a"); $0.string("b") })
        guard case .rename(7, [0x61], [0x62]) = rename else { Issue.record("RENAME"); return }

        let extended = try SFTPRequest.decode(Self.packet(.extended) { $0.string("posix-rename@openssh.com"); $0.string("a"); $0.string("b") })
        guard case .extended(7, "posix-rename@openssh.com", let payload) = extended else { Issue.record("EXTENDED"); return }
        var reader = SFTPReader(payload)
        #expect(try reader.string() == [0x61] && reader.string() == [0x62])

        let simple: [(SFTPPacketType, (SFTPRequest) -> Bool)] = [
            (.close, { if case .close = $0 { true } else { false } }), (.lstat, { if case .lstat = $0 { true } else { false } }),
            (.fstat, { if case .fstat = $0 { true } else { false } }), (.opendir, { if case .opendir = $0 { true } else { false } }),
            (.readdir, { if case .readdir = $0 { true } else { false } }), (.remove, { if case .remove = $0 { true } else { false } }),
            (.rmdir, { if case .rmdir = $0 { true } else { false } }), (.realpath, { if case .realpath = $0 { true } else { false } }),
            (.stat, { if case .stat = $0 { true } else { false } }), (.readlink, { if case .readlink = $0 { true } else { false } }),
        ]
        for (type, matches) in simple {
            let request = try SFTPRequest.decode(Self.packet(type) { $0.string("/x") })
            #expect(matches(request), "\(type)")
            #expect(request.id == 7)
        }
        for type in [SFTPPacketType.setstat, .fsetstat, .mkdir] {
            _ = try SFTPRequest.decode(Self.packet(type) { $0.string("/x"); $0.attributes(.empty) })
        }
        _ = try SFTPRequest.decode(Self.packet(.symlink) { $0.string("l"); $0.string("t") })
    }

    @Test func malformedPacketsAreErrorsNotCrashes() {
        #expect(throws: SFTPDecodeError.unknownType(99)) { try SFTPRequest.decode([99, 0, 0, 0, 1]) }
        #expect(throws: SFTPDecodeError.unknownType(101)) { try SFTPRequest.decode(Self.packet(.status)) }  // a reply type
        #expect(throws: SFTPDecodeError.truncated) { try SFTPRequest.decode([SFTPPacketType.stat.rawValue, 0, 0]) }
        // A string longer than the packet.
        #expect(throws: SFTPDecodeError.truncated) {
            try SFTPRequest.decode(Self.packet(.stat) { $0.uint32(1_000_000); $0.raw([1, 2, 3]) })
        }
        // An attribute block claiming 4 billion extended pairs.
        #expect(throws: SFTPDecodeError.truncated) {
            try SFTPRequest.decode(Self.packet(.mkdir) { $0.string("/d"); $0.uint32(SFTPAttributeFlags.extended.rawValue); $0.uint32(.max) })
        }
        #expect(throws: SFTPDecodeError.invalidField("trailing bytes after the arguments")) {
            try SFTPRequest.decode(Self.packet(.stat) { $0.string("/x"); $0.raw([0]) })
        }
        #expect(throws: SFTPDecodeError.self) { try SFTPRequest.decode(Self.packet(.extended) { $0.string([0xFF, 0xFE]) }) }
        #expect(throws: SFTPDecodeError.truncated) { try SFTPRequest.decode([]) }
    }

    @Test func repliesRoundTrip() throws {
        let status = SFTPReply.status(id: 9, code: .noSuchFile, message: "No such file").encoded
        var reader = SFTPReader(status)
        #expect(try reader.uint32() == UInt32(status.count - 4))
        #expect(try reader.byte() == SFTPPacketType.status.rawValue)
        #expect(try reader.uint32() == 9 && reader.uint32() == SFTPStatusCode.noSuchFile.rawValue)
        #expect(try reader.utf8String() == "No such file" && reader.utf8String() == "en" && reader.isAtEnd)

        let entry = SFTPNameEntry(filename: Array("été.txt".utf8), longname: "-rw-r--r-- 1 ftp ftp 3 Nov 22 10:00 été.txt",
                                  attributes: SFTPAttributes(size: 3, permissions: SFTPFileMode.regularFile | 0o644))
        let name = SFTPReply.name(id: 4, entries: [entry, entry]).encoded
        reader = SFTPReader(name, offset: 5)
        #expect(try reader.uint32() == 4 && reader.uint32() == 2)
        #expect(try reader.string() == entry.filename && reader.utf8String() == entry.longname)
        #expect(try reader.attributes() == entry.attributes)

        let version = SFTPReply.version(extensions: [("posix-rename@openssh.com", "1")]).encoded
        reader = SFTPReader(version, offset: 5)
        #expect(try reader.uint32() == 3 && reader.utf8String() == "posix-rename@openssh.com" && reader.utf8String() == "1")
    }
}

@Suite struct SFTPAttributeTests {
    @Test func attributesComeFromTheUsersAuthority() {
        let stamp = Date(timeIntervalSince1970: 1_795_000_000)
        let readOnlyFile = FileInfo(name: "r.txt", isDirectory: false, size: 12, modified: stamp,
                                    permissions: FilePermissions(canRead: true, canWrite: false, canDelete: false))
        let attributes = SFTPAttributes(readOnlyFile)
        #expect(attributes.size == 12)
        #expect(attributes.permissions == SFTPFileMode.regularFile | 0o444)
        #expect(attributes.times?.modification == 1_795_000_000)
        let writableDirectory = FileInfo(name: "d", isDirectory: true, size: 0, modified: stamp,
                                         permissions: FilePermissions(canRead: true, canWrite: true, canDelete: true))
        #expect(SFTPAttributes(writableDirectory).permissions == SFTPFileMode.directory | 0o755)
        let entry = SFTPNameEntry(writableDirectory, now: stamp)
        #expect(entry.longname.hasPrefix("drwxr-xr-x") && entry.longname.hasSuffix(" d"))
        // The same long line FTP LIST sends.
        #expect(entry.longname == FTPListingFormat.longLine(writableDirectory, now: stamp))
    }
}

@Suite struct SFTPErrorMappingTests {
    @Test func sessionErrorsBecomeTheStatusesClientsActOn() {
        #expect(SFTPErrorMapping.status(for: .notFound("/x")).0 == .noSuchFile)
        #expect(SFTPErrorMapping.status(for: .permissionDenied(.upload, "/x")).0 == .permissionDenied)
        #expect(SFTPErrorMapping.status(for: .storage(.notFound(key: "k"))).0 == .noSuchFile)
        #expect(SFTPErrorMapping.status(for: .storage(.unsupported(detail: "d"))).0 == .operationUnsupported)
        #expect(SFTPErrorMapping.status(for: .invalidPath(.invalidUTF8)).0 == .badMessage)
        // Storage details never reach the client.
        let (_, message) = SFTPErrorMapping.status(for: .storage(.unavailable(detail: "GET b/k: HTTP 503 secret-detail")))
        #expect(!message.contains("secret-detail"))
    }
}
