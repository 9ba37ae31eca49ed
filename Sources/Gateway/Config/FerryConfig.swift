import Auth
import Foundation
import Logging
import Protocols
import Storage

/// The validated configuration (design.md §5). Built only by `ConfigLoader`, so every value here has
/// passed its checks.
struct FerryConfig: Sendable {
    struct FTP: Sendable {
        var listen: SocketAddress?
        var passivePorts: ClosedRange<UInt16>?
        var masqueradeAddress: SocketAddress?
        /// What `masquerade_address` said (a host name is resolved at start and at each reload).
        var masqueradeText = ""
        var passiveAddressOverrides: [PassiveAddressOverride] = []
        var tls: FTPTLSSettings.Policy
        var tlsSessionReuse: FTPTLSSettings.SessionReuse
        var activeMode: Bool
        /// Implicit FTPS: TLS from the first byte (traditionally port 990).
        var implicitTLSListen: SocketAddress? = nil
    }

    struct SFTP: Sendable {
        var listen: SocketAddress?
        var hostKeys: [String]
        /// How far ahead of the first missing byte out-of-order WRITEs are held (per upload).
        var reorderWindow: UInt64 = 4 << 20
        /// Ciphers offered, in order; nil = libssh's defaults (ChaCha20-Poly1305, AES-GCM, AES-CTR).
        var ciphers: [String]? = nil
        /// Session channels open at once on one connection (OpenSSH's MaxSessions).
        var maxSessionsPerConnection = 10
    }

    struct TLS: Sendable {
        var certificate: String
        var privateKey: String
        var minVersion: TLSContext.MinimumVersion
        var ciphers: String?
    }

    struct Limits: Sendable {
        var maxConnections = 512
        var maxConnectionsPerIP = 20
        var idleTimeout: TimeInterval = 300
        var maxLoginFailures = 5
        var banTime: TimeInterval = 900
        /// FTP: from connect to a successful login; SSH: key exchange and authentication.
        var loginTimeout: TimeInterval = 60
        /// Each TLS handshake (AUTH TLS, implicit TLS, PROT P data connections).
        var tlsHandshakeTimeout: TimeInterval = 15
        /// Waiting for an FTP data connection, and for a stalled one to move.
        var dataConnectionTimeout: TimeInterval = 30
        /// How long a verified password login is remembered (0 = never: every login hashes).
        var loginCache: TimeInterval = 120
        /// How long a session trusts what it learned itself about directories ("0s": never).
        var directoryCache: TimeInterval = 30
        /// One budget for every upload part buffer and download read-ahead window of the process.
        var transferMemory = UInt64(TransferMemory.defaultLimit)
        /// A stop (SIGTERM): how long running transfers may go on before what is left is cut and aborted.
        var shutdownGrace: TimeInterval = 30
        /// The largest file whose checksum is computed by reading it.
        var maxHashSize = StorageRegistry.defaultMaxHashSize
    }

    struct Log: Sendable {
        /// `[log] format`: text lines for people, or one JSON object per line for log stores.
        enum Format: String, Sendable, CaseIterable { case text, json }

        var level = Logger.Level.info
        var format = Format.text
        var transferLog = ""
    }

    /// `[auth]`: an external identity service beside the `[[user]]` tables.
    struct Auth: Sendable {
        /// The service's URL (http or https); nil = only the file's users.
        var http: String?
        var timeout: TimeInterval = 5
        /// How long an allowed answer is reused for the same user and credential; 0 = never.
        var cacheTTL: TimeInterval = 60
        /// A user defined in the file is decided by the file alone; false: the service is asked
        /// first and the file decides only when the service does not allow the login.
        var fileUsersFirst = true
        var caFile: String?
    }

    struct Metrics: Sendable {
        var listen: SocketAddress?
    }

    struct S3Storage: Sendable {
        var endpoint: String
        var region: String
        var accessKey: Secret?
        var secretKey: Secret?
        var sessionToken: Secret?
        var addressing: S3Addressing
        var partSize: UInt64
        var uploadConcurrency: Int
        var maxObjectSize: UInt64
        var caFile: String?
        var listingTimes: S3ListingTimes = .stored
        /// The store honours `If-None-Match: *` on uploads (`S3Settings.conditionalWrites`).
        var conditionalWrites = true
    }

    struct Storage: Sendable {
        enum Driver: Sendable {
            case s3(S3Storage)
            case local(root: String)
        }
        var name: String
        var driver: Driver
        /// Uploads left pending this long without activity (by a killed instance) are aborted; 0 = never.
        var abandonedUploadAge: TimeInterval = Self.defaultAbandonedUploadAge

        static let defaultAbandonedUploadAge: TimeInterval = 86_400
    }

    var ftp: FTP?
    var sftp: SFTP?
    /// `[proxy_protocol]`: the balancers whose connections start with a PROXY header, per listener
    /// group (`from` for both, `ftp_from` / `sftp_from` to set one group apart).
    var proxyProtocol = ProxyProtocolGroups()

    struct ProxyProtocolGroups: Sendable {
        /// FTP control (plain and implicit TLS) and passive data connections.
        var ftp = ProxyProtocolPolicy()
        /// SSH (SFTP and scp).
        var sftp = ProxyProtocolPolicy()
    }
    var tls: TLS?
    var limits = Limits()
    var log = Log()
    var metrics = Metrics()
    var auth = Auth()
    var storages: [Storage] = []
    var users: [User] = []
    /// Things that are accepted but deserve a startup warning (plain passwords).
    var warnings: [String] = []
}
