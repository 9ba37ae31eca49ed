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
    /// Decides, for an upload begun with `UploadOptions.onlyIfAbsent` whose commit found an object
    /// under its key, whether it may replace that object (returns) or not (throws).
    typealias ObjectExistsCheck = () throws(StorageError) -> Void
    private let whenObjectExists: ObjectExistsCheck?

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

    @discardableResult func commit() throws(StorageError) -> UInt64 {
        defer { ended() }
        let size: UInt64
        do throws(StorageError) {
            size = try upload.commit()
        } catch .objectExists(let key) {
            guard let whenObjectExists else {
                upload.abort()
                throw .objectExists(key: key)
            }
            do throws(StorageError) {
                try whenObjectExists()
            } catch {
                upload.abort()
                throw error
            }
            size = try upload.commitReplacing()
        }
        if let published = upload.published { onPublished(published) }
        return size
    }

    func commitReplacing() throws(StorageError) -> UInt64 { try commit() }

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
