import Auth
import Foundation
import Logging
@testable import Protocols
import Storage
import Testing

/// Builds sessions over the in-memory driver.
enum SessionFixture {
    static func session(authority: Authority = .readWrite, mayDelete: Bool = true, folders: [FolderBinding] = [],
                        driver: InMemoryDriver = InMemoryDriver(buckets: ["home", "shared"])) -> (Session, InMemoryDriver) {
        let user = User(name: "tester", passwordHash: nil, sshKeys: [],
                        home: StorageBinding(storage: "mem", bucket: "home", prefix: "users/tester"),
                        authority: authority, mayDelete: mayDelete, folders: folders)
        return (Session(user: user, storages: StorageRegistry(["mem": driver]), logger: Logger(label: "test")), driver)
    }

    static func path(_ text: String) -> VirtualPath { try! VirtualPath.resolve(text) }

    static func put(_ driver: InMemoryDriver, _ key: String, _ text: String = "x", bucket: String = "home") {
        let upload = try! driver.beginUpload(ObjectKey(bucket: bucket, key: key), options: UploadOptions())
        try! upload.write(Array(text.utf8))
        try! upload.commit()
    }

    static func read(_ session: Session, _ path: String) throws -> String {
        let opened = try session.openRead(Self.path(path), from: 0)
        return String(decoding: try opened.reader.readAll(), as: UTF8.self)
    }

    static func names(_ session: Session, _ path: String) throws -> [String] {
        var names: [String] = []
        try session.listDirectory(Self.path(path)) { names.append($0.name + ($0.isDirectory ? "/" : "")); return true }
        return names.sorted()
    }

    static func write(_ session: Session, _ path: String, _ text: String, mode: UploadMode = .replace) throws {
        let upload = try session.beginUpload(Self.path(path), mode: mode)
        try upload.write(Array(text.utf8))
        try upload.commit()
    }
}

@Suite struct SessionSemanticsTests {
    typealias F = SessionFixture

    @Test func homeIsAPrefixInsideTheBucket() throws {
        let (session, driver) = F.session()
        try F.write(session, "/a.txt", "hello")
        #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/a.txt"))?.size == 5)
        #expect(try F.read(session, "/a.txt") == "hello")
        F.put(driver, "users/other/secret.txt")
        // Nothing above the home prefix is reachable, whatever the path says.
        #expect(throws: SessionError.self) { try F.read(session, "/../other/secret.txt") }
        #expect(try F.names(session, "/..") == ["a.txt"])
    }

    @Test func directoriesAreMarkersOrImplicit() throws {
        let (session, driver) = F.session()
        try session.makeDirectory(F.path("/made"))
        #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/made/")) != nil)
        F.put(driver, "users/tester/implicit/file.txt")
        #expect(try session.stat(F.path("/made")).isDirectory)
        #expect(try session.stat(F.path("/implicit")).isDirectory)
        #expect(try F.names(session, "/") == ["implicit/", "made/"])
        #expect(try F.names(session, "/made") == [])
        #expect(throws: SessionError.alreadyExists("/made")) { try session.makeDirectory(F.path("/made")) }
        #expect(throws: SessionError.notFound("/nope")) { try session.makeDirectory(F.path("/nope/child")) }
        #expect(throws: SessionError.notFound("/missing")) { try F.names(session, "/missing") }
        #expect(throws: SessionError.notADirectory("/implicit/file.txt")) { try F.names(session, "/implicit/file.txt") }
    }

    @Test func markersWithoutTheirTrailingSlashAreDirectories() throws {
        let (session, driver) = F.session()
        F.put(driver, "users/tester/legacy", "")           // a marker stored without its slash
        F.put(driver, "users/tester/legacy/file.txt", "x")
        F.put(driver, "users/tester/empty.txt", "")         // a genuinely empty file stays a file
        #expect(try F.names(session, "/") == ["empty.txt", "legacy/"])
        #expect(try session.stat(F.path("/legacy")).isDirectory)
        #expect(try !session.stat(F.path("/empty.txt")).isDirectory)
    }

    @Test func removeDirectoryOnlyWhenEmpty() throws {
        let (session, driver) = F.session()
        try session.makeDirectory(F.path("/d"))
        try F.write(session, "/d/f", "1")
        #expect(throws: SessionError.directoryNotEmpty("/d")) { try session.removeDirectory(F.path("/d")) }
        try session.deleteFile(F.path("/d/f"))
        try session.removeDirectory(F.path("/d"))
        #expect(throws: SessionError.notFound("/d")) { try session.stat(F.path("/d")) }
        #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/d/")) == nil)
        #expect(throws: SessionError.bindingRoot("/")) { try session.removeDirectory(.root) }
    }

