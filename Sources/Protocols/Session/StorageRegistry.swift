import Foundation
import Storage

/// The configured storages by name, shared read-only by every session, with how sessions use them.
public struct StorageRegistry: Sendable {
    private let drivers: [String: any StorageDriver]
    /// How long a session trusts what it learned itself about directories (`[limits]
    /// directory_cache`; `DirectoryKnowledge` states the rule). 0: every check asks storage.
    public let directoryCacheLifetime: TimeInterval
    /// The largest file a checksum is computed for by reading it (`[limits] max_hash_size`).
    public let maxHashSize: UInt64

    public static let defaultMaxHashSize: UInt64 = 10 << 30

    public init(_ drivers: [String: any StorageDriver], directoryCacheLifetime: TimeInterval = 0,
                maxHashSize: UInt64 = defaultMaxHashSize) {
        self.drivers = drivers
        self.directoryCacheLifetime = directoryCacheLifetime
        self.maxHashSize = maxHashSize
    }

    public func driver(named name: String) -> (any StorageDriver)? { drivers[name] }
    public var names: [String] { drivers.keys.sorted() }
}
