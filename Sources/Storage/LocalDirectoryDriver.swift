#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PathRules

/// The embedded default store: each bucket is a directory below `root`, each object a file, each
/// directory marker (`dir/`) a directory.
///
/// Uploads are written to a hidden temporary file under `root/.ferry-uploads/` and renamed into place
/// only on commit, so nothing half-written is ever visible and an aborted upload leaves nothing.
/// Symbolic links and special files below a bucket are never followed or listed. Every key is
/// resolved beneath the root on its own (a walk of plain names from the root's descriptor, see
/// `DirectoryDescriptor`), so a mistake in the layers above can never reach outside the root.
public final class LocalDirectoryDriver: StorageDriver {
    public let root: String
    public let capabilities: StorageCapabilities
    private let rootDirectory: DirectoryDescriptor
    let uploadsDirectory: DirectoryDescriptor

    /// Name of the directory for in-progress uploads; bucket names never start with a dot.
    static let uploadsDirectoryName = ".ferry-uploads"

    /// Opens (and creates if needed) the root directory. Temporary files untouched for
    /// `staleUploadAge` (a day by default; 0 = keep them) are left from a crash and removed.
    public init(root: String, maxObjectSize: UInt64? = nil, staleUploadAge: TimeInterval = 86_400) throws(StorageError) {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = absolute.utf8.count > 1 && absolute.utf8.last == KeyBytes.separator ? String(absolute.dropLast()) : absolute
        self.capabilities = StorageCapabilities(maxObjectSize: maxObjectSize, createsOnlyIfAbsent: true)
        try POSIX.makeDirectories(self.root)
        // The root itself is the operator's choice and may be reached through links; nothing below it is.
        rootDirectory = DirectoryDescriptor(fd: try POSIX.open(self.root, O_RDONLY | O_DIRECTORY), description: self.root)
        guard let uploads = try DirectoryDescriptor.open([Self.uploadsDirectoryName], below: rootDirectory, create: true) else {
            throw .io(detail: "cannot open \(self.root)/\(Self.uploadsDirectoryName)")
        }
        uploadsDirectory = uploads
        if staleUploadAge > 0 { removeStaleUploads(olderThan: staleUploadAge) }
    }

    /// Creates the bucket's directory if it is missing (used at startup for configured homes).
    public func ensureBucket(_ bucket: String) throws(StorageError) {
        try Self.validateBucket(bucket)
        _ = try DirectoryDescriptor.open([bucket], below: rootDirectory, create: true)
    }

    /// Temporary files of uploads, untouched for `seconds`: left by a killed process.
    @discardableResult
    private func removeStaleUploads(olderThan seconds: TimeInterval) -> [AbandonedUpload] {
        guard let names = try? POSIX.directoryEntries(uploadsDirectory.fd, what: uploadsDirectory.description) else { return [] }
        let now = Date()
        var removed: [AbandonedUpload] = []
        for name in names {
            let what = uploadsDirectory.description + "/" + name
            if let info = try? POSIX.statAt(uploadsDirectory.fd, name, what: what), POSIX.isRegularFile(info),
               now.timeIntervalSince(POSIX.modificationDate(info)) > seconds,
               (try? POSIX.unlinkAt(uploadsDirectory.fd, name, what: what)) != nil {
                removed.append(AbandonedUpload(key: ObjectKey(bucket: "", key: Self.uploadsDirectoryName + "/" + name),
                                               uploadID: name, initiated: POSIX.modificationDate(info)))
            }
        }
        return removed
    }

    /// Local uploads are temporary files of the whole root (their target is not in their name), so
    /// the scope does not narrow them: every temporary file untouched since `cutoff` is removed.
    public func abortAbandonedUploads(in scope: ObjectKey, idleSince cutoff: Date) throws(StorageError) -> [AbandonedUpload] {
        removeStaleUploads(olderThan: max(0, Date().timeIntervalSince(cutoff)))
    }

    // MARK: Key → place

    static func validateBucket(_ bucket: String) throws(StorageError) {
        guard KeyBytes.isPlainName(bucket), bucket.utf8.first != UInt8(ascii: ".") else {
            throw .invalidKey(detail: "bucket name \(bucket.debugDescription) is not usable as a directory")
        }
    }

    private func bucketDirectory(_ bucket: String) throws(StorageError) -> DirectoryDescriptor {
        try Self.validateBucket(bucket)
        guard let directory = try DirectoryDescriptor.open([bucket], below: rootDirectory, create: false) else {
            throw .bucketNotFound(bucket: bucket)
        }
        return directory
    }

