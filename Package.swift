// swift-tools-version:6.0
// Ferry — FTP, FTPS and SFTP gateway to object storage. Architecture: ../shared/design.md §1.
import PackageDescription

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["Gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System C libraries (Debian -dev packages). Only wrapper files import them.
        .systemLibrary(name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypt", pkgConfig: "libxcrypt", providers: [.apt(["libcrypt-dev"])]),
        // Typed C wrappers for variadic functions and macros Swift cannot call directly: one target
        // per C library, so that a module sees only the C it wraps.
        .target(name: "CCryptShims", dependencies: ["CCrypt"]),
        .target(name: "CCurlShims", dependencies: ["CCurl"]),
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),
        .target(name: "CProcessShims"),
        // Shared-state primitive every module uses (see Locked.swift for why not Mutex).
        .target(name: "Locking"),
        // Dates as text: every wire and log format, one place (UTCTime).
        .target(name: "Timestamps"),
        // Names, paths and keys as bytes: the rules every layer shares (KeyBytes).
        .target(name: "PathRules"),
        // Every exported metric (name, type, labels, help) and recording through swift-metrics.
        .target(name: "MetricCatalog", dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")]),
        // SHA-256, HMAC and MD5 from OpenSSL, for S3 signing and the verified-login cache.
        .target(name: "Digests", dependencies: ["COpenSSL"]),

        // HTTP over libcurl: the S3 client's and the identity hook's transport.
        .target(name: "HTTPTransport", dependencies: ["CCurl", "CCurlShims"]),

        .target(name: "Storage", dependencies: [
            "HTTPTransport", "Digests", "Locking", "MetricCatalog", "PathRules", "Timestamps",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Auth", dependencies: [
            "CCrypt", "CCryptShims", "Digests", "Locking", "MetricCatalog", "PathRules",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Protocols", dependencies: [
            "Auth", "Storage", "HTTPTransport", "Digests", "COpenSSL", "COpenSSLShims", "CLibSSH", "Locking", "MetricCatalog", "PathRules", "Timestamps",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Gateway", dependencies: [
            "Protocols", "Auth", "Storage", "HTTPTransport", "CProcessShims", "Locking", "MetricCatalog", "Timestamps",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),

        .testTarget(name: "TimestampsTests", dependencies: ["Timestamps"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "HTTPTransport", "Timestamps", "Digests", "Locking"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth"]),
        .testTarget(name: "ProtocolsTests", dependencies: ["Protocols", "Auth", "Storage", "PathRules"]),
        .testTarget(name: "GatewayTests", dependencies: [
            "Gateway", "Protocols", "Auth", "Storage", "MetricCatalog",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
