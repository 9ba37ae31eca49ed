#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The embedded default store: each bucket is a directory below `root`, each object a file, each
/// directory marker (`dir/`) a directory.
///
/// Uploads are written to a hidden temporary file under `root/.ferry-uploads/` and renamed into place
/// only on commit, so nothing half-written is ever visible and an aborted upload leaves nothing.
/// Symbolic links and special files below a bucket are never followed or listed.
public final class LocalDirectoryDriver: StorageDriver {
    public let root: String
    public let capabilities: StorageCapabilities
    let uploadsDirectory: String

    /// Name of the directory for in-progress uploads; bucket names never start with a dot.
    static let uploadsDirectoryName = ".ferry-uploads"

    /// Opens (and creates if needed) the root directory. Temporary files older than a day are left
    /// from a crash and removed.
    public init(root: String, maxObjectSize: UInt64? = nil) throws(StorageError) {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = absolute.count > 1 && absolute.hasSuffix("/") ? String(absolute.dropLast()) : absolute
        self.capabilities = StorageCapabilities(maxObjectSize: maxObjectSize, canKeepPrefixOnUpload: true)
        self.uploadsDirectory = self.root + "/" + Self.uploadsDirectoryName
        try POSIX.makeDirectories(self.root)
        try POSIX.makeDirectories(uploadsDirectory)
        removeStaleUploads(olderThan: 86_400)
    }

    /// Creates the bucket's directory if it is missing (used at startup for configured homes).
    public func ensureBucket(_ bucket: String) throws(StorageError) {
        try Self.validateBucket(bucket)
        try POSIX.makeDirectories(root + "/" + bucket)
    }

    private func removeStaleUploads(olderThan seconds: TimeInterval) {
        guard let names = try? POSIX.directoryEntries(uploadsDirectory) else { return }
        let now = Date()
        for name in names {
            let path = uploadsDirectory + "/" + name
            if let info = try? POSIX.stat(path), now.timeIntervalSince(POSIX.modificationDate(info)) > seconds {
                try? POSIX.unlink(path)
            }
        }
    }

    // MARK: Key → path

    static func validateBucket(_ bucket: String) throws(StorageError) {
        guard !bucket.isEmpty, !bucket.hasPrefix("."), !bucket.contains("/"), !bucket.contains("\0") else {
            throw .invalidKey(detail: "bucket name \(bucket.debugDescription) is not usable as a directory")
        }
    }

    private func bucketPath(_ bucket: String) throws(StorageError) -> String {
        try Self.validateBucket(bucket)
        let path = root + "/" + bucket
        guard let info = try POSIX.stat(path), POSIX.isDirectory(info) else { throw .bucketNotFound(bucket: bucket) }
        return path
    }

