import Auth
import Foundation
import Logging

/// Everything an FTP connection shares with the others: settings, users, storages, observers.
public struct FTPServerContext: Sendable {
    public var settings: FTPSettings
    public var users: UserDirectory
    public var storages: StorageRegistry
    public var observer: (any SessionObserver)?
    public var logger: Logger
    public var shutdown: ShutdownSignal
    /// The storages a reload puts in force, for sessions whose user it changes (nil: fixed).
    public var liveStorages: LiveStorages?

    public init(settings: FTPSettings, users: UserDirectory, storages: StorageRegistry,
                observer: (any SessionObserver)?, logger: Logger, shutdown: ShutdownSignal = ShutdownSignal()) {
        self.settings = settings
        self.users = users
        self.storages = storages
        self.observer = observer
        self.logger = logger
        self.shutdown = shutdown
    }
}
