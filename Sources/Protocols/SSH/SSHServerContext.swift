import Auth
import Foundation
import Logging

/// Everything an SSH connection shares with the others.
public struct SSHServerContext: Sendable {
    public var settings: SFTPSettings
    public var hostKeys: SSHHostKeys
    public var users: UserDirectory
    public var storages: StorageRegistry
    public var observer: (any SessionObserver)?
    public var logger: Logger
    public var shutdown: ShutdownSignal
    /// The storages a reload puts in force, for sessions whose user it changes (nil: fixed).
    public var liveStorages: LiveStorages?

    public init(settings: SFTPSettings, hostKeys: SSHHostKeys, users: UserDirectory, storages: StorageRegistry,
                observer: (any SessionObserver)?, logger: Logger, shutdown: ShutdownSignal) {
        self.settings = settings
        self.hostKeys = hostKeys
        self.users = users
        self.storages = storages
        self.observer = observer
        self.logger = logger
        self.shutdown = shutdown
    }
}
