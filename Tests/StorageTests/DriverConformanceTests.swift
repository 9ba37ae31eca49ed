import Foundation
import Storage
import Testing

@Suite struct InMemoryDriverConformance {
    @Test func passesTheConformanceSuite() throws {
        try StorageConformance.run {
            StorageConformance.Fixture(driver: InMemoryDriver(buckets: ["bucket"]), bucket: "bucket")
        }
    }

    @Test func enforcesTheMaximumObjectSize() throws {
        let driver = InMemoryDriver(buckets: ["b"], maxObjectSize: 10)
        let upload = try driver.beginUpload(ObjectKey(bucket: "b", key: "big"), options: UploadOptions())
        #expect(throws: StorageError.objectTooLarge(limit: 10)) { try upload.write([UInt8](repeating: 0, count: 11)) }
        #expect(try driver.metadata(ObjectKey(bucket: "b", key: "big")) == nil)
    }
}

@Suite struct LocalDirectoryDriverConformance {
    static func temporaryRoot() -> String {
        let path = NSTemporaryDirectory() + "ferry-local-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func makeDriver(root: String = temporaryRoot()) throws -> LocalDirectoryDriver {
        let driver = try LocalDirectoryDriver(root: root)
        try driver.ensureBucket("bucket")
        return driver
    }

    @Test func passesTheConformanceSuite() throws {
        try StorageConformance.run {
            StorageConformance.Fixture(driver: try Self.makeDriver(), bucket: "bucket")
        }
    }

    @Test func uploadsLeaveNoTemporaryFilesBehind() throws {
        let root = Self.temporaryRoot()
        let driver = try Self.makeDriver(root: root)
        let key = ObjectKey(bucket: "bucket", key: "a/b.bin")
        let aborted = try driver.beginUpload(key, options: UploadOptions())
        try aborted.write([1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.ferry-uploads").count == 1)
        aborted.abort()
        let committed = try driver.beginUpload(key, options: UploadOptions())
        try committed.write([4, 5])
        try committed.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.ferry-uploads").isEmpty)
        #expect(FileManager.default.contents(atPath: root + "/bucket/a/b.bin") == Data([4, 5]))
        // Linked into place (`onlyIfAbsent`): refused over the file, then aborted; published under
        // a free name. Neither leaves its temporary name behind.
        let onlyIfAbsent = UploadOptions(onlyIfAbsent: true)
        let refused = try driver.beginUpload(key, options: onlyIfAbsent)
        try refused.write([6])
        #expect(throws: StorageError.objectExists(key: "a/b.bin")) { try refused.commit() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.ferry-uploads").count == 1, "kept for commitAgain")
        refused.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.ferry-uploads").isEmpty)
        let linked = try driver.beginUpload(ObjectKey(bucket: "bucket", key: "a/c.bin"), options: onlyIfAbsent)
        try linked.write([7])
        try linked.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.ferry-uploads").isEmpty)
        #expect(FileManager.default.contents(atPath: root + "/bucket/a/c.bin") == Data([7]))
        #expect(FileManager.default.contents(atPath: root + "/bucket/a/b.bin") == Data([4, 5]))
    }

    @Test func aSymbolicLinkIsNoObjectToRefuseAConditionalUpload() throws {
        // Clients never see a link (`metadata` is nil), so an upload only if absent replaces the
        // link itself, as a plain one does, and never writes through it.
        let root = Self.temporaryRoot()
        let driver = try Self.makeDriver(root: root)
        try "secret".write(toFile: root + "/outside.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/bucket/link", withDestinationPath: root + "/outside.txt")
        let upload = try driver.beginUpload(ObjectKey(bucket: "bucket", key: "link"), options: UploadOptions(onlyIfAbsent: true))
        try upload.write(Array("mine".utf8))
        try upload.commit()
        #expect(FileManager.default.contents(atPath: root + "/bucket/link") == Data("mine".utf8))
        #expect(try FileManager.default.attributesOfItem(atPath: root + "/bucket/link")[.type] as? FileAttributeType == .typeRegular)
        #expect(FileManager.default.contents(atPath: root + "/outside.txt") == Data("secret".utf8))
    }

    @Test func neverFollowsSymbolicLinksOrLeavesTheBucket() throws {
        let root = Self.temporaryRoot()
        let driver = try Self.makeDriver(root: root)
        try "secret".write(toFile: root + "/outside.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/bucket/link", withDestinationPath: root + "/outside.txt")
        #expect(try driver.metadata(ObjectKey(bucket: "bucket", key: "link")) == nil)
        #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket", key: "link"), from: 0) }
        let page = try driver.list(ObjectKey(bucket: "bucket", key: ""), delimiter: nil, after: nil)
        #expect(page.objects.isEmpty)
        for key in ["../outside.txt", "a/../../outside.txt", "./x", "a//b"] {
            #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket", key: key), from: 0) }
        }
        #expect(throws: StorageError.self) { try driver.metadata(ObjectKey(bucket: "..", key: "outside.txt")) }
        // A linked directory on the way is refused too, not just a linked last component.
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try "secret".write(toFile: root + "/elsewhere/inner.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/bucket/dirlink", withDestinationPath: root + "/elsewhere")
        #expect(throws: StorageError.self) { try driver.openRead(ObjectKey(bucket: "bucket", key: "dirlink/inner.txt"), from: 0) }
        #expect(throws: StorageError.self) { try driver.beginUpload(ObjectKey(bucket: "bucket", key: "dirlink/new.txt"), options: UploadOptions()) }
        #expect(try driver.list(ObjectKey(bucket: "bucket", key: "dirlink/"), delimiter: nil, after: nil).objects.isEmpty)
    }

    @Test func aFileCannotReplaceADirectory() throws {
        let driver = try Self.makeDriver()
        let marker = try driver.beginUpload(ObjectKey(bucket: "bucket", key: "d/"), options: UploadOptions())
        try marker.commit()
        let upload = try driver.beginUpload(ObjectKey(bucket: "bucket", key: "d"), options: UploadOptions())
        try upload.write([1])
        #expect(throws: StorageError.self) { try upload.commit() }
    }
}
