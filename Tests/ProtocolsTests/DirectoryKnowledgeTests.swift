import Auth
import Foundation
import Locking
import Logging
@testable import Protocols
import Storage
import Testing

/// Counts the storage calls a session makes (HEAD = metadata, LIST = list), over the in-memory driver.
final class CountingDriver: StorageDriver {
    let inner: InMemoryDriver
    private let counts = Locked([String: Int]())

    init(_ inner: InMemoryDriver) { self.inner = inner }

    func count(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    var calls: [String: Int] { counts.withLock { $0 } }
    func reset() { counts.withLock { $0 = [:] } }

    var capabilities: StorageCapabilities { inner.capabilities }
    func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata? { count("head"); return try inner.metadata(key) }
    func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage {
        count("list")
        return try inner.list(prefix, delimiter: delimiter, after: after, limit: limit)
    }
    func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader { try inner.openRead(key, from: offset) }
    func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload {
        count("put")
        return try inner.beginUpload(key, options: options)
    }
    func copy(_ source: ObjectKey, to target: ObjectKey) throws(StorageError) { try inner.copy(source, to: target) }
    func delete(_ keys: [ObjectKey]) throws(StorageError) { try inner.delete(keys) }
    func setModificationTime(of current: ObjectMetadata, to modified: Date) throws(StorageError) {
        try inner.setModificationTime(of: current, to: modified)
    }
    func setDirectoryModificationTime(_ marker: ObjectKey, to modified: Date) throws(StorageError) {
        try inner.setDirectoryModificationTime(marker, to: modified)
    }
    func abortAbandonedUploads(in scope: ObjectKey, idleSince cutoff: Date) throws(StorageError) -> [AbandonedUpload] {
        try inner.abortAbandonedUploads(in: scope, idleSince: cutoff)
    }
    /// The keys whose stored times a listing asked for (files and directory markers).
    private let timesAsked = Locked([String]())
    var timed: [String] { timesAsked.withLock { $0 } }
    func addStoredTimes(to objects: inout [ObjectMetadata]) {
        timesAsked.withLock { $0 += objects.map(\.key.key) }
        inner.addStoredTimes(to: &objects)
    }
    func directoryTimes(of markers: [ObjectKey], forListing: Bool) -> [Date?] {
        timesAsked.withLock { $0 += markers.map(\.key) }
        return inner.directoryTimes(of: markers, forListing: forListing)
    }
}

@Suite struct DirectoryKnowledgeTests {
    typealias F = SessionFixture

    static func session(lifetime: TimeInterval, mayDelete: Bool = true, conditional: Bool = true) -> (Session, CountingDriver) {
        let driver = CountingDriver(InMemoryDriver(buckets: ["home"], createsOnlyIfAbsent: conditional))
        let user = User(name: "tester", passwordHash: nil, sshKeys: [],
                        home: StorageBinding(storage: "mem", bucket: "home", prefix: "users/tester"),
                        authority: .readWrite, mayDelete: mayDelete, folders: [])
        let registry = StorageRegistry(["mem": driver], directoryCacheLifetime: lifetime)
        return (Session(user: user, storages: registry, logger: Logger(label: "test")), driver)
    }

