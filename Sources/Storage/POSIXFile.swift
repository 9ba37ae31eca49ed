#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The local driver's only door to the file system: thin wrappers over POSIX calls that retry EINTR
/// and turn `errno` into a `StorageError` right where it is returned.
enum POSIX {
    static func storageError(_ code: Int32, _ what: String) -> StorageError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT: return .notFound(key: what)
        case EACCES, EPERM, EROFS: return .accessDenied(detail: "\(what): \(reason)")
        case ENOSPC, EDQUOT, EFBIG: return .insufficientSpace(detail: "\(what): \(reason)")
        case ENAMETOOLONG: return .invalidKey(detail: "\(what): \(reason)")
        case EEXIST, ENOTDIR, EISDIR, ENOTEMPTY: return .conflict(detail: "\(what): \(reason)")
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

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        try retrying(path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
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

    static func stat(_ path: String) throws(StorageError) -> stat? {
        var info = Glibc.stat()
        if Glibc.lstat(path, &info) == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw storageError(errno, path)
    }

    static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    static func isRegularFile(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }

    static func modificationDate(_ info: stat) -> Date {
        Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    static func rename(_ from: String, _ to: String) throws(StorageError) {
        try retrying(to) { Glibc.rename(from, to) }
    }

    static func unlink(_ path: String) throws(StorageError) {
        try retrying(path) { Glibc.unlink(path) }
    }

    static func rmdir(_ path: String) throws(StorageError) {
        try retrying(path) { Glibc.rmdir(path) }
    }

    static func fsync(_ fd: Int32, _ what: String) throws(StorageError) {
        try retrying(what) { Glibc.fsync(fd) }
    }

    /// `mkdir -p`: creates every missing directory of `path`.
    static func makeDirectories(_ path: String) throws(StorageError) {
        var current = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if Glibc.mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw storageError(errno, current)
            }
            if let info = try stat(current), !isDirectory(info) {
                throw .conflict(detail: "\(current) is a file where a directory is needed")
            }
        }
    }

    /// Names in a directory (without `.` and `..`), or nil when it does not exist.
    static func directoryEntries(_ path: String) throws(StorageError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw storageError(errno, path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
