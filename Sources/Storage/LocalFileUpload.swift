#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PathRules

/// A file being written under a temporary name, renamed into place on commit; with
/// `UploadOptions.onlyIfAbsent`, linked into place (link(2) refuses a name that exists, where
/// rename(2) would replace it) and the temporary name removed.
final class LocalFileUpload: ObjectUpload {
    private let bucket: DirectoryDescriptor
    private let components: [String]
    private let temporaryDirectory: DirectoryDescriptor
    private let temporaryName: String
    private var fd: Int32
    private let limit: UInt64?
    private var written: UInt64 = 0
    private var finished = false
    private let onlyIfAbsent: Bool

    private var temporaryDescription: String { temporaryDirectory.description + "/" + temporaryName }
    private var targetDescription: String { bucket.description + "/" + components.joined(separator: "/") }

    init(bucket: DirectoryDescriptor, components: [String], temporaryDirectory: DirectoryDescriptor,
         limit: UInt64?, onlyIfAbsent: Bool = false) throws(StorageError) {
        self.bucket = bucket
        self.onlyIfAbsent = onlyIfAbsent
        self.components = components
        self.temporaryDirectory = temporaryDirectory
        self.limit = limit
        var random = SystemRandomNumberGenerator()
        self.temporaryName = String(random.next(), radix: 16) + String(random.next(), radix: 16) + ".part"
        self.fd = try POSIX.openAt(temporaryDirectory.fd, temporaryName, O_WRONLY | O_CREAT | O_EXCL, 0o600,
                                   what: temporaryDirectory.description + "/" + temporaryName)
    }

    /// Starts the new content with the first `length` bytes of `source` (resume, append).
    func copyPrefix(of source: any ObjectReader, length: UInt64) throws(StorageError) {
        defer { source.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = length
        while remaining > 0 {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(remaining, 1 << 20))]))
            if n == 0 { throw .conflict(detail: "\(targetDescription) is shorter than the resume offset \(length)") }
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
            try POSIX.writeAll(fd, bytes, temporaryDescription)
        } catch {
            abort()
            throw error
        }
        written += UInt64(bytes.count)
    }

    func commit() throws(StorageError) -> UInt64 { try publish(replacing: !onlyIfAbsent) }

    /// After a refused `onlyIfAbsent` commit. A local file has no ETag to pin to: over the object
    /// the caller's check just found, the rename replaces what is there by then; for nothing, the
    /// link again refuses a name that was taken meanwhile.
    func commitAgain(expecting expected: ObjectMetadata?) throws(StorageError) -> UInt64 {
        try publish(replacing: expected != nil)
    }

    private func publish(replacing: Bool) throws(StorageError) -> UInt64 {
        guard !finished else { throw .aborted }
        return try abortingOnFailure { () throws(StorageError) -> UInt64 in
            if fd >= 0 {  // the first attempt: make the bytes durable (a refused one did already)
                guard fchmod(fd, 0o644) == 0 else { throw POSIX.storageError(errno, temporaryDescription) }
                if let modificationTime {  // before the fsync, which makes it durable; kept by the rename
                    try POSIX.setModificationTime(temporaryDirectory.fd, temporaryName, to: modificationTime, what: temporaryDescription)
                }
                try POSIX.fsync(fd, temporaryDescription)
                POSIX.close(fd)
                fd = -1
            }
            // Object-store semantics: a key's "directories" need not exist before it (the session
            // decides whether a client may create a file in a missing directory; it may not).
            guard let name = components.last,
                  let parent = try DirectoryDescriptor.open(components.dropLast(), below: bucket, create: true) else {
                throw .io(detail: "cannot open the directory of \(targetDescription)")
            }
            if let info = try POSIX.statAt(parent.fd, name, what: targetDescription), POSIX.isDirectory(info) {
                throw .conflict(detail: "\(targetDescription) is a directory")
            }
            if replacing {
                try POSIX.renameAt(temporaryDirectory.fd, temporaryName, parent.fd, name, what: targetDescription)
            } else {
                let taken = StorageError.objectExists(key: components.joined(separator: "/"))  // the upload stays open
                switch try POSIX.linkAtIfAbsent(temporaryDirectory.fd, temporaryName, parent.fd, name, what: targetDescription) {
                case true?:
                    // Published; a temporary name left by a failure here is only a second link to
                    // the file, removed with the other stale uploads.
                    try? POSIX.unlinkAt(temporaryDirectory.fd, temporaryName, what: temporaryDescription)
                case false?:
                    // Taken by a file. Anything else there (a symbolic link, a FIFO) is no object:
                    // clients never see it, so it is replaced as a rename replaces it.
                    guard let info = try POSIX.statAt(parent.fd, name, what: targetDescription),
                          !POSIX.isRegularFile(info) else { throw taken }
                    try POSIX.renameAt(temporaryDirectory.fd, temporaryName, parent.fd, name, what: targetDescription)
                case nil:
                    // No hard links on this file system: asked, then renamed (a name taken in
                    // between would be replaced, as without conditional writes on S3).
                    if let info = try POSIX.statAt(parent.fd, name, what: targetDescription), POSIX.isRegularFile(info) {
                        throw taken
                    }
                    try POSIX.renameAt(temporaryDirectory.fd, temporaryName, parent.fd, name, what: targetDescription)
                }
            }
            finished = true
            return written
        }
    }

    /// A modification time the client set before the end, given to the file before it is published.
    private var modificationTime: Date?

    func recordModificationTime(_ date: Date) -> Bool {
        guard !finished else { return false }
        modificationTime = date
        return true
    }

    func abort() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { POSIX.close(fd) }
        fd = -1
        try? POSIX.unlinkAt(temporaryDirectory.fd, temporaryName, what: temporaryDescription)
    }

    deinit { abort() }
}
