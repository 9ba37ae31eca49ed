import Locking
import MetricCatalog
import Storage

/// A client's upload, counted in `ferry_uploads_in_progress` from `Session.beginUpload` until it is
/// published, aborted or dropped, whichever comes first (counted down exactly once).
final class TrackedUpload: ObjectUpload {
    private let upload: any ObjectUpload
    private let open = Locked(true)

    init(_ upload: any ObjectUpload) {
        self.upload = upload
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
        return try upload.commit()
    }

    func abort() {
        upload.abort()
        ended()
    }

    private func ended() {
        if open.withLock({ was in defer { was = false }; return was }) {
            FerryMetric.uploadsInProgress.adjust(by: -1)
        }
    }
}