    @Test func factsExpireAndAreBounded() {
        let knowledge = DirectoryKnowledge(lifetime: 10, capacity: 3)
        let now = Date()
        let dir = DirectoryKnowledge.key(storage: "s", bucket: "b", directoryKey: "d/")
        knowledge.learnListing(dir, names: [Array("a".utf8)], now: now)
        #expect(knowledge.knowsExists(dir, now: now) && knowledge.knowsNoEntry("b", in: dir, now: now))
        #expect(!knowledge.knowsNoEntry("a", in: dir, now: now))
        #expect(!knowledge.knowsExists(dir, now: now.addingTimeInterval(11)))
        #expect(!knowledge.knowsNoEntry("b", in: dir, now: now.addingTimeInterval(11)))
        knowledge.learnEntry("b", in: dir, now: now)
        #expect(!knowledge.knowsNoEntry("b", in: dir, now: now))
        for name in ["x/", "y/", "z/", "w/"] {
            knowledge.learnExists(DirectoryKnowledge.key(storage: "s", bucket: "b", directoryKey: name), now: now)
        }
        #expect(knowledge.count == 3)
        knowledge.forget(DirectoryKnowledge.key(storage: "s", bucket: "b", directoryKey: ""), parent: nil)
        #expect(knowledge.count == 0)
        // Bytes, not Characters: a decomposed name is not the precomposed one.
        knowledge.learnListing(dir, names: [Array("\u{E9}".utf8)], now: now)
        #expect(knowledge.knowsNoEntry("e\u{301}", in: dir, now: now) && !knowledge.knowsNoEntry("\u{E9}", in: dir, now: now))
        let off = DirectoryKnowledge(lifetime: 0)
        off.learnListing(dir, names: [], now: now)
        #expect(!off.knowsExists(dir, now: now) && !off.knowsNoEntry("a", in: dir, now: now))
    }

    @Test func uploadsIntoADirectoryThisSessionMadeCostOneCheck() throws {
        let (session, driver) = Self.session(lifetime: 30)
        try session.makeDirectory(F.path("/d"))
        #expect(driver.calls == ["head": 1, "list": 1, "put": 1], "the root's names are not known: both checks")
        driver.reset()
        for index in 1...5 { try F.write(session, "/d/f\(index).txt", "x") }
        #expect(driver.calls == ["put": 5], "nothing asked: each PUT is conditional")
        driver.reset()
        try session.makeDirectory(F.path("/d/sub"))
        #expect(driver.calls == ["put": 1])
        let (cold, coldDriver) = Self.session(lifetime: 0)
        try cold.makeDirectory(F.path("/e"))
        coldDriver.reset()
        try F.write(cold, "/e/f.txt", "x")
        #expect(coldDriver.calls == ["head": 1, "list": 2, "put": 1], "without the cache: HEAD, is-a-directory LIST, parent LIST")
        // A store that does not refuse conditional writes: the overwrite check is asked first.
        let (asking, askingDriver) = Self.session(lifetime: 30, conditional: false)
        try asking.makeDirectory(F.path("/d"))
        askingDriver.reset()
        for index in 1...5 { try F.write(asking, "/d/f\(index).txt", "x") }
        #expect(askingDriver.calls == ["head": 5, "put": 5], "one HEAD per file (the overwrite check), no LIST")
    }

    @Test func aListingTeachesWhichNamesAreFree() throws {
        let (session, driver) = Self.session(lifetime: 30)
        F.put(driver.inner, "users/tester/d/old.txt")
        F.put(driver.inner, "users/tester/d/sub/inner.txt")
        _ = try F.names(session, "/d")
        driver.reset()
        try F.write(session, "/d/new.txt", "x")
        #expect(driver.calls == ["put": 1])
        driver.reset()
        #expect(throws: SessionError.isADirectory("/d/sub")) { try F.write(session, "/d/sub", "x") }
        #expect(driver.calls["list"] == 1, "a name the listing showed is checked")
        driver.reset()
        try session.rename(F.path("/d/new.txt"), to: F.path("/d/renamed.txt"), replacing: false)
        #expect(driver.calls["list"] == nil, "a rename onto a known free name lists nothing")
        // Another client takes a name the session believes free: the rename still finds the file.
        F.put(driver.inner, "users/tester/d/taken.txt", "theirs")
        #expect(throws: SessionError.alreadyExists("/d/taken.txt")) {
            try session.rename(F.path("/d/renamed.txt"), to: F.path("/d/taken.txt"), replacing: false)
        }
        #expect(try F.read(session, "/d/taken.txt") == "theirs")
    }

