import Foundation

/// An object store: the small, object-native interface every storage backend implements
/// (design.md §1, §6). Directory semantics, rename and resume are algorithms of the session layer
/// built from these calls; a driver only stores and lists objects.
///
/// Drivers are shared by every connection thread, so they are `Sendable`; the readers and uploads they
/// hand out belong to the one thread that opened them. Every call blocks its caller.
public protocol StorageDriver: Sendable {
    var capabilities: StorageCapabilities { get }

    /// The object's metadata, or nil when it does not exist (S3 HeadObject: one request).
    func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata?

    /// One page of keys starting with `prefix.key`, in UTF-8 byte order (S3 ListObjectsV2: one
    /// request). With a delimiter, keys with the delimiter after the prefix roll up into common
    /// prefixes. `limit` caps objects + prefixes on the page (1...1000).
    func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage

    /// A stream of the object's bytes from `offset` (S3 GetObject with Range).
    /// Throws `.notFound` when the object does not exist.
    func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader

    /// Starts writing an object. Nothing is visible under `key` until `commit()` returns; `abort()`
    /// (or dropping the upload uncommitted) leaves no trace.
    func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload

    /// Server-side copy of one object (S3 CopyObject / UploadPartCopy). Replaces an existing target.
    func copy(_ source: ObjectKey, to target: ObjectKey) throws(StorageError)

    /// Deletes objects; keys that do not exist are not an error (S3 DeleteObjects semantics).
    func delete(_ keys: [ObjectKey]) throws(StorageError)

    /// Records `modified` as the modification time of the object `current` describes (from
    /// `metadata`, just read), without rewriting its bytes: S3 keeps it in `x-amz-meta-mtime` by a
    /// CopyObject onto itself with the other metadata kept, pinned to `current`'s ETag so that an
    /// object replaced meanwhile is not touched (one request; a multipart copy above 5 GiB); local
    /// storage sets the file's mtime. `ObjectMetadata.effectiveModified` shows it afterwards.
    /// Throws `.notFound` for a missing object.
    func setModificationTime(of current: ObjectMetadata, to modified: Date) throws(StorageError)

    /// Records `modified` as the time of the directory whose marker key is `marker` (`dir/`, or the
    /// bucket's root ""): S3 stores it in the marker's metadata (writing the marker if the directory
    /// had none) and reads it back; local storage sets the directory's mtime. Throws `.unsupported`
    /// when the store cannot keep it: a bucket's root on S3, or a store that drops a marker's
    /// metadata (SeaweedFS makes a marker a directory of its own). `directoryTimes` shows it
    /// afterwards.
    func setDirectoryModificationTime(_ marker: ObjectKey, to modified: Date) throws(StorageError)

    /// Ends uploads that a process left unfinished (killed, or its abort failed) under `scope`
    /// (bucket and key prefix) and that have shown no activity since `cutoff`; returns the ones this
    /// call ended. Safe when several processes do it at once: an upload another one ended first is
    /// skipped (on servers that answer a repeated abort with success, two processes racing for the
    /// same upload may both count it). S3: ListMultipartUploads, ListParts per candidate, AbortMultipartUpload.
    func abortAbandonedUploads(in scope: ObjectKey, idleSince cutoff: Date) throws(StorageError) -> [AbandonedUpload]

    /// Completes the objects of a listing page with the modification times clients set, so that
    /// `effectiveModified` shows them (LIST, MLSD, READDIR). A driver whose listings carry them
    /// (local storage's file mtimes) does nothing; S3's ListObjectsV2 carries no user metadata, so
    /// the S3 driver reads each one it does not know yet by HeadObject (several at once) and keeps
    /// it until the object changes (`S3ListingTimes`). Never fails: an object it cannot read shows
    /// the store's own time. Changes objects in place: none is added, dropped or moved.
    func addStoredTimes(to objects: inout [ObjectMetadata])

    /// The modification times of directories, by their marker keys (`dir/`): on S3 the time a client
    /// set (`setDirectoryModificationTime`), nil for a directory whose marker holds none or that
    /// has no marker (listings then show the time of listing); elsewhere the marker's own time
    /// (local storage: the directory's mtime). `forListing`: for the subdirectories
    /// of a listing, which `listing_times = "last_modified"` spares. S3 reads each marker by
    /// HeadObject and trusts it for a minute (`S3ListingTimeCache.directoryTimeLifetime`). Never
    /// fails: a marker that cannot be read gives nil.
    func directoryTimes(of markers: [ObjectKey], forListing: Bool) -> [Date?]
}

extension StorageDriver {
    public func addStoredTimes(to objects: inout [ObjectMetadata]) {}

    /// The marker's own metadata, one lookup each (local storage, memory: no request).
    public func directoryTimes(of markers: [ObjectKey], forListing: Bool) -> [Date?] {
        markers.map { marker in (try? metadata(marker))?.effectiveModified }
    }
}

