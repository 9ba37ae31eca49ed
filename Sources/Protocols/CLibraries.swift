import HTTPTransport

/// The process-wide setup of the C libraries Ferry wraps (libcurl, libssh, OpenSSL). Their global
/// initialisers are not all thread-safe, so `ferry` runs this once at process start, before any
/// thread exists; each wrapper then only uses its library.
public enum CLibraries {
    public struct InitializationError: Error, CustomStringConvertible {
        /// The library that could not start.
        public let library: String
        public var description: String { "\(library) could not be initialised" }
    }

    /// Initialises every C library (idempotent: tests call it from their fixtures).
    public static func initialize() throws(InitializationError) {
        guard TLSContext.initializeLibrary() else { throw InitializationError(library: "OpenSSL") }
        guard LibSSH.initialize() else { throw InitializationError(library: "libssh") }
        guard CurlLibrary.initialize() else { throw InitializationError(library: "libcurl") }
    }
}