    @Test(arguments: [true, false])
    func staleBeliefsNeverPublishOverAnObject(conditional: Bool) throws {
        // The session learns /d is empty; then another client stores d/f.txt. An upload of the same
        // name still finds it (a fresh HEAD first, or the store refusing the conditional PUT and a
        // HEAD then): without the delete flag it is refused, nothing replaced.
        let (session, driver) = Self.session(lifetime: 30, mayDelete: false, conditional: conditional)
        try session.makeDirectory(F.path("/d"))
        F.put(driver.inner, "users/tester/d/f.txt", "theirs")
        #expect(throws: (any Error).self) { try F.write(session, "/d/f.txt", "mine") }
        #expect(try F.read(session, "/d/f.txt") == "theirs")
        // An object that appeared empty destroys nothing: replaced, as when asked first.
        try session.makeDirectory(F.path("/d2"))
        F.put(driver.inner, "users/tester/d2/empty.txt", "")
        try F.write(session, "/d2/empty.txt", "mine")
        #expect(try F.read(session, "/d2/empty.txt") == "mine")
        // Another client made a directory of the same name: accepted race (a file beside it), as
        // stated in DirectoryKnowledge; the directory and its content are untouched.
        F.put(driver.inner, "users/tester/d/g/inside.txt", "kept")
        try F.write(session, "/d/g", "file")
        #expect(try F.read(session, "/d/g/inside.txt") == "kept")
        // MKD over another client's new file name: the marker is written beside it, the file kept.
        F.put(driver.inner, "users/tester/d/h", "file bytes")
        try session.makeDirectory(F.path("/d/h"))
        #expect(try F.read(session, "/d/h") == "file bytes")
    }

    @Test func aConditionalUploadReplacesWhatAppearedWhenTheUserMayDelete() throws {
        let (session, driver) = Self.session(lifetime: 30, mayDelete: true)
        try session.makeDirectory(F.path("/d"))
        F.put(driver.inner, "users/tester/d/f.txt", "theirs")
        driver.reset()
        try F.write(session, "/d/f.txt", "mine")
        #expect(driver.calls == ["put": 1, "head": 1], "the refused PUT, then the HEAD the overwrite rule needs")
        #expect(try F.read(session, "/d/f.txt") == "mine")
        // A refused conditional upload publishes nothing and stays refused after commit.
        let (strict, strictDriver) = Self.session(lifetime: 30, mayDelete: false)
        try strict.makeDirectory(F.path("/d"))
        F.put(strictDriver.inner, "users/tester/d/f.txt", "theirs")
        let upload = try strict.beginUpload(F.path("/d/f.txt"), mode: .replace)
        try upload.write(Array("mine".utf8))
        #expect(throws: StorageError.self) { try upload.commit() }
        #expect(throws: StorageError.aborted) { try upload.commit() }
        #expect(try F.read(strict, "/d/f.txt") == "theirs")
    }

    @Test(arguments: [true, false])
    func createOnlyUploadsNeverReplace(conditional: Bool) throws {
        // STOU and SFTP CREAT|EXCL: a taken name is refused at the start, even for a user who may
        // delete, and a directory's name too.
        let (session, driver) = Self.session(lifetime: 30, mayDelete: true, conditional: conditional)
        F.put(driver.inner, "users/tester/d/taken.txt", "theirs")
        F.put(driver.inner, "users/tester/d/sub/inner.txt", "kept")
        #expect(throws: SessionError.alreadyExists("/d/taken.txt")) { try session.beginUpload(F.path("/d/taken.txt"), mode: .create) }
        #expect(throws: SessionError.isADirectory("/d/sub")) { try session.beginUpload(F.path("/d/sub"), mode: .create) }
        let fresh = try session.beginUpload(F.path("/d/new.txt"), mode: .create)
        try fresh.write(Array("mine".utf8))
        try fresh.commit()
        #expect(try F.read(session, "/d/new.txt") == "mine")
        guard conditional else { return }  // without conditional writes the store cannot refuse at commit
        // Another client stores the name after the upload started: the commit fails and its file
        // stays, although this user may delete (a `.replace` upload would replace it).
        let late = try session.beginUpload(F.path("/d/late.txt"), mode: .create)
        try late.write(Array("mine".utf8))
        F.put(driver.inner, "users/tester/d/late.txt", "theirs")
        #expect(throws: StorageError.objectExists(key: "users/tester/d/late.txt")) { try late.commit() }
        #expect(try F.read(session, "/d/late.txt") == "theirs")
        // A create-only upload asks even where the session believes the name free (its own MKD):
        // a name taken since is refused before any byte is sent (STOU then picks the next).
        try session.makeDirectory(F.path("/e"))
        F.put(driver.inner, "users/tester/e/taken.txt", "theirs")
        driver.reset()
        #expect(throws: SessionError.alreadyExists("/e/taken.txt")) { try session.beginUpload(F.path("/e/taken.txt"), mode: .create) }
        #expect(driver.calls == ["head": 1])
    }

