import Foundation

/// FTP settings from `[ftp]` and `[limits]` that the protocol code needs.
public struct FTPSettings: Sendable {
    /// Ports for passive data connections; nil = any free port.
    public var passivePorts: ClosedRange<UInt16>?
    /// IPv4 address announced in PASV replies instead of the control connection's local address.
    public var masqueradeAddress: SocketAddress?
    /// Per client network, the address PASV announces instead (first match wins), e.g. a private
    /// address for clients inside the VPC and the public one for everyone else.
    public var passiveAddressOverrides: [PassiveAddressOverride] = []
    /// Passive data connections from a balancer start with a PROXY header naming the client.
    public var proxyProtocol = ProxyProtocolPolicy()
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
    /// FTPS; nil when no listener speaks TLS (AUTH answers 502). With `tls = "off"` beside an
    /// implicit-TLS listener it is set, with policy `.off`: only the implicit port speaks TLS.
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

    /// The IPv4 address PASV announces to `client` whose control connection arrived on `local`:
    /// the first override whose networks hold the client, else `masqueradeAddress`, else `local`.
    public func announcedPassiveAddress(client: SocketAddress, local: SocketAddress) -> SocketAddress {
        if let match = passiveAddressOverrides.first(where: { entry in entry.networks.contains { $0.contains(client) } }) {
            return match.address
        }
        return masqueradeAddress ?? local
    }
}

/// `[ftp] passive_address_overrides` entry: clients in `networks` are told `address` in PASV.
public struct PassiveAddressOverride: Sendable, Equatable {
    public var networks: [NetworkRange]
    public var address: SocketAddress

    public init(networks: [NetworkRange], address: SocketAddress) {
        self.networks = networks
        self.address = address
    }
}