    /// The file-system path of a key. Every component must be a plain name: the key can never point
    /// outside its bucket.
    func path(for key: ObjectKey) throws(StorageError) -> String {
        let base = try bucketPath(key.bucket)
        var name = key.key
        if name.hasSuffix("/") { name.removeLast() }
        guard !name.isEmpty else { return base }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        for component in components {
            guard !component.isEmpty, component != ".", component != "..", !component.contains("\0") else {
                throw .invalidKey(detail: "key \(key.key.debugDescription) has an empty, dot or NUL component")
            }
            guard component.utf8.count <= Int(NAME_MAX) else {
                throw .invalidKey(detail: "a name in \(key.key.debugDescription) is longer than \(NAME_MAX) bytes")
            }
        }
        // No directory on the way may be a symbolic link: a link inside a bucket could lead anywhere.
        // (The last component is checked with lstat/O_NOFOLLOW by each operation.)
        var current = base
        for component in components.dropLast() {
            current += "/" + component
            guard let info = try POSIX.stat(current) else { break }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                throw .accessDenied(detail: "\(current) is a symbolic link")
            }
        }
        return base + "/" + name
    }

    // MARK: StorageDriver

    public func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata? {
        let path = try path(for: key)
        guard let info = try POSIX.stat(path) else { return nil }
        if key.isDirectoryMarker || key.key.isEmpty {
            guard POSIX.isDirectory(info) else { return nil }
            return ObjectMetadata(key: key, size: 0, modified: POSIX.modificationDate(info))
        }
        guard POSIX.isRegularFile(info) else { return nil }
        return ObjectMetadata(key: key, size: UInt64(info.st_size), modified: POSIX.modificationDate(info))
    }

    public func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage {
        _ = try bucketPath(prefix.bucket)  // throws bucketNotFound for a missing bucket
        var builder = ListPageBuilder(prefix: prefix.key, delimiter: delimiter, cursor: after, limit: limit)
        // Split "a/b/na" into the directory "a/b/" and the name prefix "na".
        let directoryKey: String
        let namePrefix: String
        if let slash = prefix.key.lastIndex(of: "/") {
            directoryKey = String(prefix.key[...slash])
            namePrefix = String(prefix.key[prefix.key.index(after: slash)...])
        } else {
            directoryKey = ""
            namePrefix = prefix.key
        }
        let directoryPath: String
        do throws(StorageError) {
            directoryPath = try path(for: ObjectKey(bucket: prefix.bucket, key: directoryKey))
        } catch .invalidKey {
            return builder.page  // no stored key can have this prefix
        }
        guard let info = try POSIX.stat(directoryPath), POSIX.isDirectory(info) else { return builder.page }
        if namePrefix.isEmpty && !directoryKey.isEmpty {
            // The directory itself is its own marker object, listed like S3 lists a `dir/` key.
            let marker = ObjectMetadata(key: ObjectKey(bucket: prefix.bucket, key: directoryKey), size: 0,
                                        modified: POSIX.modificationDate(info))
            guard builder.offer(marker) else { return builder.page }
        }
        _ = try walk(directoryPath, keyPrefix: directoryKey, namePrefix: namePrefix, bucket: prefix.bucket,
                     recursive: delimiter == nil, cursor: after, builder: &builder)
        return builder.page
    }

    /// Visits a directory's entries in S3 key order (a directory sorts as `name/`). Returns false once
    /// the page is full.
    private func walk(_ directoryPath: String, keyPrefix: String, namePrefix: String, bucket: String,
                      recursive: Bool, cursor: ListCursor?, builder: inout ListPageBuilder) throws(StorageError) -> Bool {
        guard let names = try POSIX.directoryEntries(directoryPath) else { return true }
        var entries: [(sortKey: String, info: stat)] = []
        for name in names where name.hasPrefix(namePrefix) && !name.contains("\u{FFFD}") {
            guard let info = try POSIX.stat(directoryPath + "/" + name) else { continue }
            if POSIX.isDirectory(info) {
                entries.append((name + "/", info))
            } else if POSIX.isRegularFile(info) {
                entries.append((name, info))
            }  // symbolic links, sockets, devices: never listed, never followed
        }
        entries.sort { KeyOrder.precedes($0.sortKey, $1.sortKey) }
        for entry in entries {
            let key = keyPrefix + entry.sortKey
            let isDirectory = entry.sortKey.hasSuffix("/")
            let metadata = ObjectMetadata(key: ObjectKey(bucket: bucket, key: key),
                                          size: isDirectory ? 0 : UInt64(entry.info.st_size),
                                          modified: POSIX.modificationDate(entry.info))
            if isDirectory && recursive {
                if let cursor, !KeyOrder.precedes(cursor.token, key), !cursor.token.hasPrefix(key) {
                    continue  // the whole subtree was listed on an earlier page
                }
                guard builder.offer(metadata) else { return false }
                let childPath = directoryPath + "/" + String(entry.sortKey.dropLast())
                guard try walk(childPath, keyPrefix: key, namePrefix: "", bucket: bucket, recursive: true,
                               cursor: cursor, builder: &builder) else { return false }
            } else {
                guard builder.offer(metadata) else { return false }
            }
        }
        return true
    }

    public func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader {
        let path = try path(for: key)
        guard !key.isDirectoryMarker, let info = try POSIX.stat(path), POSIX.isRegularFile(info) else {
            throw .notFound(key: key.key)
        }
        let fd = try POSIX.open(path, O_RDONLY | O_NOFOLLOW)
        do throws(StorageError) {
            try POSIX.seek(fd, to: offset, path)
        } catch {
            POSIX.close(fd)
            throw error
        }
        return LocalFileReader(fd: fd, path: path)
    }

    public func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload {
        let target = try path(for: key)
        if key.isDirectoryMarker {
            return LocalMarkerUpload(path: target)
        }
        let upload = try LocalFileUpload(target: target, temporaryDirectory: uploadsDirectory,
                                         limit: capabilities.maxObjectSize)
        if options.keepingPrefix > 0 {
            do throws(StorageError) {
                try upload.copyPrefix(of: target, length: options.keepingPrefix)
            } catch {
                upload.abort()
                throw error
            }
        }
        return upload
    }

    public func copy(_ source: ObjectKey, to target: ObjectKey) throws(StorageError) {
        if source.isDirectoryMarker {
            guard try metadata(source) != nil else { throw .notFound(key: source.key) }
            try LocalMarkerUpload(path: try path(for: target)).commit()
            return
        }
        let reader = try openRead(source, from: 0)
        defer { reader.close() }
        try streamCopy(from: reader, into: try beginUpload(target, options: UploadOptions()))
    }

    public func delete(_ keys: [ObjectKey]) throws(StorageError) {
        for key in keys {
            let path = try path(for: key)
            guard let info = try POSIX.stat(path) else { continue }
            if key.isDirectoryMarker {
                guard POSIX.isDirectory(info), !key.key.isEmpty else { continue }
                do throws(StorageError) {
                    try POSIX.rmdir(path)
                } catch .conflict {
                    continue  // not empty: like S3, the directory lives on through the keys below it
                } catch .notFound {
                    continue
                }
            } else if POSIX.isRegularFile(info) {
                do throws(StorageError) {
                    try POSIX.unlink(path)
                } catch .notFound {
                    continue
                }
            }
        }
    }
}