    @Test func aNamePatternReadsNoTimeForTheNamesItLeavesOut() throws {
        // FTP `LIST *.txt`: the names the pattern leaves out (files, directories, folders) are not
        // shown, and no stored time is read for them (on S3, one HeadObject each).
        let (session, driver) = Self.session(lifetime: 30)
        for key in ["d/a.txt", "d/b.log", "d/c.txt", "d/sub/x.txt", "d/sub.txt/y"] { F.put(driver.inner, "users/tester/" + key) }
        var shown: [String] = []
        try session.listDirectory(F.path("/d"), including: { $0.hasSuffix(".txt") }) { shown.append($0.name); return true }
        #expect(shown.sorted() == ["a.txt", "c.txt", "sub.txt"])
        #expect(driver.timed.sorted() == ["users/tester/d/a.txt", "users/tester/d/c.txt", "users/tester/d/sub.txt/"])
        // Without a pattern every entry is shown, and timed; the empty twin `sub` of `sub/` (a store
        // that drops a marker's slash) is neither.
        F.put(driver.inner, "users/tester/d/sub", "")
        shown = []
        try session.listDirectory(F.path("/d")) { shown.append($0.name); return true }
        #expect(shown.sorted() == ["a.txt", "b.log", "c.txt", "sub", "sub.txt"])
        #expect(driver.timed.dropFirst(3).sorted() == ["users/tester/d/a.txt", "users/tester/d/b.log", "users/tester/d/c.txt",
                                                       "users/tester/d/sub.txt/", "users/tester/d/sub/"])
    }

    @Test func directoryRenameAsksFreshForTheTarget() throws {
        // The session saw /in without "archive"; another client then made in/archive/report.csv.
        // Moving a directory there would merge and replace: the target is checked fresh, refused.
        let (session, driver) = Self.session(lifetime: 30)
        F.put(driver.inner, "users/tester/in/tmp/report.csv", "mine")
        _ = try F.names(session, "/in")
        F.put(driver.inner, "users/tester/in/archive/report.csv", "theirs")
        #expect(throws: SessionError.alreadyExists("/in/archive")) {
            try session.rename(F.path("/in/tmp"), to: F.path("/in/archive"), replacing: false)
        }
        #expect(try F.read(session, "/in/archive/report.csv") == "theirs")
        #expect(try F.read(session, "/in/tmp/report.csv") == "mine")
    }

    @Test func removingOrRenamingForgets() throws {
        let (session, driver) = Self.session(lifetime: 30)
        try session.makeDirectory(F.path("/d"))
        try session.makeDirectory(F.path("/d/sub"))
        try session.removeDirectory(F.path("/d/sub"))
        #expect(throws: SessionError.notFound("/d/sub")) { try F.write(session, "/d/sub/x.txt", "x") }
        try session.makeDirectory(F.path("/d/sub2"))
        try session.rename(F.path("/d"), to: F.path("/e"), replacing: false)
        #expect(throws: SessionError.notFound("/d/sub2")) { try F.write(session, "/d/sub2/x.txt", "x") }
        try F.write(session, "/e/sub2/x.txt", "x")
        #expect(try F.names(session, "/e/sub2") == ["x.txt"])
        _ = driver
    }
}
