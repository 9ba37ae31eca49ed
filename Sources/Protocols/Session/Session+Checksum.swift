import Digests
import Foundation
import Storage

extension Session {
    /// The checksum of a whole file (FTP HASH and XMD5/XSHA1/XSHA256/XCRC, SFTP check-file). Needs
    /// read access. In order: a digest stored in the object's metadata when it was written
    /// (`StoredMetadata`); for MD5, the ETag when the driver says it is the content's MD5
    /// (`ObjectMetadata.etagMD5`); otherwise it is computed by reading the file, up to
    /// `[limits] max_hash_size` (above it, `.tooLargeToHash`). Returns the digest and the size.
    public func checksum(_ path: VirtualPath, _ algorithm: ChecksumAlgorithm) throws(SessionError) -> (digest: [UInt8], size: UInt64) {
        let location = try locate(path)
        try authorize(.download, location)
        if location.isFixedDirectory { throw .isADirectory(path.description) }
        guard let object = try storageCall({ () throws(StorageError) in try location.driver.metadata(location.objectKey) }) else {
            // A directory, or nothing (stat throws notFound).
            if try stat(path).isDirectory { throw .isADirectory(path.description) }
            throw .notFound(path.description)
        }
        if let stored = StoredMetadata.digest(algorithm, in: object.userMetadata) {
            return (stored, object.size)  // recorded by Ferry (or rclone) when the object was written
        }
        if algorithm == .md5, let digest = object.etagMD5 {
            return (digest, object.size)
        }
        guard object.size <= storages.maxHashSize else {
            throw .tooLargeToHash(path: path.description, size: object.size, limit: storages.maxHashSize)
        }
        let (reader, _) = try openRead(path, from: 0)
        defer { reader.close() }
        let running = try digesting { () throws(DigestError) in try RunningChecksum(algorithm) }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var total: UInt64 = 0
        while true {
            // (Array's closures rethrow untyped errors: the typed ones travel in a Result.)
            let step: Result<Int, SessionError> = buffer.withUnsafeMutableBytes { raw in
                do throws(SessionError) {
                    let count = try storageCall { () throws(StorageError) in try reader.read(into: raw) }
                    try digesting { () throws(DigestError) in try running.update(UnsafeRawBufferPointer(rebasing: raw[0..<count])) }
                    return .success(count)
                } catch {
                    return .failure(error)
                }
            }
            let count = try step.get()
            if count == 0 { break }
            total += UInt64(count)
        }
        return (try digesting { () throws(DigestError) in try running.finish() }, total)
    }

    /// A digest failure (OpenSSL out of memory) fails the request as a local error.
    private func digesting<T>(_ body: () throws(DigestError) -> T) throws(SessionError) -> T {
        do {
            return try body()
        } catch {
            throw .storage(.io(detail: "\(error)"))
        }
    }
}
