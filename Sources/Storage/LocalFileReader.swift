#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PathRules

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
