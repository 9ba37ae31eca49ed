import Foundation
import Locking
import PathRules

/// The reference driver: objects in a dictionary. For unit tests and as the executable definition of
/// the driver contract; it keeps whole objects in memory, so it is never used to serve real users.
public final class InMemoryDriver: StorageDriver {
    struct StoredObject {
        var bytes: [UInt8]
        var modified: Date
    }

    private let buckets: Locked<[String: [String: StoredObject]]>
    public let capabilities: StorageCapabilities

    public init(buckets names: [String], maxObjectSize: UInt64? = nil, createsOnlyIfAbsent: Bool = true) {
        var initial: [String: [String: StoredObject]] = [:]
        for name in names { initial[name] = [:] }
        buckets = Locked(initial)
        capabilities = StorageCapabilities(maxObjectSize: maxObjectSize, createsOnlyIfAbsent: createsOnlyIfAbsent)
    }

    private func withBucket<R>(_ name: String, _ body: (inout [String: StoredObject]) throws(StorageError) -> R) throws(StorageError) -> R {
        let result: Result<R, StorageError> = buckets.withLock { all in
            guard var objects = all[name] else { return .failure(.bucketNotFound(bucket: name)) }
            do throws(StorageError) {
                let value = try body(&objects)
                all[name] = objects
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata? {
        try withBucket(key.bucket) { objects in
            objects[key.key].map { ObjectMetadata(key: key, size: UInt64($0.bytes.count), modified: $0.modified) }
        }
    }

    public func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage {
        let snapshot: [(String, ObjectMetadata)] = try withBucket(prefix.bucket) { objects in
            objects.filter { KeyBytes.hasPrefix($0.key, prefix.key) }
                .map { ($0.key, ObjectMetadata(key: ObjectKey(bucket: prefix.bucket, key: $0.key),
                                               size: UInt64($0.value.bytes.count), modified: $0.value.modified)) }
        }
        var builder = ListPageBuilder(prefix: prefix.key, delimiter: delimiter, cursor: after, limit: limit)
        for (_, metadata) in snapshot.sorted(by: { KeyOrder.precedes($0.0, $1.0) }) {
            if !builder.offer(metadata) { break }
        }
        return builder.page
    }

    public func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader {
        let bytes: [UInt8] = try withBucket(key.bucket) { (objects) throws(StorageError) -> [UInt8] in
            guard let object = objects[key.key] else { throw .notFound(key: key.key) }
            return object.bytes
        }
        let start = Int(min(offset, UInt64(bytes.count)))
        return MemoryReader(bytes: Array(bytes[start...]))
    }

    public func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload {
        let kept: [UInt8] = try withBucket(key.bucket) { (objects) throws(StorageError) -> [UInt8] in
            guard options.keepingPrefix > 0 else { return [] }
            guard let existing = objects[key.key] else { throw .notFound(key: key.key) }
            guard UInt64(existing.bytes.count) >= options.keepingPrefix else {
                throw .conflict(detail: "object is shorter than the resume offset")
            }
            return Array(existing.bytes[0..<Int(options.keepingPrefix)])
        }
        return MemoryUpload(driver: self, key: key, initial: kept, limit: capabilities.maxObjectSize,
                            onlyIfAbsent: options.onlyIfAbsent && capabilities.createsOnlyIfAbsent)
    }

    fileprivate func publish(_ key: ObjectKey, bytes: [UInt8], onlyIfAbsent: Bool) throws(StorageError) {
        try withBucket(key.bucket) { (objects) throws(StorageError) in
            if onlyIfAbsent, objects[key.key] != nil { throw .objectExists(key: key.key) }
            objects[key.key] = StoredObject(bytes: bytes, modified: Date())
        }
    }

    public func copy(_ source: ObjectKey, to target: ObjectKey) throws(StorageError) {
        let object: StoredObject = try withBucket(source.bucket) { (objects) throws(StorageError) -> StoredObject in
            guard let object = objects[source.key] else { throw .notFound(key: source.key) }
            return object
        }
        try withBucket(target.bucket) { objects in
            objects[target.key] = StoredObject(bytes: object.bytes, modified: Date())
        }
    }

    public func setModificationTime(of current: ObjectMetadata, to modified: Date) throws(StorageError) {
        let key = current.key
        try withBucket(key.bucket) { objects throws(StorageError) in
            guard objects[key.key] != nil else { throw .notFound(key: key.key) }
            objects[key.key]?.modified = modified
        }
    }

    /// A marker object (`dir/`) carrying the time, as S3 keeps it; the bucket's root keeps none.
    public func setDirectoryModificationTime(_ marker: ObjectKey, to modified: Date) throws(StorageError) {
        guard !marker.key.isEmpty else { throw .unsupported(detail: "the root of bucket \(marker.bucket) keeps no time") }
        try withBucket(marker.bucket) { (objects) throws(StorageError) in
            if let existing = objects[marker.key], !existing.bytes.isEmpty {
                throw .conflict(detail: "\(marker.key) holds data: not a directory marker")
            }
            objects[marker.key] = StoredObject(bytes: [], modified: modified)
        }
    }

    /// Uploads live in the process's memory: none outlives it.
    public func abortAbandonedUploads(in scope: ObjectKey, idleSince cutoff: Date) throws(StorageError) -> [AbandonedUpload] { [] }

    public func delete(_ keys: [ObjectKey]) throws(StorageError) {
        for key in keys {
            try withBucket(key.bucket) { objects in objects[key.key] = nil }
        }
    }
}

private final class MemoryReader: ObjectReader {
    private var bytes: [UInt8]
    private var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<position + n]))
        }
        position += n
        return n
    }

    func close() { bytes = []; position = 0 }
}

private final class MemoryUpload: ObjectUpload {
    private let driver: InMemoryDriver
    private let key: ObjectKey
    private var buffer: [UInt8]
    private let limit: UInt64?
    private var onlyIfAbsent: Bool
    private var finished = false

    init(driver: InMemoryDriver, key: ObjectKey, initial: [UInt8], limit: UInt64?, onlyIfAbsent: Bool) {
        self.driver = driver
        self.key = key
        self.buffer = initial
        self.limit = limit
        self.onlyIfAbsent = onlyIfAbsent
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard !finished else { throw .aborted }
        if let limit, UInt64(buffer.count + bytes.count) > limit {
            abort()
            throw .objectTooLarge(limit: limit)
        }
        buffer.append(contentsOf: bytes)
    }

    func commit() throws(StorageError) -> UInt64 {
        guard !finished else { throw .aborted }
        try abortingOnFailure { () throws(StorageError) in try driver.publish(key, bytes: buffer, onlyIfAbsent: onlyIfAbsent) }
        finished = true
        return UInt64(buffer.count)
    }

    /// The in-memory store keeps no ETags: an expected object is replaced whatever is there.
    func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 {
        onlyIfAbsent = expected == nil
        return try commit()
    }

    func abort() {
        finished = true
        buffer = []
    }
}
