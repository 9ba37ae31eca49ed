import Digests

/// Runs digest work inside a storage operation: a failed digest fails the request as an I/O error.
func digesting<T>(_ body: () throws(DigestError) -> T) throws(StorageError) -> T {
    do {
        return try body()
    } catch {
        throw .io(detail: error.description)
    }
}
