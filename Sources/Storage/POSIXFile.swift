#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PathRules

/// The local driver's only door to the file system: thin wrappers over POSIX calls that retry EINTR
/// and turn `errno` into a `StorageError` right where it is returned. Below the storage root every
/// call is relative to a directory descriptor (`openat`, `fstatat`, `renameat`…) and never follows a
/// symbolic link; see `DirectoryDescriptor.open(_:below:create:)`.
enum POSIX {
    static func storageError(_ code: Int32, _ what: String) -> StorageError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT: return .notFound(key: what)
        case EACCES, EPERM, EROFS: return .accessDenied(detail: "\(what): \(reason)")
        case ENOSPC, EDQUOT, EFBIG: return .insufficientSpace(detail: "\(what): \(reason)")
        case ENAMETOOLONG: return .invalidKey(detail: "\(what): \(reason)")
        case EEXIST, ENOTDIR, EISDIR, ENOTEMPTY: return .conflict(detail: "\(what): \(reason)")
        case ELOOP: return .accessDenied(detail: "\(what) is a symbolic link")
        default: return .io(detail: "\(what): \(reason)")
        }
    }

    @discardableResult
    static func retrying(_ what: String, _ call: () -> Int32) throws(StorageError) -> Int32 {
        while true {
            let rc = call()
            if rc >= 0 { return rc }
            if errno == EINTR { continue }
            throw storageError(errno, what)
        }
    }

    /// Opens a path given whole (only the storage root itself, which the operator configured).
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        try retrying(path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Opens `name` in the directory `directory`; never follows a symbolic link in `name`.
    static func openAt(_ directory: Int32, _ name: String, _ flags: Int32, _ mode: mode_t = 0o644,
                       what: String) throws(StorageError) -> Int32 {
        try retrying(what) { Glibc.openat(directory, name, flags | O_CLOEXEC | O_NOFOLLOW, mode) }
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ what: String) throws(StorageError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw storageError(errno, what)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ what: String) throws(StorageError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw storageError(errno, what)
            }
            offset += n
        }
    }

    static func seek(_ fd: Int32, to offset: UInt64, _ what: String) throws(StorageError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw storageError(errno, what) }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // close is not retried on EINTR on Linux: the descriptor is gone either way.
    }

    /// What `name` in `directory` is, without following a link; nil when it does not exist.
    static func statAt(_ directory: Int32, _ name: String, what: String) throws(StorageError) -> stat? {
        var info = Glibc.stat()
        if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw storageError(errno, what)
    }

    static func stat(_ fd: Int32, what: String) throws(StorageError) -> stat {
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0 else { throw storageError(errno, what) }
        return info
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegularFile(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }
    static func isSymbolicLink(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFLNK }

    static func modificationDate(_ info: stat) -> Date {
        Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    /// `UTIME_OMIT` (Linux `<sys/stat.h>`: leave this time as it is); a macro expression that Swift
    /// does not import.
    static let timeOmitted = (1 << 30) - 2

    /// Sets a file's modification time (its access time untouched), never following a link.
    static func setModificationTime(_ directory: Int32, _ name: String, to date: Date, what: String) throws(StorageError) {
        let (seconds, fraction) = StoredMetadata.split(date)
        var times = [timespec(tv_sec: 0, tv_nsec: timeOmitted), timespec(tv_sec: Int(seconds), tv_nsec: Int(fraction))]
        // An empty name: the directory `directory` itself (a bucket's root).
        _ = try retrying(what) { name.isEmpty ? futimens(directory, &times) : utimensat(directory, name, &times, AT_SYMLINK_NOFOLLOW) }
    }

    static func renameAt(_ fromDirectory: Int32, _ from: String, _ toDirectory: Int32, _ to: String,
                         what: String) throws(StorageError) {
        try retrying(what) { Glibc.renameat(fromDirectory, from, toDirectory, to) }
    }

    /// linkat, never following a link: gives the file `from` the name `to` only if nothing has that
    /// name yet. False when something has (EEXIST), where `renameAt` would have replaced it; nil
    /// when the file system has no hard links (FAT, many FUSE mounts: EPERM, EOPNOTSUPP, EMLINK,
    /// ENOSYS).
    static func linkAtIfAbsent(_ fromDirectory: Int32, _ from: String, _ toDirectory: Int32, _ to: String,
                               what: String) throws(StorageError) -> Bool? {
        while true {
            if Glibc.linkat(fromDirectory, from, toDirectory, to, 0) == 0 { return true }
            switch errno {
            case EINTR: continue
            case EEXIST: return false
            case EPERM, EOPNOTSUPP, EMLINK, ENOSYS: return nil
            default: throw storageError(errno, what)
            }
        }
    }

    /// unlinkat: a file, or with `AT_REMOVEDIR` an empty directory.
    static func unlinkAt(_ directory: Int32, _ name: String, flags: Int32 = 0, what: String) throws(StorageError) {
        try retrying(what) { Glibc.unlinkat(directory, name, flags) }
    }

    static func fsync(_ fd: Int32, _ what: String) throws(StorageError) {
        try retrying(what) { Glibc.fsync(fd) }
    }

    /// `mkdir -p` of a whole path (only for the storage root the operator configured).
    static func makeDirectories(_ path: String) throws(StorageError) {
        var current = path.utf8.first == KeyBytes.separator ? "" : "."
        for component in KeyBytes.segments(path) where !component.isEmpty {
            current += "/" + component
            if Glibc.mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw storageError(errno, current)
            }
        }
    }

    /// Names in the directory open as `fd` (without `.` and `..`), as bytes: a name that is not valid
    /// UTF-8 cannot be a key and is left out.
    static func directoryEntries(_ fd: Int32, what: String) throws(StorageError) -> [String] {
        let copy = dup(fd)
        guard copy >= 0 else { throw storageError(errno, what) }
        guard let dir = fdopendir(copy) else {
            let code = errno
            Glibc.close(copy)
            throw storageError(code, what)
        }
        defer { closedir(dir) }
        rewinddir(dir)  // the duplicate shares the offset of a descriptor that may have been read before
        var names: [String] = []
        // The name is read in place, up to its NUL: a dirent record is only as long as its name, so
        // copying the declared 256-byte `d_name` reads past the end of the last record of glibc's
        // buffer (AddressSanitizer found it in `make test-asan`).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let name = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            let bytes = Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            guard !KeyBytes.isDotOrDotDot(bytes), let name = String(validating: bytes, as: UTF8.self) else { continue }
            names.append(name)
        }
        return names
    }
}
