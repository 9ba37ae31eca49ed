import Storage

/// The configured storages by name, shared read-only by every session.
public struct StorageRegistry: Sendable {
    private let drivers: [String: any StorageDriver]

    public init(_ drivers: [String: any StorageDriver]) {
        self.drivers = drivers
    }

    public func driver(named name: String) -> (any StorageDriver)? { drivers[name] }
    public var names: [String] { drivers.keys.sorted() }
}