    /// Where a key lives: the directory that holds its last component, and that name ("" for the
    /// bucket itself). nil when a directory on the way does not exist. Every component must be a
    /// plain name: the key can never point outside its bucket.
    struct Place {
        let directory: DirectoryDescriptor
        let name: String
        var description: String { name.isEmpty ? directory.description : directory.description + "/" + name }
    }

    func place(of key: ObjectKey, creatingDirectories: Bool = false) throws(StorageError) -> Place? {
        let bucket = try bucketDirectory(key.bucket)
        let components = try KeyBytes.plainComponents(ofKey: key.key)
        guard let last = components.last else { return Place(directory: bucket, name: "") }
        guard let directory = try DirectoryDescriptor.open(components.dropLast(), below: bucket,
                                                           create: creatingDirectories) else { return nil }
        return Place(directory: directory, name: last)
    }

    /// What is at `place` (the bucket's own directory when its name is empty); nil when nothing is.
    private func stat(_ place: Place) throws(StorageError) -> stat? {
        if place.name.isEmpty { return try POSIX.stat(place.directory.fd, what: place.description) }
        return try POSIX.statAt(place.directory.fd, place.name, what: place.description)
    }

    // MARK: StorageDriver

    public func metadata(_ key: ObjectKey) throws(StorageError) -> ObjectMetadata? {
        guard let place = try place(of: key), let info = try stat(place) else { return nil }
        if key.isDirectoryMarker || key.key.isEmpty {
            guard POSIX.isDirectory(info) else { return nil }
            return ObjectMetadata(key: key, size: 0, modified: POSIX.modificationDate(info))
        }
        guard POSIX.isRegularFile(info) else { return nil }
        return ObjectMetadata(key: key, size: UInt64(info.st_size), modified: POSIX.modificationDate(info))
    }

    public func setModificationTime(of current: ObjectMetadata, to modified: Date) throws(StorageError) {
        let key = current.key
        guard !key.isDirectoryMarker, !key.key.isEmpty, let place = try place(of: key), let info = try stat(place),
              POSIX.isRegularFile(info) else { throw .notFound(key: key.key) }
        try POSIX.setModificationTime(place.directory.fd, place.name, to: modified, what: place.description)
    }

    /// The directory's own mtime (as `touch -d` would set it); the bucket's root too.
    public func setDirectoryModificationTime(_ marker: ObjectKey, to modified: Date) throws(StorageError) {
        guard let place = try place(of: marker), let info = try stat(place), POSIX.isDirectory(info) else {
            throw .notFound(key: marker.key)
        }
        try POSIX.setModificationTime(place.directory.fd, place.name, to: modified, what: place.description)
    }

    public func list(_ prefix: ObjectKey, delimiter: Character?, after: ListCursor?, limit: Int) throws(StorageError) -> ListPage {
        let bucket = try bucketDirectory(prefix.bucket)  // throws bucketNotFound for a missing bucket
        var builder = ListPageBuilder(prefix: prefix.key, delimiter: delimiter, cursor: after, limit: limit)
        // Split "a/b/na" into the directory "a/b/" and the name prefix "na" (bytewise).
        let (directoryKey, namePrefix) = KeyBytes.splitAtLastSeparator(prefix.key)
        let directory: DirectoryDescriptor
        do throws(StorageError) {
            guard let opened = try DirectoryDescriptor.open(try KeyBytes.plainComponents(ofKey: directoryKey),
                                                            below: bucket, create: false) else { return builder.page }
            directory = opened
        } catch .invalidKey {
            return builder.page  // no stored key can have this prefix
        } catch .accessDenied {
            return builder.page  // a symbolic link on the way: never followed, so nothing is below it
        }
        if namePrefix.isEmpty && !directoryKey.isEmpty {
            // The directory itself is its own marker object, listed like S3 lists a `dir/` key.
            let info = try POSIX.stat(directory.fd, what: directory.description)
            let marker = ObjectMetadata(key: ObjectKey(bucket: prefix.bucket, key: directoryKey), size: 0,
                                        modified: POSIX.modificationDate(info))
            guard builder.offer(marker) else { return builder.page }
        }
        _ = try walk(directory, keyPrefix: directoryKey, namePrefix: namePrefix, bucket: prefix.bucket,
                     recursive: delimiter == nil, cursor: after, builder: &builder)
        return builder.page
    }

