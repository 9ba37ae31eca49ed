import Auth
import Foundation
import Logging
@testable import Protocols
import Storage
import Testing
import PathRules

/// The traversal corpus through the session over the local driver, checked from the file system:
/// whatever a client sends, nothing outside the user's home is created, read, renamed or deleted.
@Suite struct HomeIsolationTests {
    /// A storage root with two buckets; alice's home is `bucket-a/alice`, and a secret sits beside it.
    struct Tree {
        let root: String
        let session: Session

        init() throws {
            root = NSTemporaryDirectory() + "ferry-isolation-\(UUID().uuidString)"
            let driver = try LocalDirectoryDriver(root: root)
            try driver.ensureBucket("bucket-a")
            try driver.ensureBucket("bucket-b")
            try FileManager.default.createDirectory(atPath: root + "/bucket-a/alice/sub", withIntermediateDirectories: true)
            try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/bucket-a/secret.txt"))
            try Data("mine".utf8).write(to: URL(fileURLWithPath: root + "/bucket-a/alice/mine.txt"))
            let user = User(name: "alice", passwordHash: nil, sshKeys: [],
                            home: StorageBinding(storage: "local", bucket: "bucket-a", prefix: "alice"),
                            authority: .readWrite, mayDelete: true, folders: [])
            session = Session(user: user, storages: StorageRegistry(["local": driver]), logger: Logger(label: "test"))
        }

        /// Every path below the root outside alice's home (and the uploads directory), with its size.
        func outsideHome() throws -> [String: Int] {
            var found: [String: Int] = [:]
            let enumerator = FileManager.default.enumerator(atPath: root)
            while let relative = enumerator?.nextObject() as? String {
                if KeyBytes.hasPrefix(relative, "bucket-a/alice") || KeyBytes.hasPrefix(relative, ".ferry-uploads") { continue }
                let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + relative)
                found[relative] = (attributes[.size] as? Int) ?? 0
            }
            return found
        }
    }

    static let joiners = ["\u{301}", "\u{200D}", "\u{FE0F}"]

    /// Client inputs aimed outside the home: `..` in every spelling, absolute paths, joiners after `/`
    /// at several depths, backslashes, percent-encoding, fullwidth dots.
    static var corpus: [String] {
        var inputs = ["..", "../..", "/../secret.txt", "/../../bucket-b/x", "..\\secret.txt", "%2e%2e/secret.txt",
                      "\u{FF0E}\u{FF0E}/secret.txt", "....//....//....//q.txt", "sub/../../secret.txt"]
        for joiner in joiners {
            for depth in 1...3 {
                let climb = String(repeating: "/..", count: depth)
                inputs += [climb + "/" + joiner + "x", climb + "/" + joiner + "z.txt", "sub" + climb + "/" + joiner + "y",
                           climb + "/" + joiner + "/../secret.txt"]
            }
        }
        return inputs
    }

    static func attempt(_ body: () throws -> Void) {
        do { try body() } catch {}  // refusals are fine; only the effect on disk is judged
    }

    @Test func nothingOutsideTheHomeChanges() throws {
        let tree = try Tree()
        let before = try tree.outsideHome()
        #expect(before["bucket-a/secret.txt"] == 6)
        let session = tree.session
        for input in Self.corpus {
            let path: VirtualPath
            do { path = try session.resolve(input, from: VirtualPath.resolve("/sub")) } catch { continue }
            Self.attempt { try session.makeDirectory(path) }
            Self.attempt {
                let upload = try session.beginUpload(path, mode: .replace)
                try upload.write(Array("evil".utf8))
                try upload.commit()
            }
            Self.attempt { try session.rename(VirtualPath.resolve("/mine.txt"), to: path, replacing: true) }
            Self.attempt { try session.rename(path, to: VirtualPath.resolve("/stolen.txt"), replacing: true) }
            Self.attempt { try session.copyFile(path, to: VirtualPath.resolve("/copied.txt")) }
            Self.attempt { try session.deleteFile(path) }
            Self.attempt { try session.removeDirectory(path) }
            if let opened = try? session.openRead(path, from: 0) {
                let text = String(decoding: try opened.reader.readAll(), as: UTF8.self)
                opened.reader.close()
                #expect(text != "secret", "\(input.debugDescription) read the file outside the home")
            }
            #expect(try tree.outsideHome() == before, "after \(input.debugDescription)")
        }
        #expect(try tree.outsideHome() == before)
    }

    /// The driver resolves beneath its root by itself: keys that climb, and symbolic links on the way,
    /// are refused even when they reach it directly.
    @Test func theLocalDriverNeverLeavesItsRoot() throws {
        let tree = try Tree()
        let driver = try LocalDirectoryDriver(root: tree.root)
        for key in ["alice/../secret.txt", "../bucket-b/x", "alice/./mine.txt", "alice//mine.txt", "/alice/mine.txt"] {
            #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket-a", key: key), from: 0) }
            #expect(throws: StorageError.self) { try driver.beginUpload(ObjectKey(bucket: "bucket-a", key: key), options: UploadOptions()) }
        }
        for bucket in ["..", ".", "a/b", "", ".ferry-uploads"] {
            #expect(throws: StorageError.self) { try driver.metadata(ObjectKey(bucket: bucket, key: "x")) }
        }
        // A link inside the bucket that points out of it is neither followed for reading nor for writing.
        let outside = NSTemporaryDirectory() + "ferry-outside-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("outside".utf8).write(to: URL(fileURLWithPath: outside + "/f.txt"))
        try FileManager.default.createSymbolicLink(atPath: tree.root + "/bucket-a/alice/link", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: tree.root + "/bucket-a/alice/file-link", withDestinationPath: outside + "/f.txt")
        #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket-a", key: "alice/link/f.txt"), from: 0) }
        #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket-a", key: "alice/file-link"), from: 0) }
        #expect(throws: StorageError.self) {
            try driver.beginUpload(ObjectKey(bucket: "bucket-a", key: "alice/link/new.txt"), options: UploadOptions())
        }
        // A link that appears on the way after the upload began is refused at commit.
        try FileManager.default.createDirectory(atPath: tree.root + "/bucket-a/alice/later", withIntermediateDirectories: true)
        let upload = try driver.beginUpload(ObjectKey(bucket: "bucket-a", key: "alice/later/new.txt"), options: UploadOptions())
        try upload.write(Array("x".utf8))
        try FileManager.default.removeItem(atPath: tree.root + "/bucket-a/alice/later")
        try FileManager.default.createSymbolicLink(atPath: tree.root + "/bucket-a/alice/later", withDestinationPath: outside)
        #expect(throws: StorageError.self) { try upload.commit() }
        #expect(!FileManager.default.fileExists(atPath: outside + "/new.txt"))
        #expect(throws: StorageError.self) { try driver.delete([ObjectKey(bucket: "bucket-a", key: "alice/link/f.txt")]) }
        #expect(FileManager.default.fileExists(atPath: outside + "/f.txt"))
    }
}