    @Test func deleteAndTypeErrors() throws {
        let (session, _) = F.session()
        try session.makeDirectory(F.path("/dir"))
        #expect(throws: SessionError.isADirectory("/dir")) { try session.deleteFile(F.path("/dir")) }
        #expect(throws: SessionError.notFound("/ghost")) { try session.deleteFile(F.path("/ghost")) }
        try F.write(session, "/file", "1")
        #expect(throws: SessionError.notADirectory("/file")) { try session.removeDirectory(F.path("/file")) }
        #expect(throws: SessionError.isADirectory("/dir")) { _ = try session.openRead(F.path("/dir"), from: 0) }
        #expect(throws: SessionError.isADirectory("/dir")) { _ = try session.beginUpload(F.path("/dir"), mode: .replace) }
    }

    @Test func resumeAndAppend() throws {
        let (session, _) = F.session()
        try F.write(session, "/r.txt", "0123456789")
        try F.write(session, "/r.txt", "XY", mode: .resume(offset: 4))
        #expect(try F.read(session, "/r.txt") == "0123XY")
        try F.write(session, "/r.txt", "++", mode: .append)
        #expect(try F.read(session, "/r.txt") == "0123XY++")
        try F.write(session, "/new.txt", "first", mode: .append)
        #expect(try F.read(session, "/new.txt") == "first")
        #expect(throws: SessionError.offsetBeyondEnd(requested: 99, size: 8)) {
            _ = try session.beginUpload(F.path("/r.txt"), mode: .resume(offset: 99))
        }
        #expect(throws: SessionError.offsetBeyondEnd(requested: 9, size: 8)) { _ = try session.openRead(F.path("/r.txt"), from: 9) }
    }

    @Test func renameFilesAndWholeDirectories() throws {
        let (session, driver) = F.session()
        try session.makeDirectory(F.path("/src"))
        for i in 0..<3 { try session.makeDirectory(F.path("/src/sub\(i)")) }
        for i in 0..<30 { try F.write(session, "/src/sub\(i % 3)/f\(i)", "\(i)") }
        #expect(throws: SessionError.notFound("/src/missing")) { try F.write(session, "/src/missing/f", "x") }
        try session.rename(F.path("/src"), to: F.path("/dst"), replacing: true)
        #expect(throws: SessionError.notFound("/src")) { try session.stat(F.path("/src")) }
        #expect(try F.names(session, "/dst") == ["sub0/", "sub1/", "sub2/"])
        #expect(try F.read(session, "/dst/sub2/f29") == "29")
        #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/dst/")) != nil)
        let remaining = try driver.list(ObjectKey(bucket: "home", key: "users/tester/src"), delimiter: nil, after: nil)
        #expect(remaining.objects.isEmpty)

        try F.write(session, "/a", "A")
        try F.write(session, "/b", "B")
        #expect(throws: SessionError.alreadyExists("/b")) { try session.rename(F.path("/a"), to: F.path("/b"), replacing: false) }
        try session.rename(F.path("/a"), to: F.path("/b"), replacing: true)
        #expect(try F.read(session, "/b") == "A")
        #expect(throws: SessionError.renameIntoItself("/dst")) { try session.rename(F.path("/dst"), to: F.path("/dst/inner"), replacing: true) }
        #expect(throws: SessionError.alreadyExists("/dst")) { try session.rename(F.path("/b"), to: F.path("/dst"), replacing: true) }
    }

    @Test func directoriesKeepTheTimeAClientSets() throws {
        let when = Date(timeIntervalSince1970: 1_354_040_105.5)
        let rw = FolderBinding(path: "/bucket", target: StorageBinding(storage: "mem", bucket: "shared", prefix: ""),
                               authority: .readWrite, mayDelete: true)
        let nested = FolderBinding(path: "/team/x", target: StorageBinding(storage: "mem", bucket: "shared", prefix: "x"),
                                   authority: .readWrite, mayDelete: true)
        let (session, driver) = F.session(folders: [rw, nested])
        try session.makeDirectory(F.path("/made"))
        F.put(driver, "users/tester/implied/file.txt", "inside")
        for path in ["/made", "/implied", "/"] {
            let set = try session.setModificationTime(F.path(path), to: when)
            #expect(set.isDirectory && set.modified == when)
            let info = try session.stat(F.path(path))
            #expect(info.isDirectory && info.modified == when, "\(path)")
        }
        #expect(try F.read(session, "/implied/file.txt") == "inside")
        #expect(try F.names(session, "/") == ["bucket/", "implied/", "made/", "team/"])
        var listed: [String: Date] = [:]
        try session.listDirectory(F.path("/")) { listed[$0.name] = $0.modified; return true }
        #expect(listed["made"] == when && listed["implied"] == when, "listings show the directories' times")
        #expect(try F.names(session, "/implied") == ["file.txt"])
        // A bucket's own root has no marker to hold it: refused, not accepted without effect.
        #expect(throws: SessionError.storage(.unsupported(detail: "the root of bucket shared keeps no time"))) {
            try session.setModificationTime(F.path("/bucket"), to: when)
        }
        #expect(throws: SessionError.notFound("/nothing")) { try session.setModificationTime(F.path("/nothing"), to: when) }
        // A parent of folders exists only in the configuration: nothing in storage to hold a time.
        #expect(throws: SessionError.storage(.unsupported(detail: "/team exists only as a parent of folders and keeps no time"))) {
            try session.setModificationTime(F.path("/team"), to: when)
        }
        let (reader, _) = F.session(authority: .readOnly, driver: driver)
        #expect(throws: SessionError.permissionDenied(.setAttributes, "/made")) {
            try reader.setModificationTime(F.path("/made"), to: when)
        }
    }

    @Test func foldersAreMountedWithTheirOwnAuthority() throws {
        let driver = InMemoryDriver(buckets: ["home", "shared"])
        let folder = FolderBinding(path: "/team/shared", target: StorageBinding(storage: "mem", bucket: "shared", prefix: ""),
                                   authority: .readOnly, mayDelete: false)
        let (session, _) = F.session(folders: [folder], driver: driver)
        F.put(driver, "doc.txt", "shared doc", bucket: "shared")
        #expect(try F.names(session, "/") == ["team/"])
        #expect(try F.names(session, "/team") == ["shared/"])
        #expect(try F.names(session, "/team/shared") == ["doc.txt"])
        #expect(try F.read(session, "/team/shared/doc.txt") == "shared doc")
        #expect(throws: SessionError.permissionDenied(.upload, "/team/shared/new.txt")) {
            _ = try session.beginUpload(F.path("/team/shared/new.txt"), mode: .replace)
        }
        #expect(throws: SessionError.self) { try session.removeDirectory(F.path("/team/shared")) }
        #expect(throws: SessionError.bindingRoot("/team")) { try session.rename(F.path("/team"), to: F.path("/x"), replacing: true) }
        // Moving a file out of the read-only folder needs write there.
        #expect(throws: SessionError.permissionDenied(.renameSource, "/team/shared/doc.txt")) {
            try session.rename(F.path("/team/shared/doc.txt"), to: F.path("/doc.txt"), replacing: true)
        }
        // Copying out of it needs only read there.
        try session.copyFile(F.path("/team/shared/doc.txt"), to: F.path("/copy.txt"))
        #expect(try F.read(session, "/copy.txt") == "shared doc")
    }

    @Test func listingsFollowEveryPage() throws {
        let (session, driver) = F.session()
        for i in 0..<2_500 { F.put(driver, "users/tester/many/f\(i)") }
        var count = 0
        try session.listDirectory(F.path("/many")) { _ in count += 1; return true }
        #expect(count == 2_500)
    }
}

