import Digests
import Foundation
import Storage
import Testing

/// The storage conformance suite: one set of checks that every driver must pass. Each driver's test
/// file calls `StorageConformance.run` with a factory for a fresh, empty driver and its bucket.
enum StorageConformance {
    struct Fixture {
        let driver: any StorageDriver
        let bucket: String
        /// Every key of one run lives below this prefix ("" for a fresh, empty bucket), so the suite can
        /// share a bucket on a real S3 server.
        var root: String = ""
        /// Whether the store keeps directories' times (SeaweedFS drops a marker's metadata).
        var keepsDirectoryTimes = true
        func key(_ name: String) -> ObjectKey { ObjectKey(bucket: bucket, key: root + name) }
    }

    static func put(_ f: Fixture, _ name: String, _ bytes: [UInt8]) throws {
        let upload = try f.driver.beginUpload(f.key(name), options: UploadOptions())
        try upload.write(bytes)
        try upload.commit()
    }

    static func get(_ f: Fixture, _ name: String, from offset: UInt64 = 0) throws -> [UInt8] {
        let reader = try f.driver.openRead(f.key(name), from: offset)
        defer { reader.close() }
        return try reader.readAll(chunkSize: 7)  // odd chunk size: exercises partial reads
    }

    /// Every key (objects and prefixes) of a listing, following every page.
    static func listAll(_ f: Fixture, prefix: String, delimiter: Character?, limit: Int) throws -> (objects: [String], prefixes: [String]) {
        var objects: [String] = []
        var prefixes: [String] = []
        var cursor: ListCursor?
        var pages = 0
        repeat {
            let page = try f.driver.list(f.key(prefix), delimiter: delimiter, after: cursor, limit: limit)
            #expect(page.objects.count + page.commonPrefixes.count <= limit)
            objects += page.objects.map { String($0.key.key.dropFirst(f.root.count)) }.filter { !$0.isEmpty }
            prefixes += page.commonPrefixes.map { String($0.dropFirst(f.root.count)) }
            cursor = page.next
            pages += 1
            #expect(pages < 10_000)
        } while cursor != nil
        return (objects, prefixes)
    }

    static func run(_ make: () throws -> Fixture) throws {
        try roundTripAndMetadata(make())
        try rangedReads(make())
        try missingObjects(make())
        try abortedUploadLeavesNothing(make())
        try failedReplaceKeepsOldObject(make())
        try keepPrefixResumesAndAppends(make())
        try delimiterListing(make())
        try paginationCoversEverything(make())
        try unicodeKeysRoundTrip(make())
        try copyAndDelete(make())
        try directoryMarkers(make())
        try emptyObjects(make())
        try modificationTimes(make())
        try conditionalCreate(make())
        try directoryTimes(make())
    }

    /// A directory's time is kept (the marker a listing of the directory shows first carries it,
    /// with `addStoredTimes`), its files untouched, or refused with `.unsupported` (a store that
    /// drops markers' metadata): never accepted without effect. A directory with no marker (implied
    /// by its keys) gets one.
    static func directoryTimes(_ f: Fixture) throws {
        let wanted = Date(timeIntervalSince1970: 1_354_040_105.25)
        try put(f, "dirs/implied/file.txt", Array("inside".utf8))
        try put(f, "dirs/marked/", [])
        for directory in ["dirs/implied/", "dirs/marked/"] {
            guard f.keepsDirectoryTimes else {
                do throws(StorageError) {
                    try f.driver.setDirectoryModificationTime(f.key(directory), to: wanted)
                    Issue.record("\(directory): accepted by a store that keeps no directory times")
                } catch .unsupported {
                } catch {
                    Issue.record("\(directory): \(error)")
                }
                continue
            }
            try f.driver.setDirectoryModificationTime(f.key(directory), to: wanted)
            var listed = try f.driver.list(f.key(directory), delimiter: "/", after: nil, limit: 1).objects
            f.driver.addStoredTimes(to: &listed)
            let marker = try #require(listed.first)
            #expect(marker.key == f.key(directory))
            #expect(abs(marker.effectiveModified.timeIntervalSince(wanted)) < 0.001, "\(directory)")
        }
        #expect(try get(f, "dirs/implied/file.txt") == Array("inside".utf8))
    }

