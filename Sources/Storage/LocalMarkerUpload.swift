#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PathRules

/// A directory marker "upload": creating the directory (and its parents) is the whole commit.
final class LocalMarkerUpload: ObjectUpload {
    private let bucket: DirectoryDescriptor
    private let components: [String]

    init(bucket: DirectoryDescriptor, components: [String]) {
        self.bucket = bucket
        self.components = components
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        if bytes.count > 0 { throw .conflict(detail: "a directory marker cannot hold data") }
    }

    func commit() throws(StorageError) -> UInt64 {
        _ = try DirectoryDescriptor.open(components, below: bucket, create: true)
        return 0
    }

    func abort() {}
}
