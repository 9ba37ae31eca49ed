import Auth
import Foundation
import Logging
@testable import Protocols
import Storage
import Testing

/// The SFTP engine without SSH, over the in-memory driver: one reply per request id, INIT first,
/// uploads (in order, out of order within the window, beyond it), reads with repositioning, paged
/// READDIR, handle limits, extensions, permissions through the session gate.
@Suite struct SFTPEngineTests {
    /// A client speaking to the engine packet by packet.
    final class Client {
        let engine: SFTPEngine
        let driver: InMemoryDriver
        private var nextID: UInt32 = 1

        init(authority: Authority = .readWrite, mayDelete: Bool = true, window: Int = 64 * 1024, handles: Int = 8,
             initialize: Bool = true) {
            let (session, driver) = SessionFixture.session(authority: authority, mayDelete: mayDelete)
            self.driver = driver
            var settings = SFTPSettings(reorderWindow: window, idleTimeout: 60, maxOpenHandles: handles)
            settings.maxWriteLength = 64 * 1024
            engine = SFTPEngine(session: session, environment: SFTPEngineEnvironment(
                settings: settings, logger: Logger(label: "test"), observer: nil, remoteHost: "test"))
            if initialize { _ = send(.initialize, id: nil) { $0.uint32(3) } }
        }

        /// Sends one request; returns the reply's type, id and body after the id.
        @discardableResult
        func send(_ type: SFTPPacketType, id: UInt32? = 0, _ body: (inout SFTPWriter) -> Void = { _ in })
            -> (type: SFTPPacketType, id: UInt32, body: [UInt8]) {
            var writer = SFTPWriter()
            writer.byte(type.rawValue)
            var requestID: UInt32 = 0
            if id != nil {
                requestID = nextID
                nextID += 1
                writer.uint32(requestID)
            }
            body(&writer)
            return decode(engine.respond(to: writer.bytes).encoded)
        }

        func decode(_ frame: [UInt8]) -> (type: SFTPPacketType, id: UInt32, body: [UInt8]) {
            var reader = SFTPReader(frame)
            let length = try! reader.uint32()
            #expect(Int(length) == frame.count - 4)
            let type = SFTPPacketType(rawValue: try! reader.byte())!
            let id = try! reader.uint32()  // VERSION: the version number
            return (type, id, reader.rest())
        }

        func status(_ reply: (type: SFTPPacketType, id: UInt32, body: [UInt8])) -> SFTPStatusCode? {
            guard reply.type == .status else { return nil }
            var reader = SFTPReader(reply.body)
            return SFTPStatusCode(rawValue: try! reader.uint32())
        }

        func open(_ path: String, _ flags: SFTPOpenFlags) -> [UInt8]? {
            let reply = send(.open) { $0.string(path); $0.uint32(flags.rawValue); $0.uint32(0) }
            guard reply.type == .handle else { return nil }
            var reader = SFTPReader(reply.body)
            return try! reader.string()
        }

        func write(_ handle: [UInt8], _ offset: UInt64, _ data: [UInt8]) -> SFTPStatusCode? {
            status(send(.write) { $0.string(handle); $0.uint64(offset); $0.string(data) })
        }

        func close(_ handle: [UInt8]) -> SFTPStatusCode? { status(send(.close) { $0.string(handle) }) }

        func read(_ handle: [UInt8], _ offset: UInt64, _ length: UInt32) -> [UInt8]? {
            let reply = send(.read) { $0.string(handle); $0.uint64(offset); $0.uint32(length) }
            guard reply.type == .data else { return nil }
            var reader = SFTPReader(reply.body)
            return try! reader.string()
        }

