import Auth
internal import CLibSSH
import Foundation
import Logging

/// One SSH client (RFC 4251–4254) on its own thread: key exchange, password or public-key login,
/// one session channel whose only services are the `sftp` subsystem and legacy scp (`scp -t`/`-f`
/// exec); shells, other commands, port and agent forwarding are refused. The login phase runs libssh's callback server API (design.md §3); the
/// SFTP session then runs over blocking channel reads and writes.
public final class SSHConnection {
    /// Failed authentication requests before the connection is closed (OpenSSH's MaxAuthTries).
    static let maxAuthAttempts = 6
    static let pollInterval: Int32 = 200

    private let context: SSHServerContext
    private let clientHost: String
    private var logger: Logger
    private let session: OpaquePointer
    private let state: SSHLoginState

    /// Takes ownership of an accepted socket; `client` is the peer or the client a trusted balancer
    /// named in its PROXY header.
    public init?(socket: Socket, client: SocketAddress, context: SSHServerContext) {
        self.context = context
        self.clientHost = client.host
        var logger = context.logger
        logger[metadataKey: "client"] = "\(clientHost)"
        logger[metadataKey: "session"] = "\(SessionID.make())"
        self.logger = logger
        guard let session = ssh_new() else {
            logger.error("ssh_new failed")
            return nil
        }
        self.session = session
        // SFTP pipelines many requests; replies and window adjustments are small packets that Nagle's
        // algorithm would hold back until the client's delayed ACK (tens of milliseconds each).
        try? socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let descriptor = socket.releaseDescriptor()
        guard context.hostKeys.accept(descriptor: descriptor, into: session) else {
            logger.error("SSH accept failed", metadata: ["reason": "\(SSHConnection.lastError(session))"])
            ssh_free(session)  // closes the descriptor
            return nil
        }
        self.state = SSHLoginState(context: context, clientHost: clientHost, logger: logger)
    }

    deinit {
        ssh_disconnect(session)
        ssh_free(session)
    }

    static func lastError(_ session: OpaquePointer) -> String {
        ssh_get_error(UnsafeMutableRawPointer(session)).map { String(cString: $0) } ?? "unknown"
    }

    public func run() {
        context.observer?.connectionOpened(service: .sftp)
        let registration = context.shutdown.register(descriptor: ssh_get_fd(session))
        defer {
            registration.end()
            state.sessionSlot?.release()
            context.observer?.connectionClosed(service: .sftp)
        }
        guard let channel = login() else {
            if state.user == nil && state.refusedAttempts > 0 && !state.passwordFailureRecorded {
                // Offered keys were all refused: one failed login for the defender.
                context.users.recordFailure(from: clientHost)
            }
            return
        }
        guard let user = state.user, let service = state.service else { return }
        let loggedIn = Date()
        var sessionLogger = logger
        sessionLogger[metadataKey: "user"] = "\(user.name)"
        let session = Session(user: user, storages: context.storages, logger: sessionLogger, directory: context.users,
                              liveStorages: context.liveStorages)
        switch service {
        case .sftp:
            let engine = SFTPEngine(session: session, environment: SFTPEngineEnvironment(
                settings: context.settings, logger: sessionLogger, observer: context.observer, remoteHost: clientHost))
            SFTPServerLoop(engine: engine, channel: channel, shutdown: context.shutdown).run()
            channel.close()
        case .scp(let command):
            var scpLogger = sessionLogger
            scpLogger[metadataKey: "protocol"] = "scp"
            let exitStatus = SCPSession(command: command, session: session, channel: channel,
                                        idleTimeout: context.settings.idleTimeout, logger: scpLogger,
                                        observer: context.observer, remoteHost: clientHost).run()
            channel.close(exitStatus: exitStatus)
        }
        waitForClientToLeave()
        sessionLogger.info("logout", metadata: ["seconds": "\(String(format: "%.3f", Date().timeIntervalSince(loggedIn)))"])
    }

    /// After our channel close, the client answers with its own and disconnects; waiting for that
    /// (briefly) spares the client a "connection closed by remote host" error.
    private func waitForClientToLeave() {
        guard let event = ssh_event_new() else { return }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        defer { ssh_event_remove_session(event, session) }
        let deadline = Date().addingTimeInterval(1)
        while ssh_is_connected(session) != 0 && Date() < deadline {
            if ssh_event_dopoll(event, Self.pollInterval) == SSH_ERROR { return }
        }
    }

    /// Key exchange, authentication and the service request, within the login grace time.
    private func login() -> SSHChannelStream? {
        var timeout = Int(context.settings.loginGraceTime.rounded(.up))
        guard ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout) == SSH_OK else {
            logger.error("SSH session refused: libssh did not take the login timeout")
            return nil
        }
        state.installServerCallbacks(on: session)
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY))
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            logger.info("SSH key exchange failed", metadata: ["reason": "\(Self.lastError(session))"])
            return nil
        }
        state.cipher = ssh_get_cipher_out(session).map { String(cString: $0) }
        guard let event = ssh_event_new() else { return nil }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        defer { ssh_event_remove_session(event, session) }
        let deadline = Date().addingTimeInterval(context.settings.loginGraceTime)
        while state.service == nil {
            if ssh_event_dopoll(event, Self.pollInterval) == SSH_ERROR {
                logger.debug("SSH connection closed before a service started",
                             metadata: ["reason": "\(Self.lastError(session))"])
                return nil
            }
            if state.refusedAttempts >= Self.maxAuthAttempts {
                logger.warning("SSH login: too many failed attempts, closing", metadata: ["attempts": "\(state.refusedAttempts)"])
                return nil
            }
            if Date() > deadline {
                logger.info("SSH login grace time over, closing",
                            metadata: ["seconds": "\(Int(context.settings.loginGraceTime))", "authenticated": "\(state.user != nil)"])
                return nil
            }
            if context.shutdown.isRequested { return nil }
        }
        guard let channel = state.channel else { return nil }
        ssh_set_blocking(session, 1)
        return SSHChannelStream(session: session, channel: channel)
    }
}
