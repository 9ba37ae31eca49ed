import Foundation
import Storage

/// A file opened for reading: a read-ahead stream from storage, repositioned when a READ does not
/// continue where the previous one ended (design.md §6: not one GET per 32 KiB request).
final class SFTPReadHandle {
    let path: VirtualPath
    let info: FileInfo
    var reader: (any ObjectReader)?
    /// The offset the stream will deliver next.
    var position: UInt64
    var bytesSent: UInt64 = 0
    var repositions = 0
    let opened = Date()

    init(path: VirtualPath, info: FileInfo, reader: any ObjectReader) {
        self.path = path
        self.info = info
        self.reader = reader
        self.position = 0
    }

    func close() {
        reader?.close()
        reader = nil
    }
}

/// A file opened for writing: an upload that is published only by CLOSE after a clean stream.
final class SFTPWriteHandle {
    /// Where the stream starts; decided at OPEN, or by the first WRITE for a plain open of an
    /// existing file (OpenSSH's `reput` opens without TRUNC and writes from the remote size).
    enum Start {
        case replace
        /// CREAT|EXCL: published only if the name is still free (`UploadMode.create`).
        case create
        case append
        case atFirstWrite(existingSize: UInt64?)

        /// The upload starts from nothing (TRUNC, or CREAT|EXCL): CLOSE publishes it even when
        /// nothing was written.
        var discardsExisting: Bool {
            switch self {
            case .replace, .create: true
            case .append, .atFirstWrite: false
            }
        }
    }

    let path: VirtualPath
    var start: Start
    /// CREAT on a file that did not exist: CLOSE creates it even when nothing was written.
    let createsFile: Bool
    var upload: (any ObjectUpload)?
    var order: SFTPWriteOrder?
    /// Set when the upload failed; every later WRITE and the CLOSE report it.
    var failure: SFTPFailure?
    /// Replaced by a server-side copy (copy-data): CLOSE publishes nothing more.
    var completedByCopy = false
    /// A modification time FSETSTAT gave before CLOSE: stored with the object when the storage can
    /// (`ObjectUpload.recordModificationTime`), else set once the upload is published.
    var modificationTime: Date?
    /// The upload took `modificationTime` with its object (set just before the commit).
    var modificationTimeStored = false
    var bytesReceived: UInt64 = 0
    let opened = Date()

    init(path: VirtualPath, start: Start, createsFile: Bool) {
        self.path = path
        self.start = start
        self.createsFile = createsFile
    }

    /// Opened with CREAT|EXCL: published only if the name is still free.
    var createsOnly: Bool {
        if case .create = start { return true }
        return false
    }

    /// The logical size so far (for FSTAT): the highest byte received.
    var size: UInt64 { order?.expected ?? 0 }

    func abort() {
        upload?.abort()
        upload = nil
    }
}

/// A directory opened for READDIR: one storage page at a time, sent in replies of bounded size.
final class SFTPDirectoryHandle {
    let path: VirtualPath
    let lister: DirectoryLister
    var pending: ArraySlice<FileInfo> = []

    init(path: VirtualPath, lister: DirectoryLister) {
        self.path = path
        self.lister = lister
    }
}

enum SFTPOpenItem {
    case file(SFTPReadHandle)
    case upload(SFTPWriteHandle)
    case directory(SFTPDirectoryHandle)
}

/// The session's open handles: opaque 4-byte ids, at most `capacity` at a time.
struct SFTPHandleTable {
    let capacity: Int
    private var items: [UInt32: SFTPOpenItem] = [:]
    private var nextID: UInt32 = 1

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { items.count }
    var all: [SFTPOpenItem] { Array(items.values) }

    mutating func insert(_ item: SFTPOpenItem) throws(SFTPFailure) -> [UInt8] {
        guard items.count < capacity else {
            throw .status(.failure, "Too many open files (at most \(capacity) per session)")
        }
        let id = nextID
        nextID &+= 1
        items[id] = item
        return [UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
    }

    func item(_ handle: [UInt8]) throws(SFTPFailure) -> SFTPOpenItem {
        guard let id = Self.id(handle), let item = items[id] else { throw .status(.failure, "Invalid handle") }
        return item
    }

    mutating func remove(_ handle: [UInt8]) {
        if let id = Self.id(handle) { items[id] = nil }
    }

    mutating func removeAll() { items.removeAll() }

    private static func id(_ handle: [UInt8]) -> UInt32? {
        guard handle.count == 4 else { return nil }
        return handle.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