        func stored(_ name: String) -> [UInt8]? {
            let key = ObjectKey(bucket: "home", key: "users/tester/" + name)
            guard (try? driver.metadata(key)) ?? nil != nil else { return nil }
            return try? driver.openRead(key, from: 0).readAll()
        }
    }

    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }

    @Test func requestsBeforeInitAreRefusedAndEveryIdGetsItsOwnReply() {
        let client = Client(initialize: false)
        let early = client.send(.stat) { $0.string("/") }
        #expect(early.type == .status && client.status(early) == .failure)
        let version = client.send(.initialize, id: nil) { $0.uint32(3) }
        #expect(version.type == .version && version.id == SFTPVersion.supported)
        for _ in 0..<5 {
            let reply = client.send(.realpath) { $0.string("a/../b") }
            #expect(reply.type == .name)
        }
        let ids = (0..<5).map { _ in client.send(.lstat) { $0.string("/missing") } }
        #expect(Set(ids.map(\.id)).count == 5)
        #expect(ids.allSatisfy { client.status($0) == .noSuchFile })
        let malformed = client.send(.open) { $0.uint32(1000) }  // string longer than the packet
        #expect(client.status(malformed) == .badMessage)
    }

    @Test func inOrderUploadIsPublishedOnlyAtClose() throws {
        let client = Client()
        let data = Self.bytes(150_000, seed: 1)
        let handle = try #require(client.open("/up.bin", [.write, .create, .truncate]))
        for offset in stride(from: 0, to: data.count, by: 32_768) {
            #expect(client.write(handle, UInt64(offset), Array(data[offset..<min(offset + 32_768, data.count)])) == .ok)
        }
        #expect(client.stored("up.bin") == nil)
        #expect(client.close(handle) == .ok)
        #expect(client.stored("up.bin") == data)
    }

    @Test func outOfOrderWritesInsideTheWindowAreReordered() throws {
        let client = Client(window: 64 * 1024)
        let blocks = (0..<6).map { Self.bytes(16_384, seed: UInt8($0)) }
        let handle = try #require(client.open("/ooo.bin", [.write, .create, .truncate]))
        for index in [2, 0, 1, 5, 3, 4] {
            #expect(client.write(handle, UInt64(index * 16_384), blocks[index]) == .ok)
        }
        #expect(client.close(handle) == .ok)
        #expect(client.stored("ooo.bin") == blocks.flatMap { $0 })
    }

    @Test func writeBeyondTheWindowAbortsTheUpload() throws {
        let client = Client(window: 64 * 1024)
        let existing = Self.bytes(10, seed: 9)
        SessionFixture.put(client.driver, "users/tester/keep.bin", String(decoding: existing, as: UTF8.self))
        let before = client.stored("keep.bin")
        let handle = try #require(client.open("/keep.bin", [.write, .create, .truncate]))
        #expect(client.write(handle, 0, Self.bytes(1000, seed: 1)) == .ok)
        #expect(client.write(handle, 200_000, Self.bytes(1000, seed: 2)) == .failure)
        #expect(client.write(handle, 1000, Self.bytes(1000, seed: 3)) == .failure)  // stays failed
        #expect(client.close(handle) == .failure)
        #expect(client.stored("keep.bin") == before)  // the old file is untouched
    }

    @Test func rewriteAndGapsAreRefusedAtClose() throws {
        let client = Client()
        let rewrite = try #require(client.open("/r.bin", [.write, .create, .truncate]))
        #expect(client.write(rewrite, 0, Self.bytes(100, seed: 1)) == .ok)
        #expect(client.write(rewrite, 50, Self.bytes(100, seed: 1)) == .failure)
        #expect(client.close(rewrite) == .failure)
        let gap = try #require(client.open("/g.bin", [.write, .create, .truncate]))
        #expect(client.write(gap, 1000, Self.bytes(100, seed: 1)) == .ok)  // held, waiting for 0..<1000
        #expect(client.close(gap) == .failure)
        #expect(client.stored("r.bin") == nil && client.stored("g.bin") == nil)
    }

    @Test func droppedSessionAbortsOpenUploads() throws {
        let client = Client()
        let handle = try #require(client.open("/d.bin", [.write, .create, .truncate]))
        #expect(client.write(handle, 0, Self.bytes(5000, seed: 1)) == .ok)
        client.engine.closeAll()
        #expect(client.stored("d.bin") == nil)
        #expect(client.engine.handles.count == 0)
    }

    @Test func resumeWithoutTruncateKeepsThePrefixAndEmptyCreateMakesAFile() throws {
        let client = Client()
        let data = Self.bytes(3000, seed: 4)
        SessionFixture.put(client.driver, "users/tester/part.bin", String(decoding: data[0..<1000], as: UTF8.self))
        let original = try #require(client.stored("part.bin"))
        let handle = try #require(client.open("/part.bin", [.write]))
        #expect(client.write(handle, UInt64(original.count), Array(data[1000...])) == .ok)
        #expect(client.close(handle) == .ok)
        #expect(client.stored("part.bin") == original + Array(data[1000...]))
        let empty = try #require(client.open("/empty.txt", [.write, .create, .truncate]))
        #expect(client.close(empty) == .ok)
        #expect(client.stored("empty.txt") == [])
        #expect(client.open("/missing.txt", [.write]) == nil)  // no CREAT
        #expect(client.open("/part.bin", [.write, .create, .exclusive]) == nil)
    }

    @Test func readsStreamAndRepositionOnlyWhenNeeded() throws {
        let client = Client()
        let data = Self.bytes(2_000_000, seed: 7)
        let upload = try client.driver.beginUpload(ObjectKey(bucket: "home", key: "users/tester/big.bin"), options: UploadOptions())
        try upload.write(data)
        try upload.commit()
        let handle = try #require(client.open("/big.bin", [.read]))
        var offset = 0
        while let chunk = client.read(handle, UInt64(offset), 32_768) {
            #expect(Array(data[offset..<offset + chunk.count]) == chunk)
            offset += chunk.count
        }
        #expect(offset == data.count)
        #expect(client.read(handle, 100, 10) == Array(data[100..<110]))  // backwards: reopen
        #expect(client.read(handle, 1000, 10) == Array(data[1000..<1010]))  // small skip forward
        #expect(client.read(handle, 1_900_000, 10) == Array(data[1_900_000..<1_900_010]))
        guard case .file(let file) = try client.engine.handles.item(handle) else { Issue.record("not a file"); return }
        #expect(file.repositions == 2)
        #expect(client.status(client.send(.read) { $0.string(handle); $0.uint64(2_000_000); $0.uint32(10) }) == .endOfFile)
        #expect(client.close(handle) == .ok)
    }

    @Test func readdirPagesEveryEntryThenEndOfFile() throws {
        let client = Client()
        for index in 0..<250 { SessionFixture.put(client.driver, "users/tester/dir/f\(index)") }
        SessionFixture.put(client.driver, "users/tester/dir/sub/x")
        let reply = client.send(.opendir) { $0.string("/dir") }
        #expect(reply.type == .handle)
        var reader = SFTPReader(reply.body)
        let handle = try reader.string()
        var names: [String] = []
        var pages = 0
        while true {
            let page = client.send(.readdir) { $0.string(handle) }
            if client.status(page) == .endOfFile { break }
            #expect(page.type == .name)
            pages += 1
            var body = SFTPReader(page.body)
            let count = try body.uint32()
            #expect(count <= UInt32(SFTPEngine.entriesPerName))
            for _ in 0..<count {
                names.append(try body.utf8String())
                let longname = try body.utf8String()
                #expect(longname.hasPrefix("-rw") || longname.hasPrefix("drw"))
                _ = try body.attributes()
            }
        }
        #expect(names.count == 251 && Set(names).count == 251 && names.contains("sub"))
        #expect(pages >= 3)
        #expect(client.close(handle) == .ok)
        #expect(client.status(client.send(.opendir) { $0.string("/dir/f1") }) == .noSuchFile, "as OpenSSH maps ENOTDIR")  // a file
    }

    @Test func handleTableIsBoundedAndBadHandlesFail() throws {
        let client = Client(handles: 3)
        SessionFixture.put(client.driver, "users/tester/h")
        let handles = (0..<3).compactMap { _ in client.open("/h", [.read]) }
        #expect(handles.count == 3)
        #expect(client.open("/h", [.read]) == nil)
        #expect(client.close(handles[0]) == .ok)
        #expect(client.close(handles[0]) == .failure)  // closed already
        #expect(client.open("/h", [.read]) != nil)
        #expect(client.read([1, 2, 3], 0, 10) == nil)
    }

    @Test func permissionsComeFromTheSessionGate() throws {
        let readOnly = Client(authority: .readOnly)
        SessionFixture.put(readOnly.driver, "users/tester/a.txt")
        #expect(readOnly.status(readOnly.send(.open) { $0.string("/new.txt"); $0.uint32(SFTPOpenFlags([.write, .create]).rawValue); $0.uint32(0) })
            == .permissionDenied)
        #expect(readOnly.status(readOnly.send(.remove) { $0.string("/a.txt") }) == .permissionDenied)
        #expect(readOnly.status(readOnly.send(.mkdir) { $0.string("/d"); $0.uint32(0) }) == .permissionDenied)
        let noDelete = Client(mayDelete: false)
        SessionFixture.put(noDelete.driver, "users/tester/a.txt")
        SessionFixture.put(noDelete.driver, "users/tester/b.txt")
        let posixRename = noDelete.send(.extended) {
            $0.string(SFTPExtension.posixRename.rawValue); $0.string("/a.txt"); $0.string("/b.txt")
        }
        #expect(noDelete.status(posixRename) == .permissionDenied)
        #expect(noDelete.status(noDelete.send(.rename) { $0.string("/a.txt"); $0.string("/b.txt") }) == .failure)
        #expect(noDelete.status(noDelete.send(.rename) { $0.string("/a.txt"); $0.string("/c.txt") }) == .ok)
    }

    @Test func extensionsAnswer() throws {
        let client = Client()
        SessionFixture.put(client.driver, "users/tester/src.bin", "source bytes")
        let limits = client.send(.extended) { $0.string(SFTPExtension.limits.rawValue) }
        #expect(limits.type == .extendedReply && limits.body.count == 32)
        let statvfs = client.send(.extended) { $0.string(SFTPExtension.statvfs.rawValue); $0.string("/") }
        #expect(statvfs.type == .extendedReply && statvfs.body.count == 88)
        let home = client.send(.extended) { $0.string(SFTPExtension.homeDirectory.rawValue); $0.string("tester") }
        #expect(home.type == .name)
        let expanded = client.send(.extended) { $0.string(SFTPExtension.expandPath.rawValue); $0.string("~/x/../y") }
        var reader = SFTPReader(expanded.body)
        #expect(try reader.uint32() == 1 && reader.utf8String() == "/y")
        #expect(client.status(client.send(.extended) { $0.string("nobody@example.com") }) == .operationUnsupported)
        #expect(client.status(client.send(.symlink) { $0.string("/l"); $0.string("/src.bin") }) == .operationUnsupported)
        // copy-data of a whole file: a server-side copy, the target handle publishes nothing more.
        let source = try #require(client.open("/src.bin", [.read]))
        let target = try #require(client.open("/dst.bin", [.write, .create, .truncate]))
        let copy = client.send(.extended) {
            $0.string(SFTPExtension.copyData.rawValue); $0.string(source); $0.uint64(0); $0.uint64(0)
            $0.string(target); $0.uint64(0)
        }
        #expect(client.status(copy) == .ok)
        #expect(client.close(target) == .ok && client.close(source) == .ok)
        #expect(client.stored("dst.bin") == Array("source bytes".utf8))
        // SETSTAT: the modification time is kept (permissions are not), size 0 truncates, other sizes refused.
        let times = client.send(.setstat) {
            $0.string("/dst.bin"); $0.attributes(SFTPAttributes(size: nil, ownerGroup: nil, permissions: 0o600, times: (7, 1_354_040_105)))
        }
        #expect(client.status(times) == .ok)
        let kept = try client.driver.metadata(ObjectKey(bucket: "home", key: "users/tester/dst.bin"))
        #expect(kept?.effectiveModified == Date(timeIntervalSince1970: 1_354_040_105))
        #expect(client.status(client.send(.setstat) { $0.string("/dst.bin"); $0.attributes(SFTPAttributes(size: 3)) })
            == .operationUnsupported)
        #expect(client.status(client.send(.setstat) { $0.string("/dst.bin"); $0.attributes(SFTPAttributes(size: 0)) }) == .ok)
        #expect(client.stored("dst.bin") == [])
    }

    @Test func offsetsNear2To64AreErrorsNotTraps() throws {
        let client = Client()
        SessionFixture.put(client.driver, "users/tester/src.bin", "0123456789")
        let handle = try #require(client.open("/o.bin", [.write, .create, .truncate]))
        #expect(client.write(handle, UInt64.max - 10, Self.bytes(100, seed: 1)) == .failure)
        #expect(client.close(handle) == .failure)
        let source = try #require(client.open("/src.bin", [.read]))
        #expect(client.read(source, UInt64.max, UInt32.max) == nil)
        let target = try #require(client.open("/t.bin", [.write, .create, .truncate]))
        let copy = client.send(.extended) {
            $0.string(SFTPExtension.copyData.rawValue); $0.string(source); $0.uint64(5); $0.uint64(UInt64.max)
            $0.string(target); $0.uint64(UInt64.max - 2)
        }
        #expect(client.status(copy) == .failure)
        let partial = client.send(.extended) {
            $0.string(SFTPExtension.copyData.rawValue); $0.string(source); $0.uint64(5); $0.uint64(UInt64.max)
            $0.string(target); $0.uint64(0)
        }
        #expect(client.status(partial) == .ok)
        #expect(client.close(target) == .ok)
        #expect(client.stored("t.bin") == Array("56789".utf8))
    }

    @Test func createOnlyHandlesNeverReplaceAFileThatAppeared() throws {
        // OPEN with CREAT|EXCL on a free name, then another client stores that name: whatever
        // reaches the handle afterwards (a whole-file copy-data, writes, nothing, a truncation to
        // 0), CLOSE fails and the other client's file stays, although this user may delete.
        let client = Client()
        SessionFixture.put(client.driver, "users/tester/src.bin", "source bytes")
        let source = try #require(client.open("/src.bin", [.read]))
        let excl: SFTPOpenFlags = [.write, .create, .exclusive]
        let copied = try #require(client.open("/copied.bin", excl))
        SessionFixture.put(client.driver, "users/tester/copied.bin", "theirs")
        let copy = client.send(.extended) {
            $0.string(SFTPExtension.copyData.rawValue); $0.string(source); $0.uint64(0); $0.uint64(0)
            $0.string(copied); $0.uint64(0)
        }
        #expect(client.status(copy) != .ok, "streamed into a create-only upload, not a server-side copy over the file")
        _ = client.close(copied)
        #expect(client.stored("copied.bin") == Array("theirs".utf8))
        let written = try #require(client.open("/written.bin", excl))
        #expect(client.write(written, 0, Array("mine".utf8)) == .ok)
        SessionFixture.put(client.driver, "users/tester/written.bin", "theirs")
        #expect(client.close(written) == .failure)
        #expect(client.stored("written.bin") == Array("theirs".utf8))
        let empty = try #require(client.open("/empty.bin", excl))
        SessionFixture.put(client.driver, "users/tester/empty.bin", "theirs")
        #expect(client.close(empty) != .ok)
        #expect(client.stored("empty.bin") == Array("theirs".utf8))
        let truncated = try #require(client.open("/truncated.bin", excl))
        #expect(client.status(client.send(.fsetstat) { $0.string(truncated); $0.attributes(SFTPAttributes(size: 0)) }) == .ok)
        SessionFixture.put(client.driver, "users/tester/truncated.bin", "theirs")
        #expect(client.close(truncated) != .ok)
        #expect(client.stored("truncated.bin") == Array("theirs".utf8))
        #expect(client.close(source) == .ok)
    }

    @Test func writeOrderReleasesHeldChunks() throws {
        var order = SFTPWriteOrder(window: 100, startingAt: 10)
        let nine = [UInt8](repeating: 1, count: 9)
        #expect(try order.accept(offset: 20, data: [2]).isEmpty)
        #expect(try order.accept(offset: 11, data: nine[...]).isEmpty)
        #expect(order.heldBytes == 10)
        #expect(try order.accept(offset: 10, data: [0]).map { Array($0) } == [[0], nine, [2]])
        #expect(order.expected == 21 && order.isContiguous)
        #expect(throws: SFTPWriteOrder.Refusal.beyondWindow(offset: 200, expected: 21, window: 100)) {
            try order.accept(offset: 200, data: [1])
        }
        #expect(throws: SFTPWriteOrder.Refusal.rewrite(offset: 5, expected: 21)) { try order.accept(offset: 5, data: [1]) }
    }
}
