import Foundation
import Locking
import MetricCatalog
import Storage

/// A client's upload, counted in `ferry_uploads_in_progress` from `Session.beginUpload` until it is
/// published, aborted or dropped, whichever comes first (counted down exactly once).
final class TrackedUpload: ObjectUpload {
    private let upload: any ObjectUpload
    private let open = Locked(true)
    /// Told what a successful commit published (`ObjectUpload.published`).
    private let onPublished: (ObjectMetadata) -> Void
    /// For an upload begun with `UploadOptions.onlyIfAbsent` whose commit found an object under its
    /// key: `find` reads what is there now (nil: nothing any more); `allow` applies the overwrite
    /// rule to it, throwing to refuse. The upload's own object (`ObjectUpload.isPublished(as:)`,
    /// a first attempt stored whose answer was lost) is recognised between the two, so that it is
    /// never refused as somebody else's, unless `recognizesOwn` is false (a create-only upload,
    /// where equal bytes from another client must not count as its own).
    struct ObjectExistsCheck {
        var recognizesOwn = true
        let find: () throws(StorageError) -> ObjectMetadata?
        let allow: (ObjectMetadata) throws(StorageError) -> Void
    }
    private let whenObjectExists: ObjectExistsCheck?
    /// Commits in all before giving up on a key other clients keep changing: the first, and two
    /// more after a refusal each.
    static let maxConditionalAttempts = 3

    init(_ upload: any ObjectUpload, whenObjectExists: ObjectExistsCheck? = nil,
         onPublished: @escaping (ObjectMetadata) -> Void = { _ in }) {
        self.upload = upload
        self.whenObjectExists = whenObjectExists
        self.onPublished = onPublished
        FerryMetric.uploadsInProgress.adjust(by: 1)
    }

    deinit { ended() }

    /// A failed write or commit has aborted the upload already (the `ObjectUpload` contract).
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        do {
            try upload.write(bytes)
        } catch {
            ended()
            throw error
        }
    }

    /// Publishes the upload. A conditional one refused because an object appeared under its key is
    /// checked (`whenObjectExists`) and sent again pinned to what the check saw: over that object
    /// (If-Match its ETag), or, if it is gone again, still only if absent. Refused by the check,
    /// or after `maxConditionalAttempts` rounds, it is aborted.
    @discardableResult func commit() throws(StorageError) -> UInt64 {
        defer { ended() }
        var expected: ObjectMetadata??  // after a refusal: what the check found (nil: nothing)
        for round in 1...Self.maxConditionalAttempts {
            do throws(StorageError) {
                let size = if let expected { try upload.commitAgain(expecting: expected) } else { try upload.commit() }
                if let published = upload.published { onPublished(published) }
                return size
            } catch .objectExists(let key) {
                guard let whenObjectExists, round < Self.maxConditionalAttempts else {
                    upload.abort()
                    throw .objectExists(key: key)
                }
                let found: ObjectMetadata?
                do throws(StorageError) {
                    found = try whenObjectExists.find()
                    if let found {
                        if whenObjectExists.recognizesOwn, upload.isPublished(as: found) {
                            onPublished(found)
                            return found.size
                        }
                        try whenObjectExists.allow(found)
                    }
                } catch {
                    upload.abort()
                    throw error
                }
                expected = .some(found)
            }
        }
        upload.abort()
        throw .aborted  // not reached: the last round returns or throws
    }

    func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 { try commit() }

    func isPublished(as found: ObjectMetadata) -> Bool { upload.isPublished(as: found) }

    var published: ObjectMetadata? { upload.published }

    func abort() {
        upload.abort()
        ended()
    }

    func recordModificationTime(_ date: Date) -> Bool { upload.recordModificationTime(date) }

    private func ended() {
        if open.withLock({ was in defer { was = false }; return was }) {
            FerryMetric.uploadsInProgress.adjust(by: -1)
        }
    }
}