/// Rename and copy into a directory that does not exist fail (as uploads and MKD do) on every driver,
/// and create nothing.
@Suite struct RenameIntoMissingDirectoryTests {
    static func drivers() throws -> [(String, any StorageDriver, String)] {
        let root = NSTemporaryDirectory() + "ferry-rename-\(UUID().uuidString)"
        let local = try LocalDirectoryDriver(root: root)
        try local.ensureBucket("home")
        var drivers: [(String, any StorageDriver, String)] = [
            ("memory", InMemoryDriver(buckets: ["home"]), "home"), ("local", local, "home"),
        ]
        let environment = ProcessInfo.processInfo.environment
        if let endpoint = environment["S3_ENDPOINT"] {
            try CLibraries.initialize()
            let settings = S3Settings(endpoint: endpoint, region: environment["S3_REGION"] ?? "us-east-1",
                                      accessKey: environment["S3_ACCESS_KEY"] ?? "", secretKey: environment["S3_SECRET_KEY"] ?? "",
                                      addressing: .path, partSize: 5 << 20, uploadConcurrency: 2,
                                      maxObjectSize: 1 << 30, maxAttempts: 3)
            drivers.append(("s3", try S3Driver(settings: settings, logger: Logger(label: "s3")), "ferry-conformance"))
        }
        return drivers
    }

    @Test func failsOnEveryDriver() throws {
        for (name, driver, bucket) in try Self.drivers() {
            let prefix = "rename-\(UUID().uuidString.lowercased())"
            let user = User(name: "tester", passwordHash: nil, sshKeys: [],
                            home: StorageBinding(storage: name, bucket: bucket, prefix: prefix),
                            authority: .readWrite, mayDelete: true, folders: [])
            let session = Session(user: user, storages: StorageRegistry([name: driver]), logger: Logger(label: "test"))
            let upload = try session.beginUpload(VirtualPath.resolve("/a.txt"), mode: .replace)
            try upload.write(Array("a".utf8))
            try upload.commit()
            try session.makeDirectory(VirtualPath.resolve("/dir"))
            for target in ["/missing/q.txt", "/..../..../..../q.txt", "/a.txt/q.txt", "/dir/missing/q.txt"] {
                let path = try VirtualPath.resolve(target)
                #expect(throws: SessionError.self, "\(name): rename to \(target)") {
                    try session.rename(VirtualPath.resolve("/a.txt"), to: path, replacing: true)
                }
                #expect(throws: SessionError.self, "\(name): rename of a directory to \(target)") {
                    try session.rename(VirtualPath.resolve("/dir"), to: path, replacing: true)
                }
                #expect(throws: SessionError.self, "\(name): copy to \(target)") {
                    try session.copyFile(VirtualPath.resolve("/a.txt"), to: path)
                }
            }
            var names: [String] = []
            try session.listDirectory(.root) { names.append($0.name); return true }
            #expect(names.sorted() == ["a.txt", "dir"], "\(name)")
            // Into an existing directory it works.
            try session.rename(VirtualPath.resolve("/a.txt"), to: VirtualPath.resolve("/dir/a.txt"), replacing: false)
            #expect(try session.stat(VirtualPath.resolve("/dir/a.txt")).size == 1)
        }
    }
}
