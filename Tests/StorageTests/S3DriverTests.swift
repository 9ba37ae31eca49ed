import Foundation
import Locking
import Logging
import HTTPTransport
@testable import Storage
import Testing

/// The S3 driver against the real test S3 server (SeaweedFS from ../shared/testbed/s3-up), whose
/// address `make test` passes in S3_ENDPOINT. Without it these tests fail, unless
/// FERRY_S3_OPTIONAL=1 says a run without S3 is intended.
enum S3TestServer {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var isConfigured: Bool { environment["S3_ENDPOINT"] != nil }
    static var mayBeAbsent: Bool { environment["FERRY_S3_OPTIONAL"] == "1" }

    struct CurlUnavailable: Error {}

    /// libcurl's global setup, which `ferry` does at process start (CLibraries.initialize).
    static func initializeCurl() throws {
        guard CurlLibrary.initialize() else { throw CurlUnavailable() }
    }

    static func driver(partSize: UInt64 = 5 << 20, concurrency: Int = 3, maxObjectSize: UInt64 = 1 << 34,
                       maxAttempts: Int = 5, memory: TransferMemory = .unconfigured) throws -> S3Driver {
        try initializeCurl()
        let settings = S3Settings(endpoint: environment["S3_ENDPOINT"] ?? "http://127.0.0.1:1",
                                  region: environment["S3_REGION"] ?? "us-east-1",
                                  accessKey: environment["S3_ACCESS_KEY"] ?? "testkey",
                                  secretKey: environment["S3_SECRET_KEY"] ?? "testsecret",
                                  addressing: .path, partSize: partSize, uploadConcurrency: concurrency,
                                  maxObjectSize: maxObjectSize, maxAttempts: maxAttempts, transferMemory: memory)
        return try S3Driver(settings: settings, logger: Logger(label: "s3-test"))
    }

    static var bucket: String { environment["FERRY_S3_BUCKET"] ?? "ferry-conformance" }

    static func freshRoot() -> String { "run-\(UUID().uuidString.lowercased())/" }
}

@Suite(.enabled(if: S3TestServer.isConfigured || !S3TestServer.mayBeAbsent))
struct S3DriverConformance {
    @Test func theTestServerIsConfigured() {
        #expect(S3TestServer.isConfigured, "S3_ENDPOINT is not set: make test starts SeaweedFS and sets it")
    }

    @Test func passesTheConformanceSuite() throws {
        try StorageConformance.run {
            // SeaweedFS turns a marker into a directory of its own, which keeps no metadata.
            StorageConformance.Fixture(driver: try S3TestServer.driver(), bucket: S3TestServer.bucket, root: S3TestServer.freshRoot(),
                                       keepsDirectoryTimes: false)
        }
    }