/// {RO, WO, RW} × {delete, no delete} × every operation, performed through the session against
/// storage, compared with the rules written out by hand (design.md §5).
@Suite struct AuthorityMatrixTests {
    typealias F = SessionFixture

    enum Operation: String, CaseIterable {
        case list, stat, download, upload, makeDirectory, removeDirectory, deleteFile, rename, renameReplacing, copy
        /// The overwrite rule: destroying stored bytes needs delete; appending or filling an empty file does not.
        case uploadOverExisting, resumeBeforeTheEnd, resumeAtTheEnd, append, uploadOverEmpty, copyReplacing
    }

    /// The expected outcome, as the configuration reference states it.
    static func expectedAllowed(_ operation: Operation, _ authority: Authority, _ delete: Bool) -> Bool {
        let reads = authority == .readOnly || authority == .readWrite
        let writes = authority == .writeOnly || authority == .readWrite
        switch operation {
        case .list, .stat: return true
        case .download: return reads
        case .upload, .makeDirectory, .rename, .resumeAtTheEnd, .append, .uploadOverEmpty: return writes
        case .removeDirectory, .deleteFile, .renameReplacing, .uploadOverExisting, .resumeBeforeTheEnd: return writes && delete
        case .copy: return reads && writes
        case .copyReplacing: return reads && writes && delete
        }
    }