    /// Drivers that can (`createsOnlyIfAbsent`): an upload begun with `onlyIfAbsent` publishes a new
    /// key; over an existing object its commit throws `.objectExists`, publishes nothing and leaves
    /// the upload open, to be published with `commitAgain` over what is there (S3: If-Match its
    /// ETag, so a stale expectation is refused again) or aborted. A multipart upload (more
    /// than the 5 MiB part size of the S3 fixture) is refused the same way at completion.
    static func conditionalCreate(_ f: Fixture) throws {
        guard f.driver.capabilities.createsOnlyIfAbsent else { return }
        let onlyIfAbsent = UploadOptions(onlyIfAbsent: true)
        let fresh = try f.driver.beginUpload(f.key("new.txt"), options: onlyIfAbsent)
        try fresh.write(Array("first".utf8))
        try fresh.commit()
        #expect(try get(f, "new.txt") == Array("first".utf8))
        for size in [6, 6 << 20] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let refused = try f.driver.beginUpload(f.key("new.txt"), options: onlyIfAbsent)
            try refused.write(bytes)
            #expect(throws: StorageError.objectExists(key: f.key("new.txt").key)) { try refused.commit() }
            #expect(try get(f, "new.txt") == Array("first".utf8), "nothing published")
            // Still only if absent: refused again, still open.
            #expect(throws: StorageError.objectExists(key: f.key("new.txt").key)) { try refused.commitAgain(expecting: nil) }
            #expect(try get(f, "new.txt") == Array("first".utf8), "nothing published")
            let found = try #require(try f.driver.metadata(f.key("new.txt")))
            if found.etag != nil {
                // Replaced meanwhile: the ETag expected is stale, refused again.
                try put(f, "new.txt", Array("second".utf8))
                #expect(throws: StorageError.objectExists(key: f.key("new.txt").key)) { try refused.commitAgain(expecting: found) }
                #expect(try get(f, "new.txt") == Array("second".utf8))
            }
            try refused.commitAgain(expecting: try f.driver.metadata(f.key("new.txt")))
            #expect(try get(f, "new.txt") == bytes)
            if found.userMetadata[StoredMetadata.sha256Key] != nil {  // a driver that stores digests
                let stored = try #require(try f.driver.metadata(f.key("new.txt"))?.userMetadata[StoredMetadata.sha256Key])
                #expect(stored == Digest.hex(try Digest.sha256(bytes)), "the digest stored after a refusal is the bytes' own")
            }
            try put(f, "new.txt", Array("first".utf8))
        }
        let abandoned = try f.driver.beginUpload(f.key("new.txt"), options: onlyIfAbsent)
        try abandoned.write(Array("never".utf8))
        #expect(throws: StorageError.objectExists(key: f.key("new.txt").key)) { try abandoned.commit() }
        abandoned.abort()
        #expect(throws: StorageError.aborted) { try abandoned.commitAgain(expecting: nil) }
        #expect(try get(f, "new.txt") == Array("first".utf8))
    }

    /// A set modification time is what the object's metadata shows afterwards (to the microsecond),
    /// the bytes and size unchanged; a missing object is `.notFound`.
    static func modificationTimes(_ f: Fixture) throws {
        let bytes = Array("keep these bytes".utf8)
        try put(f, "times/file.txt", bytes)
        let wanted = Date(timeIntervalSince1970: 1_354_040_105.123456)
        let current = try #require(try f.driver.metadata(f.key("times/file.txt")))
        try f.driver.setModificationTime(of: current, to: wanted)
        let metadata = try #require(try f.driver.metadata(f.key("times/file.txt")))
        #expect(abs(metadata.effectiveModified.timeIntervalSince(wanted)) < 1e-5, "\(metadata.effectiveModified)")
        #expect(metadata.size == UInt64(bytes.count))
        #expect(try get(f, "times/file.txt") == bytes)
        let later = Date(timeIntervalSince1970: 1_700_000_000)
        try f.driver.setModificationTime(of: metadata, to: later)
        #expect(try f.driver.metadata(f.key("times/file.txt"))?.effectiveModified == later)
        let missing = ObjectMetadata(key: f.key("times/missing.txt"), size: 1, modified: later, etag: "\"0\"")
        #expect(throws: StorageError.notFound(key: missing.key.key)) { try f.driver.setModificationTime(of: missing, to: later) }

        // A time given to an upload before its commit: the object shows it once published, with its
        // listing too (`addStoredTimes`), and a driver that cannot take it says so.
        let upload = try f.driver.beginUpload(f.key("times/uploaded.txt"), options: UploadOptions())
        try upload.write(bytes)
        let taken = upload.recordModificationTime(wanted)
        try upload.commit()
        let published = try #require(try f.driver.metadata(f.key("times/uploaded.txt")))
        if taken {
            #expect(abs(published.effectiveModified.timeIntervalSince(wanted)) < 1e-5, "\(published.effectiveModified)")
        } else {
            #expect(published.effectiveModified != wanted)
        }
        var listed = try f.driver.list(f.key("times/"), delimiter: "/", after: nil, limit: 1000).objects
        f.driver.addStoredTimes(to: &listed)
        let times = Dictionary(uniqueKeysWithValues: listed.map { ($0.key.key, $0.effectiveModified) })
        #expect(times[f.key("times/file.txt").key] == later)
        #expect(times[f.key("times/uploaded.txt").key] == published.effectiveModified)
    }

    static func roundTripAndMetadata(_ f: Fixture) throws {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try put(f, "dir/file.bin", bytes)
        #expect(try get(f, "dir/file.bin") == bytes)
        let metadata = try #require(try f.driver.metadata(f.key("dir/file.bin")))
        #expect(metadata.size == 100_000)
        #expect(abs(metadata.modified.timeIntervalSinceNow) < 120)
    }

    static func rangedReads(_ f: Fixture) throws {
        let bytes = Array("0123456789abcdef".utf8)
        try put(f, "r", bytes)
        #expect(try get(f, "r", from: 10) == Array("abcdef".utf8))
        #expect(try get(f, "r", from: 16) == [])
    }

    static func missingObjects(_ f: Fixture) throws {
        #expect(try f.driver.metadata(f.key("nope")) == nil)
        #expect(throws: StorageError.notFound(key: f.root + "nope")) { try f.driver.openRead(f.key("nope"), from: 0) }
        // Deleting what does not exist is not an error (S3 DeleteObjects semantics).
        try f.driver.delete([f.key("nope"), f.key("nope-dir/")])
        #expect(throws: StorageError.bucketNotFound(bucket: "no-such-bucket-ferry")) {
            try f.driver.list(ObjectKey(bucket: "no-such-bucket-ferry", key: ""), delimiter: "/", after: nil)
        }
        // HEAD cannot tell a missing bucket from a missing key on S3: nil or bucketNotFound are both right.
        do {
            #expect(try f.driver.metadata(ObjectKey(bucket: "no-such-bucket-ferry", key: "x")) == nil)
        } catch {
            #expect(error == .bucketNotFound(bucket: "no-such-bucket-ferry"))
        }
    }

    static func abortedUploadLeavesNothing(_ f: Fixture) throws {
        let upload = try f.driver.beginUpload(f.key("partial.bin"), options: UploadOptions())
        try upload.write([UInt8](repeating: 7, count: 50_000))
        // Not visible before commit.
        #expect(try f.driver.metadata(f.key("partial.bin")) == nil)
        upload.abort()
        #expect(try f.driver.metadata(f.key("partial.bin")) == nil)
        #expect(try listAll(f, prefix: "", delimiter: nil, limit: 1000).objects.contains("partial.bin") == false)
    }

    static func failedReplaceKeepsOldObject(_ f: Fixture) throws {
        try put(f, "keep.txt", Array("old".utf8))
        let upload = try f.driver.beginUpload(f.key("keep.txt"), options: UploadOptions())
        try upload.write(Array("new content".utf8))
        upload.abort()
        #expect(try get(f, "keep.txt") == Array("old".utf8))
        // A dropped upload (never committed) behaves like an abort.
        do {
            let dropped = try f.driver.beginUpload(f.key("keep.txt"), options: UploadOptions())
            try dropped.write(Array("dropped".utf8))
        }
        #expect(try get(f, "keep.txt") == Array("old".utf8))
    }

    static func keepPrefixResumesAndAppends(_ f: Fixture) throws {
        try put(f, "resume.txt", Array("hello, world".utf8))
        let resume = try f.driver.beginUpload(f.key("resume.txt"), options: UploadOptions(keepingPrefix: 7))
        try resume.write(Array("there".utf8))
        try resume.commit()
        #expect(try get(f, "resume.txt") == Array("hello, there".utf8))
        let append = try f.driver.beginUpload(f.key("resume.txt"), options: UploadOptions(keepingPrefix: 12))
        try append.write(Array("!".utf8))
        try append.commit()
        #expect(try get(f, "resume.txt") == Array("hello, there!".utf8))
        #expect(throws: StorageError.self) {
            _ = try f.driver.beginUpload(f.key("resume.txt"), options: UploadOptions(keepingPrefix: 100))
        }
    }

    static func delimiterListing(_ f: Fixture) throws {
        for name in ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4", "a.txt", "b"] { try put(f, name, [1]) }
        let top = try listAll(f, prefix: "", delimiter: "/", limit: 1000)
        #expect(top.objects.sorted() == ["a.txt", "b"])
        #expect(top.prefixes == ["a/"])
        let inA = try listAll(f, prefix: "a/", delimiter: "/", limit: 1000)
        #expect(inA.objects.filter { $0 != "a/" } == ["a/1", "a/2"])
        #expect(inA.prefixes == ["a/sub/"])
        let flat = try listAll(f, prefix: "a/", delimiter: nil, limit: 1000)
        let files = flat.objects.filter { !$0.hasSuffix("/") }
        #expect(files == ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4"])
        // Keys are in UTF-8 byte order.
        #expect(flat.objects == flat.objects.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let partial = try listAll(f, prefix: "a/s", delimiter: "/", limit: 1000)
        #expect(partial.prefixes == ["a/sub/"])
    }

    static func paginationCoversEverything(_ f: Fixture) throws {
        var expected: [String] = []
        for i in 0..<57 {
            let name = "p/\(i % 3)/f\(String(i).leftPadded(3))"
            try put(f, name, [UInt8(i)])
            expected.append(name)
        }
        for i in 0..<23 {
            let name = "p/top\(String(i).leftPadded(3))"
            try put(f, name, [0])
            expected.append(name)
        }
        let flat = try listAll(f, prefix: "p/", delimiter: nil, limit: 7)
        #expect(flat.objects.filter { !$0.hasSuffix("/") } == expected.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(Set(flat.objects).count == flat.objects.count)
        let delimited = try listAll(f, prefix: "p/", delimiter: "/", limit: 4)
        #expect(delimited.prefixes == ["p/0/", "p/1/", "p/2/"])
        #expect(delimited.objects.filter { $0 != "p/" }.count == 23)
    }

    static func unicodeKeysRoundTrip(_ f: Fixture) throws {
        let names = ["données/été.txt", "日本語.txt", "with space.txt", "plus+sign", "percent%20", "tilde~x", "emoji-🚢"]
        for (index, name) in names.enumerated() { try put(f, "u/" + name, [UInt8(index)]) }
        let listed = try listAll(f, prefix: "u/", delimiter: nil, limit: 1000).objects.filter { !$0.hasSuffix("/") }
        #expect(Set(listed) == Set(names.map { "u/" + $0 }))
        for (index, name) in names.enumerated() {
            #expect(try get(f, "u/" + name) == [UInt8(index)])
        }
    }

    static func copyAndDelete(_ f: Fixture) throws {
        try put(f, "src.txt", Array("copy me".utf8))
        try f.driver.copy(f.key("src.txt"), to: f.key("nested/dst.txt"))
        #expect(try get(f, "nested/dst.txt") == Array("copy me".utf8))
        #expect(try get(f, "src.txt") == Array("copy me".utf8))
        try put(f, "nested/dst.txt", Array("replaced".utf8))
        try f.driver.copy(f.key("nested/dst.txt"), to: f.key("src.txt"))
        #expect(try get(f, "src.txt") == Array("replaced".utf8))
        try f.driver.delete([f.key("src.txt"), f.key("nested/dst.txt")])
        #expect(try f.driver.metadata(f.key("src.txt")) == nil)
        #expect(try f.driver.metadata(f.key("nested/dst.txt")) == nil)
        #expect(throws: StorageError.notFound(key: f.root + "gone")) { try f.driver.copy(f.key("gone"), to: f.key("x")) }
    }

    static func directoryMarkers(_ f: Fixture) throws {
        try put(f, "m/", [])
        #expect(try f.driver.metadata(f.key("m/")) != nil)
        let listed = try listAll(f, prefix: "m/", delimiter: nil, limit: 10)
        #expect(listed.objects == ["m/"])
        let parent = try listAll(f, prefix: "", delimiter: "/", limit: 1000)
        #expect(parent.prefixes.contains("m/"))
        try f.driver.delete([f.key("m/")])
        #expect(try f.driver.metadata(f.key("m/")) == nil)
    }

    static func emptyObjects(_ f: Fixture) throws {
        try put(f, "empty", [])
        #expect(try f.driver.metadata(f.key("empty"))?.size == 0)
        #expect(try get(f, "empty") == [])
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
