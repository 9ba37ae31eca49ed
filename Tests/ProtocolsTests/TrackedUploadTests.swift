import Foundation
@testable import Protocols
import Storage
import Testing

/// The retry rounds of a conditional upload (`TrackedUpload.commit`), driven by a scripted upload:
/// each commit answers with the next outcome of its script.
@Suite struct TrackedUploadTests {
    final class ScriptedUpload: ObjectUpload {
        enum Outcome { case published, refused }
        var script: [Outcome]
        var commits: [ObjectMetadata??] = []  // nil: the first commit; .some(x): commitAgain(expecting: x)
        var aborted = false
        var ownObject: ObjectMetadata?
        var published: ObjectMetadata?

        init(_ script: [Outcome]) { self.script = script }

        func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {}
        func commit() throws(StorageError) -> UInt64 { try answer(nil) }
        func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 { try answer(.some(expected)) }
        func abort() { aborted = true }
        func isPublished(as found: ObjectMetadata) -> Bool { found == ownObject }

        private func answer(_ call: ObjectMetadata??) throws(StorageError) -> UInt64 {
            commits.append(call)
            if aborted { throw .aborted }
            switch script.removeFirst() {
            case .published: return 4
            case .refused: throw .objectExists(key: "k")
            }
        }
    }

    static let theirs = ObjectMetadata(key: ObjectKey(bucket: "b", key: "k"), size: 6, modified: Date(), etag: "\"theirs\"")

    static func check(finding found: [ObjectMetadata?], allowing: Bool = true) -> (TrackedUpload.ObjectExistsCheck, () -> Int) {
        var remaining = found
        var finds = 0
        let check = TrackedUpload.ObjectExistsCheck(
            find: { () throws(StorageError) -> ObjectMetadata? in
                finds += 1
                return remaining.removeFirst()
            },
            allow: { (_: ObjectMetadata) throws(StorageError) in
                if !allowing { throw .accessDenied(detail: "no delete flag") }
            })
        return (check, { finds })
    }

    @Test func aRefusedCommitIsSentAgainPinnedToWhatTheCheckFound() throws {
        let upload = ScriptedUpload([.refused, .published])
        let (check, _) = Self.check(finding: [Self.theirs])
        #expect(try TrackedUpload(upload, whenObjectExists: check).commit() == 4)
        #expect(upload.commits.count == 2 && upload.commits[1] == .some(Self.theirs) && !upload.aborted)
        // Gone again when checked: sent again only if still absent.
        let gone = ScriptedUpload([.refused, .published])
        let (emptyCheck, _) = Self.check(finding: [nil])
        #expect(try TrackedUpload(gone, whenObjectExists: emptyCheck).commit() == 4)
        #expect(gone.commits[1] == .some(nil))
    }

    @Test func refusalsAbortTheUpload() {
        // The overwrite rule refuses.
        let denied = ScriptedUpload([.refused])
        let (deniedCheck, _) = Self.check(finding: [Self.theirs], allowing: false)
        #expect(throws: StorageError.accessDenied(detail: "no delete flag")) {
            try TrackedUpload(denied, whenObjectExists: deniedCheck).commit()
        }
        #expect(denied.aborted && denied.commits.count == 1)
        // Another client keeps changing the key: three commits in all, then a clean failure.
        let busy = ScriptedUpload([.refused, .refused, .refused, .published])
        let (busyCheck, finds) = Self.check(finding: [Self.theirs, Self.theirs, Self.theirs])
        #expect(throws: StorageError.objectExists(key: "k")) { try TrackedUpload(busy, whenObjectExists: busyCheck).commit() }
        #expect(busy.aborted && busy.commits.count == TrackedUpload.maxConditionalAttempts && finds() == 2)
        // No check given: the refusal is the answer.
        let plain = ScriptedUpload([.refused])
        #expect(throws: StorageError.objectExists(key: "k")) { try TrackedUpload(plain).commit() }
        #expect(plain.aborted)
    }

    @Test func theUploadsOwnObjectIsPublishedEvenWithoutTheDeleteFlag() throws {
        // A first attempt stored whose answer was lost: its retry is refused, and the object found is
        // this upload's own. Published, never refused as somebody else's.
        let upload = ScriptedUpload([.refused])
        let own = ObjectMetadata(key: ObjectKey(bucket: "b", key: "k"), size: 4, modified: Date(), etag: "\"mine\"")
        upload.ownObject = own
        var published: ObjectMetadata?
        let (check, _) = Self.check(finding: [own], allowing: false)
        #expect(try TrackedUpload(upload, whenObjectExists: check) { published = $0 }.commit() == 4)
        #expect(published == own && !upload.aborted && upload.commits.count == 1)
        // A create-only upload does not look (`recognizesOwn` false): equal bytes another client
        // stored are not its own, and it is refused.
        let create = ScriptedUpload([.refused])
        create.ownObject = own
        var (createCheck, _) = Self.check(finding: [own], allowing: false)
        createCheck.recognizesOwn = false
        #expect(throws: StorageError.accessDenied(detail: "no delete flag")) {
            try TrackedUpload(create, whenObjectExists: createCheck).commit()
        }
        #expect(create.aborted)
    }
}
