import Auth
internal import CLibSSH
import Foundation
import Logging

/// One SSH client (RFC 4251–4254): key exchange, password or public-key login, then up to
/// `[sftp] max_sessions_per_connection` session channels at once (RFC 4254 §6), each served on its
/// own thread with its own `Session`: the `sftp` subsystem, legacy scp (`scp -t`/`-f` exec), and
/// the `md5sum`/`sha1sum`/`sha256sum` commands in rclone's form. Other commands and shells get a
/// message and a failing exit status on their channel; port and agent forwarding are refused.
///
/// The connection's own thread runs the login (libssh's callback server API, design.md §3), then
/// pumps the socket: it handles incoming packets whenever no channel thread is doing so, which
/// answers channel opens and requests and moves data into the channels' buffers. Every libssh call
/// runs under the `SSHTransport` lock (see there), which also guards this object's channel table:
/// hence `@unchecked Sendable`.
public final class SSHConnection: SSHChannelHost, @unchecked Sendable {
    /// Failed authentication requests before the connection is closed (OpenSSH's MaxAuthTries).
    static let maxAuthAttempts = 6
    static let pollInterval: Int32 = 200

    private let context: SSHServerContext
    private let clientHost: String
    private var logger: Logger
    private let session: OpaquePointer
    private let transport: SSHTransport
    private let state: SSHLoginState
    /// The logger of the logged-in user's channels.
    private var userLogger: Logger

    // Guarded by the transport's lock:
    /// Open session channels, in the order they were opened.
    private var channels: [SSHSessionChannel] = []
    /// Channels whose thread is running.
    private var running = 0
    private var channelsOpened = 0
    /// The user's sessions beyond the login's own slot: one per channel past the first open at once.
    private var extraSlots: [SessionSlot] = []
    /// When a channel last started or ended (the idle timeout counts from it).
    private var lastActivity = Date()

    /// Channel threads get the same stack as connection threads (Server's spawn).
    static let channelStackSize = 2 << 20

    /// Takes ownership of an accepted socket; `client` is the peer or the client a trusted balancer
    /// named in its PROXY header.
    public init?(socket: Socket, client: SocketAddress, context: SSHServerContext) {
        self.context = context
        self.clientHost = client.host
        var logger = context.logger
        logger[metadataKey: "client"] = "\(clientHost)"
        logger[metadataKey: "session"] = "\(SessionID.make())"
        self.logger = logger
        self.userLogger = logger
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
        self.transport = SSHTransport(session: session)
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
        transport.lock()
        defer {
            for slot in extraSlots { slot.release() }
            extraSlots = []
            transport.unlock()
            registration.end()
            state.sessionSlot?.release()
            context.observer?.connectionClosed(service: .sftp)
        }
        state.openSessionChannel = { [unowned self] session in openChannel(session) }
        guard keyExchange(), let event = ssh_event_new() else { return }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        defer { ssh_event_remove_session(event, session) }
        guard login(event), let user = state.user else {
            if state.user == nil && state.refusedAttempts > 0 && !state.passwordFailureRecorded {
                // Offered keys were all refused: one failed login for the defender.
                context.users.recordFailure(from: clientHost)
            }
            return
        }
        let loggedIn = Date()
        userLogger[metadataKey: "user"] = "\(user.name)"
        serveChannels(event)
        userLogger.info("logout", metadata: ["seconds": "\(String(format: "%.3f", Date().timeIntervalSince(loggedIn)))",
                                             "channels": "\(channelsOpened)"])
    }

