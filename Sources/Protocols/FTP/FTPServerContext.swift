import Auth
import Foundation
import Logging

/// FTPS settings (RFC 4217) from `[tls]` and `[ftp] tls`, `tls_session_reuse`.
public struct FTPTLSSettings: Sendable {
    /// `[ftp] tls`. `off`: AUTH TLS is refused on the plain listener (an implicit-TLS listener, if
    /// configured, still speaks TLS); `optional`: clients choose; `required`: no login and no data
    /// connection in clear.
    public enum Policy: String, Sendable, CaseIterable { case off, optional, required }
    /// `[ftp] tls_session_reuse`. `required`: a PROT P data connection must resume the control
    /// connection's TLS session (522 otherwise); `allowed` and `off` accept either.
    public enum SessionReuse: String, Sendable, CaseIterable { case off, allowed, required }

    public var context: TLSContext
    public var policy: Policy
    public var sessionReuse: SessionReuse

    public init(context: TLSContext, policy: Policy, sessionReuse: SessionReuse) {
        self.context = context
        self.policy = policy
        self.sessionReuse = sessionReuse
    }
}

/// FTP settings from `[ftp]` and `[limits]` that the protocol code needs.
public struct FTPSettings: Sendable {
    /// Ports for passive data connections; nil = any free port.
    public var passivePorts: ClosedRange<UInt16>?
    /// IPv4 address announced in PASV replies instead of the control connection's local address.
    public var masqueradeAddress: SocketAddress?
    /// Whether PORT/EPRT are accepted at all.
    public var activeModeEnabled: Bool
    /// A control connection with no command for this long is closed (421).
    public var idleTimeout: TimeInterval
    /// How long to wait for a data connection to be made, and for a stalled one to move.
    public var dataTimeout: TimeInterval
    /// From connect to a successful login (USER/PASS, AUTH TLS included): a slow or silent client is
    /// closed (421) when it is over, however many bytes it trickles in.
    public var loginTimeout: TimeInterval
    /// A TLS handshake (AUTH TLS, implicit TLS, PROT P data connections) that takes longer fails.
    public var tlsHandshakeTimeout: TimeInterval
    /// Text after "220 " in the greeting.
    public var banner: String
    /// FTPS; nil = `tls = "off"` (AUTH answers 502).
    public var tls: FTPTLSSettings?

    public init(passivePorts: ClosedRange<UInt16>?, masqueradeAddress: SocketAddress?, activeModeEnabled: Bool,
                idleTimeout: TimeInterval, dataTimeout: TimeInterval = 30, loginTimeout: TimeInterval = 60,
                tlsHandshakeTimeout: TimeInterval = 15, banner: String = "Ferry FTP server ready.",
                tls: FTPTLSSettings? = nil) {
        self.loginTimeout = loginTimeout
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.tls = tls
        self.passivePorts = passivePorts
        self.masqueradeAddress = masqueradeAddress
        self.activeModeEnabled = activeModeEnabled
        self.idleTimeout = idleTimeout
        self.dataTimeout = dataTimeout
        self.banner = banner
    }
}

/// Everything an FTP connection shares with the others: settings, users, storages, observers.
public struct FTPServerContext: Sendable {
    public var settings: FTPSettings
    public var users: UserDirectory
    public var storages: StorageRegistry
    public var observer: (any SessionObserver)?
    public var logger: Logger
    public var shutdown: ShutdownSignal

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
