import Foundation
import Locking

/// Every S3 multipart upload of the process that is begun and neither completed nor aborted, with
/// the client that can abort it. The owning connection thread normally ends each one itself; this
/// list is for a stop that cannot wait for that thread (a drain's last step, when a thread is stuck
/// on the storage side after its connection was cut): `abortAll` then aborts them directly, so the
/// process never exits leaving a multipart upload behind. Process-wide because a reload replaces
/// drivers while uploads of the old ones are still open.
public enum S3UploadsInProgress {
    private static let open = Locked<[String: (client: S3Client, key: ObjectKey)]>([:])

    static func begun(_ uploadID: String, key: ObjectKey, client: S3Client) {
        open.withLock { $0[uploadID] = (client, key) }
    }

    static func ended(_ uploadID: String) {
        _ = open.withLock { $0.removeValue(forKey: uploadID) }
    }

    public static var count: Int { open.withLock { $0.count } }

    /// Aborts every upload still open (AbortMultipartUpload each, all at once; NoSuchUpload counts as
    /// done), waiting at most `deadline` seconds so that a stop stays within its service manager's
    /// timeout. Their owners, if they ever go on, find them gone and fail: nothing is published.
    public static func abortAll(deadline: TimeInterval = 10) -> [AbandonedUpload] {
        abortAll(deadline: deadline) { _ in true }
    }

    /// `abortAll` for the uploads whose key `matches` (the unit tests, which share the process).
    static func abortAll(deadline: TimeInterval = 10, matching matches: (ObjectKey) -> Bool) -> [AbandonedUpload] {
        let uploads = open.withLock { open in
            let chosen = open.filter { matches($0.value.key) }
            for uploadID in chosen.keys { open.removeValue(forKey: uploadID) }
            return chosen
        }
        let aborted = Locked<[AbandonedUpload]>([])
        let group = DispatchGroup()
        for (uploadID, upload) in uploads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do throws(StorageError) {
                    try upload.client.abortMultipartUpload(upload.key, uploadID: uploadID)
                    aborted.withLock { $0.append(AbandonedUpload(key: upload.key, uploadID: uploadID, initiated: .distantPast)) }
                } catch .notFound, .conflict {
                    return
                } catch {
                    upload.client.logger.error("could not abort a multipart upload at exit",
                                               metadata: ["key": "\(upload.key)", "error": "\(error)"])
                }
            }
            thread.name = "abort-at-exit"
            thread.start()
        }
        if group.wait(timeout: .now() + deadline) == .timedOut {
            uploads.values.first?.client.logger.error("multipart aborts at exit still running after \(Int(deadline)) s")
        }
        return aborted.withLock { $0 }
    }
}