    /// Key exchange (lock held, the session blocking), within the login grace time.
    private func keyExchange() -> Bool {
        var timeout = Int(context.settings.loginGraceTime.rounded(.up))
        guard ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout) == SSH_OK else {
            logger.error("SSH session refused: libssh did not take the login timeout")
            return false
        }
        state.installServerCallbacks(on: session)
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY))
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            logger.info("SSH key exchange failed", metadata: ["reason": "\(Self.lastError(session))"])
            return false
        }
        state.cipher = ssh_get_cipher_out(session).map { String(cString: $0) }
        return true
    }

    /// Authentication, within the login grace time (lock held, the session blocking).
    private func login(_ event: OpaquePointer) -> Bool {
        let deadline = Date().addingTimeInterval(context.settings.loginGraceTime)
        while state.user == nil {
            if ssh_event_dopoll(event, Self.pollInterval) == SSH_ERROR {
                logger.debug("SSH connection closed before a login", metadata: ["reason": "\(Self.lastError(session))"])
                return false
            }
            if state.refusedAttempts >= Self.maxAuthAttempts {
                logger.warning("SSH login: too many failed attempts, closing", metadata: ["attempts": "\(state.refusedAttempts)"])
                return false
            }
            if Date() > deadline {
                logger.info("SSH login grace time over, closing",
                            metadata: ["seconds": "\(Int(context.settings.loginGraceTime))", "authenticated": "false"])
                return false
            }
            if context.shutdown.isRequested { return false }
        }
        return true
    }

    /// After login (lock held): handles incoming packets whenever the socket has some, until the
    /// client leaves, or no channel has run for `idle_timeout`, or the gateway stops and no channel
    /// runs; then waits for the channels' threads to finish. Channel threads handle packets too, as
    /// they wait for their data (`SSHTransport.awaitIncoming`); this thread covers the moments when
    /// none does.
    private func serveChannels(_ event: OpaquePointer) {
        transport.setBlocking(false)
        transport.event = event
        defer { transport.event = nil }  // every channel thread has ended by then
        lastActivity = Date()
        while transport.isConnected {
            releaseUnusedChannels(ending: false)
            if running == 0 {
                if context.shutdown.isRequested {
                    userLogger.info("SSH connection closed: the server is stopping")
                    break
                }
                if Date().timeIntervalSince(lastActivity) > context.settings.idleTimeout {
                    userLogger.info("SSH connection closed: idle timeout", metadata: ["seconds": "\(Int(context.settings.idleTimeout))"])
                    break
                }
            }
            if !transport.awaitIncoming(until: Date().addingTimeInterval(TimeInterval(Self.pollInterval) / 1000)) { break }
        }
        while running > 0 {
            transport.packetsHandled()  // a channel thread waiting for data sees the connection gone
            transport.waitForPackets(until: Date().addingTimeInterval(1))
        }
        releaseUnusedChannels(ending: true)
        // Back to blocking for what follows on this thread: the disconnect in deinit.
        transport.setBlocking(true)
    }

    // MARK: Channels (RFC 4254 §6)

    /// A session channel the client asked to open (lock held): refused before login, while the
    /// gateway stops, past `max_sessions_per_connection`, past the user's `max_sessions` (each
    /// channel beyond the first open at once takes one more), or once a reload removed the user.
    private func openChannel(_ sshSession: OpaquePointer) -> OpaquePointer? {
        guard let user = state.user else {
            logger.info("SSH session channel refused: not logged in")
            return nil
        }
        guard !context.shutdown.isRequested else {
            userLogger.info("SSH session channel refused: the server is stopping")
            return nil
        }
        let limit = context.settings.maxSessionsPerConnection
        guard channels.count < limit else {
            userLogger.warning("SSH session channel refused: max_sessions_per_connection reached", metadata: ["limit": "\(limit)"])
            return nil
        }
        guard user.definedByIdentityService || context.users.user(named: user.name) != nil else {
            userLogger.info("SSH session channel refused: the user was removed by a configuration reload")
            return nil
        }
        var newSlot: SessionSlot?
        if channels.count >= 1 + extraSlots.count {
            guard let slot = context.users.sessions.open(for: user) else {
                userLogger.warning("SSH session channel refused: the user's max_sessions reached",
                                   metadata: ["limit": "\(user.maxSessions)"])
                return nil
            }
            newSlot = slot
        }
        guard let channel = ssh_channel_new(sshSession) else {
            newSlot?.release()
            return nil
        }
        if let newSlot { extraSlots.append(newSlot) }
        channelsOpened += 1
        channels.append(SSHSessionChannel(channel: channel, number: channelsOpened, host: self))
        return channel
    }

    /// A channel's service was chosen (lock held): its thread starts.
    func start(_ channel: SSHSessionChannel) {
        running += 1
        lastActivity = Date()
        // The logger is made here, under the lock: a channel may start inside the login's last
        // packet batch, before `run` has named the user in `userLogger`.
        var channelLogger = logger
        channelLogger[metadataKey: "user"] = "\(state.user?.name ?? "")"
        channelLogger[metadataKey: "channel"] = "\(channel.number)"
        let thread = Thread { [self, channelLogger] in serve(channel, logger: channelLogger) }
        thread.name = "ssh-channel"
        thread.stackSize = Self.channelStackSize
        thread.start()
    }

    func refused(_ request: String, detail: String) {
        Self.logRefused(request, detail: detail, to: userLogger)
    }

    private static func logRefused(_ request: String, detail: String, to logger: Logger) {
        logger.info("SSH request refused: this server offers SFTP, scp and checksum commands only",
                    metadata: ["request": "\(request)", "detail": "\(detail)"])
    }

    /// A channel's thread: runs its service with a `Session` of its own, ends the channel, and
    /// gives back its place.
    private func serve(_ entry: SSHSessionChannel, logger channelLogger: Logger) {
        let stream = SSHChannelStream(transport: transport, channel: entry.channel, writeTimeout: context.settings.idleTimeout)
        let exitStatus = run(entry.service, on: stream, logger: channelLogger)
        stream.close(exitStatus: exitStatus)
        transport.locked {
            channels.removeAll { $0 === entry }
            entry.release()
            running -= 1
            lastActivity = Date()
            releaseSpareSlots()
            transport.packetsHandled()
        }
    }

    private func run(_ service: SSHService?, on stream: SSHChannelStream, logger channelLogger: Logger) -> Int32 {
        guard let service, let loginUser = state.user else { return 1 }
        // The user as the latest reload left it (a reload between login and this channel applies).
        let user = loginUser.definedByIdentityService ? loginUser : context.users.user(named: loginUser.name) ?? loginUser
        let session = Session(user: user, storages: context.storages, logger: channelLogger, directory: context.users,
                              liveStorages: context.liveStorages)
        switch service {
        case .sftp:
            let engine = SFTPEngine(session: session, environment: SFTPEngineEnvironment(
                settings: context.settings, logger: channelLogger, observer: context.observer, remoteHost: clientHost))
            SFTPServerLoop(engine: engine, channel: stream, shutdown: context.shutdown).run()
            return 0
        case .scp(let command):
            var scpLogger = channelLogger
            scpLogger[metadataKey: "protocol"] = "scp"
            return SCPSession(command: command, session: session, channel: stream, idleTimeout: context.settings.idleTimeout,
                              logger: scpLogger, observer: context.observer, remoteHost: clientHost).run()
        case .checksum(let command):
            return SSHChecksumRun(command: command, session: session, channel: stream,
                                  idleTimeout: context.settings.idleTimeout, logger: channelLogger).run()
        case .unavailable(let request, let detail):
            Self.logRefused(request, detail: detail, to: channelLogger)
            try? stream.writeStandardError("This server offers SFTP, scp and the md5sum, sha1sum and sha256sum commands only.\n")
            return request == "exec" ? Self.commandNotFound : 1
        }
    }

    /// The exit status shells give a command they cannot find.
    static let commandNotFound: Int32 = 127

    /// Lock held: channels the client opened and closed without asking for a service, and, once
    /// the connection ends (or the gateway stops), any left without one.
    private func releaseUnusedChannels(ending connectionEnding: Bool) {
        let ending = connectionEnding || !transport.isConnected || context.shutdown.isRequested
        channels.removeAll { entry in
            guard entry.service == nil, ending || entry.isClosed else { return false }
            entry.release()
            return true
        }
        releaseSpareSlots()
    }

    /// Lock held: the user keeps one session per channel open at once (at least the login's).
    private func releaseSpareSlots() {
        while 1 + extraSlots.count > max(channels.count, 1), let slot = extraSlots.popLast() {
            slot.release()
        }
    }
}
