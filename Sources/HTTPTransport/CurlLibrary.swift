internal import CCurl
import Synchronization

/// libcurl's process-wide state. `curl_global_init` is not thread-safe in every libcurl Debian
/// ships, so it runs once at startup, before any thread exists (`CLibraries.initialize`), never
/// lazily on the first connection thread that needs a handle.
public enum CurlLibrary {
    private static let initialization: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    private static let initialized = Atomic<Bool>(false)

    /// Initialises libcurl (idempotent); false when libcurl cannot start (no TLS backend, no memory).
    public static func initialize() -> Bool {
        let ok = initialization
        initialized.store(ok, ordering: .releasing)
        return ok
    }

    /// Whether `initialize` succeeded; a handle is never made before it did.
    public static var isInitialized: Bool { initialized.load(ordering: .acquiring) }
}