/// A stream over an open file.
final class LocalFileReader: ObjectReader {
    private var fd: Int32
    private let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        guard fd >= 0 else { throw .aborted }
        return try POSIX.read(fd, buffer, path)
    }

    func close() {
        if fd >= 0 { POSIX.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// A directory marker "upload": creating the directory is the whole commit.
final class LocalMarkerUpload: ObjectUpload {
    private let path: String
    init(path: String) { self.path = path }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        if bytes.count > 0 { throw .conflict(detail: "a directory marker cannot hold data") }
    }

    func commit() throws(StorageError) -> UInt64 {
        if let info = try POSIX.stat(path), !POSIX.isDirectory(info) {
            throw .conflict(detail: "\(path) is a file where a directory is needed")
        }
        try POSIX.makeDirectories(path)
        return 0
    }

    func abort() {}
}

/// A file being written under a temporary name, renamed into place on commit.
final class LocalFileUpload: ObjectUpload {
    private let target: String
    private let temporaryPath: String
    private var fd: Int32
    private let limit: UInt64?
    private var written: UInt64 = 0
    private var finished = false

    init(target: String, temporaryDirectory: String, limit: UInt64?) throws(StorageError) {
        self.target = target
        self.limit = limit
        var random = SystemRandomNumberGenerator()
        let suffix = String(random.next(), radix: 16) + String(random.next(), radix: 16)
        self.temporaryPath = temporaryDirectory + "/" + suffix + ".part"
        self.fd = try POSIX.open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    }

    /// Starts the new content with the first `length` bytes of the file at `path` (resume, append).
    func copyPrefix(of path: String, length: UInt64) throws(StorageError) {
        guard let info = try POSIX.stat(path), POSIX.isRegularFile(info) else { throw .notFound(key: path) }
        guard UInt64(info.st_size) >= length else {
            throw .conflict(detail: "\(path) is shorter than the resume offset \(length)")
        }
        let source = try POSIX.open(path, O_RDONLY | O_NOFOLLOW)
        defer { POSIX.close(source) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = length
        while remaining > 0 {
            let n = try POSIX.read(source, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(remaining, 1 << 20))]), path)
            if n == 0 { throw .conflict(detail: "\(path) shrank while it was being resumed") }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= UInt64(n)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard !finished else { throw .aborted }
        if let limit, written + UInt64(bytes.count) > limit {
            abort()
            throw .objectTooLarge(limit: limit)
        }
        do throws(StorageError) {
            try POSIX.writeAll(fd, bytes, temporaryPath)
        } catch {
            abort()
            throw error
        }
        written += UInt64(bytes.count)
    }

    func commit() throws(StorageError) -> UInt64 {
        guard !finished else { throw .aborted }
        do throws(StorageError) {
            guard fchmod(fd, 0o644) == 0 else { throw POSIX.storageError(errno, temporaryPath) }
            try POSIX.fsync(fd, temporaryPath)
            POSIX.close(fd)
            fd = -1
            let parent = String(target[..<(target.lastIndex(of: "/") ?? target.startIndex)])
            try POSIX.makeDirectories(parent)
            if let info = try POSIX.stat(target), POSIX.isDirectory(info) {
                throw .conflict(detail: "\(target) is a directory")
            }
            try POSIX.rename(temporaryPath, target)
            finished = true
            return written
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { POSIX.close(fd) }
        fd = -1
        try? POSIX.unlink(temporaryPath)
    }

    deinit { abort() }
}
