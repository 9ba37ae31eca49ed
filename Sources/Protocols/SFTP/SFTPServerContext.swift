import Auth
import Foundation
import Logging

/// SFTP settings from `[sftp]` and `[limits]`.
public struct SFTPSettings: Sendable {
    /// The largest packet accepted (draft-02 §3 length field); advertised in limits@openssh.com.
    public var maxPacketLength: Int
    /// The largest READ answered and WRITE accepted; advertised in limits@openssh.com.
    public var maxReadLength: Int
    public var maxWriteLength: Int
    /// Open files and directories per session.
    public var maxOpenHandles: Int
    /// How far past the first missing byte out-of-order WRITEs are held in memory (per upload).
    public var reorderWindow: Int
    /// A session with no request for this long is closed.
    public var idleTimeout: TimeInterval
    /// Key exchange and authentication must finish within this time.
    public var loginGraceTime: TimeInterval
    /// Session channels one SSH connection may have open at once (`[sftp]
    /// max_sessions_per_connection`, as OpenSSH's MaxSessions).
    public var maxSessionsPerConnection: Int

    public init(reorderWindow: Int = 4 << 20, idleTimeout: TimeInterval, loginGraceTime: TimeInterval = 60,
                maxOpenHandles: Int = 64, maxSessionsPerConnection: Int = 10) {
        // OpenSSH's own limits (sftp-server: 256 KiB messages, reads and writes 1 KiB less).
        self.maxPacketLength = 256 * 1024
        self.maxReadLength = 255 * 1024
        self.maxWriteLength = 255 * 1024
        self.maxOpenHandles = maxOpenHandles
        self.reorderWindow = reorderWindow
        self.idleTimeout = idleTimeout
        self.loginGraceTime = loginGraceTime
        self.maxSessionsPerConnection = maxSessionsPerConnection
    }
}