    static func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed) &+ $0 >> 13) }
    }

    @Test func multipartUploadsStreamWithBoundedParts() throws {
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 2)
        let key = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot() + "multi.bin")
        let bytes = Self.pattern(17 << 20)  // 4 parts: 5+5+5+2 MiB
        let upload = try driver.beginUpload(key, options: UploadOptions())
        var offset = 0
        while offset < bytes.count {  // odd-sized writes, as a network stream delivers them
            let end = min(offset + 777_777, bytes.count)
            try upload.write(Array(bytes[offset..<end]))
            offset = end
        }
        #expect(try driver.metadata(key) == nil)  // nothing visible before commit
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).count == 1)  // it went multipart
        #expect(try upload.commit() == UInt64(bytes.count))
        let reader = try driver.openRead(key, from: 0)
        #expect(try reader.readAll() == bytes)
        let tail = try driver.openRead(key, from: UInt64(bytes.count - 100))
        #expect(try tail.readAll() == Array(bytes.suffix(100)))
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).isEmpty)
    }

    @Test func abortedMultipartLeavesNothingPending() throws {
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 2)
        let key = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot() + "aborted.bin")
        do {
            let upload = try driver.beginUpload(key, options: UploadOptions())
            try upload.write(Self.pattern(11 << 20))
            #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).count == 1)
            upload.abort()
        }
        #expect(try driver.metadata(key) == nil)
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).isEmpty)
        // Dropping an upload without commit or abort aborts it too.
        do {
            let dropped = try driver.beginUpload(key, options: UploadOptions())
            try dropped.write(Self.pattern(6 << 20))
        }
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).isEmpty)
    }

    /// The orphaned-upload reaper: an upload is aborted only once both its start and its newest part
    /// are older than the cutoff, and two reapers at once do not get in each other's way.
    @Test func abandonedUploadsAreAbortedWhenIdleAndOnce() throws {
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 1)
        let scope = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot())
        let key = ObjectKey(bucket: scope.bucket, key: scope.key + "orphan.bin")
        let upload = try driver.beginUpload(key, options: UploadOptions())  // kept open: a killed process's upload
        try upload.write(Self.pattern(6 << 20))
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).count == 1)
        // Begun just now: not older than an hour-old cutoff.
        #expect(try driver.abortAbandonedUploads(in: scope, idleSince: Date().addingTimeInterval(-3600)).isEmpty)
        Thread.sleep(forTimeInterval: 2.2)
        let cutoff = Date()
        Thread.sleep(forTimeInterval: 1.2)
        try upload.write(Self.pattern(5 << 20, seed: 2))  // a second part after the cutoff: still active
        Thread.sleep(forTimeInterval: 1)
        #expect(try driver.abortAbandonedUploads(in: scope, idleSince: cutoff).isEmpty, "an upload receiving parts was aborted")
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).count == 1)

        // Idle since a later cutoff: two reapers at once. Both may report it (SeaweedFS, like some other
        // servers, answers 204 to an abort of an upload already aborted), neither fails.
        let later = Date().addingTimeInterval(2)
        let other = try S3TestServer.driver(partSize: 5 << 20, concurrency: 1)
        let results = Locked<[Result<[AbandonedUpload], StorageError>]>([])
        let threads = [driver, other].map { reaper in
            Thread {
                let result = Result { () throws(StorageError) in try reaper.abortAbandonedUploads(in: scope, idleSince: later) }
                results.withLock { $0.append(result) }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(30)
        while results.withLock({ $0.count }) < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let outcomes = results.withLock { $0 }
        #expect(outcomes.count == 2)
        let aborted = try outcomes.flatMap { try $0.get() }
        #expect(!aborted.isEmpty && Set(aborted.map(\.key)) == [key])
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).isEmpty)
        #expect(try driver.metadata(key) == nil)
        upload.abort()  // the owner finding its upload gone is harmless
    }

    /// The drain's last step: uploads still open are aborted without their owners, and an owner
    /// that aborts afterwards finds them gone without an error.
    @Test func uploadsInProgressAreAbortedAtExit() throws {
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 1)
        let root = S3TestServer.freshRoot()
        let key = ObjectKey(bucket: S3TestServer.bucket, key: root + "open-at-exit.bin")
        let upload = try driver.beginUpload(key, options: UploadOptions())
        try upload.write(Self.pattern(6 << 20))
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).count == 1)
        let aborted = S3UploadsInProgress.abortAll { $0.bucket == key.bucket && $0.key.hasPrefix(root) }
        #expect(aborted.map(\.key) == [key])
        #expect(try driver.pendingUploads(bucket: key.bucket, prefix: key.key).isEmpty)
        #expect(throws: StorageError.self) { try upload.commit() }  // the owner cannot publish it
        #expect(try driver.metadata(key) == nil)
    }

    @Test func resumeAboveTheMinimumPartSizeCopiesServerSide() throws {
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 2)
        let key = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot() + "resume.bin")
        let original = Self.pattern(12 << 20, seed: 3)
        let first = try driver.beginUpload(key, options: UploadOptions())
        try first.write(original)
        try first.commit()
        let keep = (6 << 20) + 12_345
        let extra = Self.pattern(3 << 20, seed: 9)
        let resumed = try driver.beginUpload(key, options: UploadOptions(keepingPrefix: UInt64(keep)))
        try resumed.write(extra)
        try resumed.commit()
        #expect(try driver.openRead(key, from: 0).readAll() == Array(original[0..<keep]) + extra)
    }

    /// The one server-side copy loop (large renames and resume), with parts small enough to test:
    /// 20 MiB in at most 8 MiB gives three equal parts (none under S3's 5 MiB minimum), the copy is
    /// byte-exact, and a source that changed since its ETag was read fails the copy.
    @Test func copyPartsSplitsEquallyAndPinsTheSource() throws {
        let driver = try S3TestServer.driver()
        let root = S3TestServer.freshRoot()
        let source = ObjectKey(bucket: S3TestServer.bucket, key: root + "source.bin")
        let target = ObjectKey(bucket: S3TestServer.bucket, key: root + "target.bin")
        let bytes = Self.pattern(20 << 20, seed: 3)
        let upload = try driver.beginUpload(source, options: UploadOptions())
        try upload.write(bytes)
        try upload.commit()
        let etag = try #require(try driver.metadata(source)?.etag)
        func startMultipart() throws -> String {
            let created = try driver.client.send(S3Client.Request(operation: .createMultipartUpload, bucket: target.bucket, key: target.key,
                                                                  query: [("uploads", "")], body: UnsafeRawBufferPointer(start: nil, count: 0)))
            return try #require(S3XML.uploadID(created.body))
        }
        let uploadID = try startMultipart()
        let parts = try driver.client.copyParts(of: source, etag: etag, length: UInt64(bytes.count), into: target,
                                                uploadID: uploadID, firstPart: 1, maxPartSize: 8 << 20)
        #expect(parts.map(\.number) == [1, 2, 3])
        _ = try driver.client.send(S3Client.Request(operation: .completeMultipartUpload, bucket: target.bucket, key: target.key, query: [("uploadId", uploadID)]),
                                   document: S3XML.completeMultipart(parts))
        #expect(try driver.openRead(target, from: 0).readAll() == bytes)

        let replaced = try driver.beginUpload(source, options: UploadOptions())
        try replaced.write(Self.pattern(20 << 20, seed: 4))  // same size: only the ETag differs
        try replaced.commit()
        let secondID = try startMultipart()
        #expect(throws: StorageError.self) {
            _ = try driver.client.copyParts(of: source, etag: etag, length: UInt64(bytes.count), into: target,
                                            uploadID: secondID, firstPart: 1, maxPartSize: 8 << 20)
        }
        _ = try? driver.client.send(S3Client.Request(operation: .abortMultipartUpload, bucket: target.bucket, key: target.key, query: [("uploadId", secondID)]))
    }

    /// 40 threads send requests at once; afterwards the pool keeps at most `maxIdleHandles` idle
    /// handles (and connections), not one per request that was in flight.
    @Test func idleConnectionsAreCapped() throws {
        let driver = try S3TestServer.driver()
        let key = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot() + "probe")
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for _ in 0..<40 {
            group.enter()
            Thread {
                defer { group.leave() }
                for _ in 0..<5 {
                    do { _ = try driver.metadata(key) } catch { failures.withLock { $0.append("\(error)") } }
                }
            }.start()
        }
        group.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let idle = driver.client.idleHandleCount
        #expect(idle > 0 && idle <= S3Client.maxIdleHandles, "\(idle) idle handles")
    }

    @Test func enforcesTheMaximumObjectSize() throws {
        let driver = try S3TestServer.driver(maxObjectSize: 1000)
        let key = ObjectKey(bucket: S3TestServer.bucket, key: S3TestServer.freshRoot() + "big")
        let upload = try driver.beginUpload(key, options: UploadOptions())
        #expect(throws: StorageError.objectTooLarge(limit: 1000)) { try upload.write(Self.pattern(1001)) }
        #expect(try driver.metadata(key) == nil)
    }

    @Test func deletesInBatches() throws {
        let driver = try S3TestServer.driver()
        let root = S3TestServer.freshRoot()
        let keys = (0..<1_005).map { ObjectKey(bucket: S3TestServer.bucket, key: root + "d/\($0)") }
        for key in keys {
            let upload = try driver.beginUpload(key, options: UploadOptions())
            try upload.commit()
        }
        try driver.delete(keys + [ObjectKey(bucket: S3TestServer.bucket, key: root + "never-existed")])
        let page = try driver.list(ObjectKey(bucket: S3TestServer.bucket, key: root), delimiter: nil, after: nil)
        #expect(page.objects.isEmpty)
    }

    @Test func wrongCredentialsAreAccessDenied() throws {
        let settings = S3Settings(endpoint: S3TestServer.environment["S3_ENDPOINT"] ?? "", region: "us-east-1",
                                  accessKey: "testkey", secretKey: "wrong-secret", addressing: .path, maxAttempts: 1)
        try S3TestServer.initializeCurl()
        let driver = try S3Driver(settings: settings, logger: Logger(label: "t"))
        #expect(throws: StorageError.self) {
            _ = try driver.list(ObjectKey(bucket: S3TestServer.bucket, key: ""), delimiter: "/", after: nil)
        }
        do {
            _ = try driver.list(ObjectKey(bucket: S3TestServer.bucket, key: ""), delimiter: "/", after: nil)
        } catch {
            guard case .accessDenied = error else {
                Issue.record("expected accessDenied, got \(error)")
                return
            }
        }
    }

    /// Uploads and downloads share one budget: with room for two part buffers, six concurrent
    /// uploads of four parts each all complete (each goes on with its one buffer, sending parts
    /// itself), downloads wait for their window, and the budget is never exceeded.
    @Test func transfersStayWithinOneMemoryBudget() throws {
        let memory = TransferMemory(limit: 10 << 20, maximumWait: 60)
        let driver = try S3TestServer.driver(partSize: 5 << 20, concurrency: 3, memory: memory)
        let root = S3TestServer.freshRoot()
        let keys = (0..<6).map { ObjectKey(bucket: S3TestServer.bucket, key: root + "budget-\($0).bin") }
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for (index, key) in keys.enumerated() {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let upload = try driver.beginUpload(key, options: UploadOptions())
                    try upload.write(Self.pattern(17 << 20, seed: UInt8(index)))
                    try upload.commit()
                    let reader = try driver.openRead(key, from: 0)
                    defer { reader.close() }
                    if try reader.readAll() != Self.pattern(17 << 20, seed: UInt8(index)) {
                        failures.withLock { $0.append("\(key): content differs") }
                    }
                } catch {
                    failures.withLock { $0.append("\(key): \(error)") }
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 240) == .success)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let usage = memory.usage
        #expect(usage.peak <= 10 << 20)
        #expect(usage.peak >= 5 << 20)
        #expect(usage.inUse == 0)
        #expect(try driver.pendingUploads(bucket: S3TestServer.bucket, prefix: root).isEmpty)
    }
}