    /// Visits a directory's entries in S3 key order (a directory sorts as `name/`). Returns false once
    /// the page is full.
    private func walk(_ directory: DirectoryDescriptor, keyPrefix: String, namePrefix: String, bucket: String,
                      recursive: Bool, cursor: ListCursor?, builder: inout ListPageBuilder) throws(StorageError) -> Bool {
        let names = try POSIX.directoryEntries(directory.fd, what: directory.description)
        var entries: [(sortKey: String, name: String, info: stat)] = []
        for name in names where KeyBytes.hasPrefix(name, namePrefix) {
            guard let info = try POSIX.statAt(directory.fd, name, what: directory.description + "/" + name) else { continue }
            if POSIX.isDirectory(info) {
                entries.append((name + "/", name, info))
            } else if POSIX.isRegularFile(info) {
                entries.append((name, name, info))
            }  // symbolic links, sockets, devices: never listed, never followed
        }
        entries.sort { KeyOrder.precedes($0.sortKey, $1.sortKey) }
        for entry in entries {
            let key = keyPrefix + entry.sortKey
            let isDirectory = POSIX.isDirectory(entry.info)
            let metadata = ObjectMetadata(key: ObjectKey(bucket: bucket, key: key),
                                          size: isDirectory ? 0 : UInt64(entry.info.st_size),
                                          modified: POSIX.modificationDate(entry.info))
            if isDirectory && recursive {
                if let cursor, !KeyOrder.precedes(cursor.token, key), !KeyBytes.hasPrefix(cursor.token, key) {
                    continue  // the whole subtree was listed on an earlier page
                }
                guard builder.offer(metadata) else { return false }
                guard let child = try DirectoryDescriptor.open([entry.name], below: directory, create: false) else { continue }
                guard try walk(child, keyPrefix: key, namePrefix: "", bucket: bucket, recursive: true,
                               cursor: cursor, builder: &builder) else { return false }
            } else {
                guard builder.offer(metadata) else { return false }
            }
        }
        return true
    }

    public func openRead(_ key: ObjectKey, from offset: UInt64) throws(StorageError) -> any ObjectReader {
        guard !key.isDirectoryMarker, let place = try place(of: key), !place.name.isEmpty else {
            throw .notFound(key: key.key)
        }
        let fd: Int32
        do throws(StorageError) {
            fd = try POSIX.openAt(place.directory.fd, place.name, O_RDONLY | O_NONBLOCK, what: place.description)
        } catch .notFound {
            throw .notFound(key: key.key)
        }
        do throws(StorageError) {
            // Checked on the open descriptor: what was opened is what is read (a FIFO opened
            // non-blocking, a directory or a device is refused here).
            guard POSIX.isRegularFile(try POSIX.stat(fd, what: place.description)) else { throw .notFound(key: key.key) }
            guard fcntl(fd, F_SETFL, 0) == 0 else { throw POSIX.storageError(errno, place.description) }
            try POSIX.seek(fd, to: offset, place.description)
        } catch {
            POSIX.close(fd)
            throw error
        }
        return LocalFileReader(fd: fd, path: place.description)
    }

    public func beginUpload(_ key: ObjectKey, options: UploadOptions) throws(StorageError) -> any ObjectUpload {
        let components = try KeyBytes.plainComponents(ofKey: key.key)
        let bucket = try bucketDirectory(key.bucket)
        if key.isDirectoryMarker {
            return LocalMarkerUpload(bucket: bucket, components: components)
        }
        guard !components.isEmpty else { throw .invalidKey(detail: "an object needs a name") }
        // Refuse at once what the commit would refuse: a symbolic link or a file on the way.
        _ = try DirectoryDescriptor.open(components.dropLast(), below: bucket, create: false)
        let upload = try LocalFileUpload(bucket: bucket, components: components, temporaryDirectory: uploadsDirectory,
                                         limit: capabilities.maxObjectSize, onlyIfAbsent: options.onlyIfAbsent)
        if options.keepingPrefix > 0 {
            do throws(StorageError) {
                try upload.copyPrefix(of: self.openRead(key, from: 0), length: options.keepingPrefix)
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
            try beginUpload(target, options: UploadOptions()).commit()
            return
        }
        let reader = try openRead(source, from: 0)
        defer { reader.close() }
        try streamCopy(from: reader, into: try beginUpload(target, options: UploadOptions()))
    }

    public func delete(_ keys: [ObjectKey]) throws(StorageError) {
        for key in keys {
            guard let place = try place(of: key), !place.name.isEmpty,
                  let info = try stat(place) else { continue }
            if key.isDirectoryMarker {
                guard POSIX.isDirectory(info) else { continue }
                do throws(StorageError) {
                    try POSIX.unlinkAt(place.directory.fd, place.name, flags: AT_REMOVEDIR, what: place.description)
                } catch .conflict {
                    continue  // not empty: like S3, the directory lives on through the keys below it
                } catch .notFound {
                    continue
                }
            } else if POSIX.isRegularFile(info) {
                do throws(StorageError) {
                    try POSIX.unlinkAt(place.directory.fd, place.name, what: place.description)
                } catch .notFound {
                    continue
                }
            }
        }
    }
}