/// An upload `abortAbandonedUploads` ended.
public struct AbandonedUpload: Sendable, Equatable {
    public let key: ObjectKey
    /// The store's name for the upload (S3 upload ID; the temporary file for local storage).
    public let uploadID: String
    /// When it began (S3 `Initiated`; the file's last change for local storage).
    public let initiated: Date

    public init(key: ObjectKey, uploadID: String, initiated: Date) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }
}

public extension StorageDriver {
    /// Lists with the driver's default page size.
    func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?) throws(StorageError) -> ListPage {
        try list(prefix, delimiter: delimiter, after: after, limit: 1000)
    }
}

/// A byte stream of one object, owned by one thread.
public protocol ObjectReader: AnyObject {
    /// Fills up to `buffer.count` bytes; returns 0 at the end of the object.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int
    /// Releases the stream early (an abandoned download). Idempotent.
    func close()
}

/// An object being written, owned by one thread. Exactly one of `commit()` or `abort()` ends it.
public protocol ObjectUpload: AnyObject {
    /// Appends bytes. Throws when the store fails or the object would exceed its limit; the upload is
    /// then aborted.
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
    /// Publishes the object atomically and returns its size. On failure nothing is published.
    @discardableResult func commit() throws(StorageError) -> UInt64
    /// After `commit` threw `.objectExists` (an upload begun with `UploadOptions.onlyIfAbsent`, which
    /// that refusal did not abort): publishes again, only if the key still holds `expected` (S3
    /// `If-Match` its ETag) or, for nil, still holds nothing. Throws `.objectExists` again, the
    /// upload still open, when it changed meanwhile.
    @discardableResult func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64
    /// After `commit` threw `.objectExists`: whether `found`, the object now under the key, is this
    /// upload itself (stored by a first attempt whose answer was lost); if so the upload is
    /// published and over.
    func isPublished(as found: ObjectMetadata) -> Bool
    /// Discards everything written; the previous object under the key (if any) is untouched. Idempotent.
    func abort()
    /// Gives the object `date` as its modification time when it is committed, for a time a client
    /// set before its upload ended (SFTP FSETSTAT on the open handle, an scp `T` line): S3 stores it
    /// with the object's other metadata (no rewrite afterwards), local storage sets the file's mtime
    /// before publishing it. False when this upload cannot; the caller then sets it after the commit.
    func recordModificationTime(_ date: Date) -> Bool
    /// After a successful commit, the published object as the store's answer described it (S3: the
    /// PutObject's ETag, with the metadata sent), so that a change right after it (lftp's MFMT after
    /// STOR) needs no HeadObject; nil when unknown (a multipart upload, whose metadata was rewritten
    /// afterwards, or a driver that has no use for it).
    var published: ObjectMetadata? { get }
}

public extension ObjectUpload {
    func recordModificationTime(_ date: Date) -> Bool { false }
    var published: ObjectMetadata? { nil }
    @discardableResult func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 { try commit() }
    func isPublished(as found: ObjectMetadata) -> Bool { false }

    /// Runs the work of a `commit` or `write`: any failure aborts the upload before it is rethrown,
    /// so that nothing half-written is ever published or left behind. The one exception is a
    /// conditional publish the store refused (`.objectExists`): nothing was published, and the
    /// upload stays open for `commitAgain` or `abort`, as the contract of `commitAgain` says.
    func abortingOnFailure<T>(_ body: () throws(StorageError) -> T) throws(StorageError) -> T {
        do throws(StorageError) {
            return try body()
        } catch .objectExists(let key) {
            throw .objectExists(key: key)
        } catch {
            abort()
            throw error
        }
    }

    func write(_ bytes: [UInt8]) throws(StorageError) {
        let result: Result<Void, StorageError> = bytes.withUnsafeBytes { raw in
            do throws(StorageError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }
}

public extension ObjectReader {
    /// Reads the whole remaining stream; for tests and small objects only.
    func readAll(chunkSize: Int = 65536) throws(StorageError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let outcome: Result<Int, StorageError> = chunk.withUnsafeMutableBytes { raw in
                do throws(StorageError) { return .success(try read(into: raw)) } catch { return .failure(error) }
            }
            let n = try outcome.get()
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }
}

/// Streams everything `reader` yields into `upload` and commits it; on any failure the upload is
/// aborted (nothing published). Memory: one 1 MiB buffer. Used for copies between stores and by
/// drivers without a native copy.
public func streamCopy(from reader: any ObjectReader, into upload: any ObjectUpload) throws(StorageError) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    do throws(StorageError) {
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            try upload.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        try upload.commit()
    } catch {
        upload.abort()
        throw error
    }
}
