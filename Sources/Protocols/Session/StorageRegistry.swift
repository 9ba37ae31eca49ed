import Foundation
import Storage

/// The configured storages by name, shared read-only by every session, with how sessions use them.
public struct StorageRegistry: Sendable {
    private let drivers: [String: any StorageDriver]
    /// How long a session trusts what it learned itself about directories (`[limits]
    /// directory_cache`; `DirectoryKnowledge` states the rule). 0: every check asks storage.
    public let directoryCacheLifetime: TimeInterval

    public init(_ drivers: [String: any StorageDriver], directoryCacheLifetime: TimeInterval = 0) {
        self.drivers = drivers
        self.directoryCacheLifetime = directoryCacheLifetime
    }

    public func driver(named name: String) -> (any StorageDriver)? { drivers[name] }
    public var names: [String] { drivers.keys.sorted() }
}
