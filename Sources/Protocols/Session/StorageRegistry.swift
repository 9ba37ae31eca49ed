import Foundation
import Locking
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

/// The storage registry in force, which a configuration reload replaces. A session takes it at login
/// and again when a reload changes its user (`Session.refreshUser`), so that a reloaded user's new
/// home or folders find the storages they name.
public final class LiveStorages: Sendable {
    private let current: Locked<StorageRegistry>

    public init(_ registry: StorageRegistry) {
        self.current = Locked(registry)
    }

    public var registry: StorageRegistry { current.withLock { $0 } }

    public func replace(with registry: StorageRegistry) {
        current.withLock { $0 = registry }
    }
}