    static func perform(_ operation: Operation, _ session: Session) throws {
        switch operation {
        case .list: _ = try F.names(session, "/")
        case .stat: _ = try session.stat(F.path("/file"))
        case .download: _ = try F.read(session, "/file")
        case .upload: try F.write(session, "/uploaded", "u")
        case .makeDirectory: try session.makeDirectory(F.path("/newdir"))
        case .removeDirectory: try session.removeDirectory(F.path("/emptydir"))
        case .deleteFile: try session.deleteFile(F.path("/file"))
        case .rename: try session.rename(F.path("/file"), to: F.path("/renamed"), replacing: true)
        case .renameReplacing: try session.rename(F.path("/file"), to: F.path("/other"), replacing: true)
        case .copy: try session.copyFile(F.path("/file"), to: F.path("/copied"))
        case .uploadOverExisting: try F.write(session, "/file", "new")
        case .resumeBeforeTheEnd: try F.write(session, "/file", "X", mode: .resume(offset: 3))
        case .resumeAtTheEnd: try F.write(session, "/file", "+", mode: .resume(offset: 7))
        case .append: try F.write(session, "/file", "+", mode: .append)
        case .uploadOverEmpty: try F.write(session, "/empty", "now")
        case .copyReplacing: try session.copyFile(F.path("/file"), to: F.path("/other"))
        }
    }

    @Test(arguments: Authority.allCases, [false, true])
    func everyOperation(authority: Authority, delete: Bool) throws {
        for operation in Operation.allCases {
            let driver = InMemoryDriver(buckets: ["home", "shared"])
            F.put(driver, "users/tester/file", "content")
            F.put(driver, "users/tester/other", "other")
            F.put(driver, "users/tester/emptydir/", "")
            F.put(driver, "users/tester/empty", "")
            let (session, _) = F.session(authority: authority, mayDelete: delete, driver: driver)
            let expected = Self.expectedAllowed(operation, authority, delete)
            do {
                try Self.perform(operation, session)
                #expect(expected, "\(operation) should be refused for \(authority) delete=\(delete)")
            } catch SessionError.permissionDenied {
                #expect(!expected, "\(operation) should be allowed for \(authority) delete=\(delete)")
            }
            // A refused operation changed nothing.
            if !expected {
                #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/file"))?.size == 7)
                #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/emptydir/")) != nil)
                #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/uploaded")) == nil)
                #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/other"))?.size == 5)
                #expect(try driver.metadata(ObjectKey(bucket: "home", key: "users/tester/empty"))?.size == 0)
            }
        }
    }

    /// Every gated operation, written out by hand from the configuration reference. No `default`:
    /// a new operation does not compile until this table says who may do it.
    static func gateExpectation(_ operation: FileOperation, _ authority: Authority, _ delete: Bool) -> Bool {
        let reads = authority == .readOnly || authority == .readWrite
        let writes = authority == .writeOnly || authority == .readWrite
        switch operation {
        case .listDirectory, .readMetadata: return true
        case .download, .copySource: return reads
        case .upload, .makeDirectory, .renameSource, .renameTarget, .setAttributes, .copyTarget: return writes
        case .removeDirectory, .deleteFile, .replaceExisting: return writes && delete
        }
    }

    @Test func theGateTableMatchesTheRules() {
        #expect(FileOperation.allCases.count == 13)
        for operation in FileOperation.allCases {
            for authority in Authority.allCases {
                for delete in [false, true] {
                    #expect(PermissionGate.allows(operation, authority: authority, mayDelete: delete)
                            == Self.gateExpectation(operation, authority, delete), "\(operation) \(authority) delete=\(delete)")
                }
            }
        }
    }

    /// Listings show what the gate allows (the MLSD perm fact, `ls -l` mode bits, SFTP permissions).
    @Test(arguments: Authority.allCases, [false, true])
    func listedPermissionsComeFromTheGate(authority: Authority, delete: Bool) throws {
        let driver = InMemoryDriver(buckets: ["home", "shared"])
        F.put(driver, "users/tester/file", "content")
        let (session, _) = F.session(authority: authority, mayDelete: delete, driver: driver)
        let permissions = try session.stat(F.path("/file")).permissions
        #expect(permissions == FilePermissions(canRead: Self.gateExpectation(.download, authority, delete),
                                               canWrite: Self.gateExpectation(.upload, authority, delete),
                                               canDelete: Self.gateExpectation(.deleteFile, authority, delete),
                                               canReplace: Self.gateExpectation(.replaceExisting, authority, delete)))
    }
}
