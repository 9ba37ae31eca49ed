import Auth
import Digests
import Foundation
import Logging
import Storage

/// One FTP control connection, run on its own thread from greeting to close: the login state
/// machine, the command loop, and the per-connection transfer state. Commands go through
/// `FTPCommandTable`; file operations through the shared `Session`, which holds the permission gate.
public final class FTPConnection {
    enum LoginState {
        case awaitingUser
        case awaitingPassword(user: String)
        case loggedIn(Session)
    }

    enum TransferType {
        case ascii
        case binary
    }

    /// RFC 4217 PROT: clear or private (TLS) data connections.
    enum DataProtection {
        case clear
        case `private`
    }

    /// Where the next data connection comes from (PASV/EPSV listen, PORT/EPRT connect).
    enum DataEndpoint {
        case none
        case passive(Socket)
        case active(SocketAddress)
    }

    let context: FTPServerContext
    let control: FTPControlChannel
    let clientAddress: SocketAddress
    let localAddress: SocketAddress
    var logger: Logger

    var loginState = LoginState.awaitingUser
    var workingDirectory = VirtualPath.root
    var transferType = TransferType.binary
    var restartOffset: UInt64 = 0
    /// What the last RNFR named; RNTO (which the table lets through only right after RNFR) uses it.
    var renameSource: VirtualPath?
    /// The table verb of the previous command line whose handler ran (nil after a refused or
    /// unreadable line), for `mustFollow`.
    var previousVerb: String?
    var dataEndpoint = DataEndpoint.none
    /// After `EPSV ALL` only EPSV may set up data connections (RFC 2428 §4).
    var extendedPassiveOnly = false
    var selectedFacts = FTPFact.defaultSelection
    /// The algorithm of HASH (`OPTS HASH`), SHA-256 until the client chooses.
    var selectedHash = ChecksumAlgorithm.sha256
    var dataProtection = DataProtection.clear
    /// PBSZ was sent after AUTH (RFC 4217 §8: it must precede PROT).
    var protectionBufferSizeSet = false
    /// An implicit-TLS listener's connection: TLS from the first byte, PROT P implied.
    let implicitTLS: Bool
    var isClosing = false
    /// Until a login succeeds, the connection must be done with it by then (`loginTimeout`).
    let loginDeadline: Date
    /// The user's place among its `max_sessions`, held while logged in.
    var sessionSlot: SessionSlot?
    /// Lines that arrived during a transfer and wait their turn.
    var queuedLines: [FTPControlInput] = []

    /// Takes ownership of an accepted control socket. `client` is the peer, or the client a trusted
    /// balancer named in its PROXY header: every address check and log line uses it.
    public init?(socket: Socket, client: SocketAddress, context: FTPServerContext, implicitTLS: Bool = false) {
        self.implicitTLS = implicitTLS
        self.loginDeadline = Date().addingTimeInterval(context.settings.loginTimeout)
        guard let local = socket.localAddress else { return nil }
        let remote = client
        self.context = context
        self.clientAddress = remote
        self.localAddress = local
        self.control = FTPControlChannel(stream: PlainStream(socket: socket), writeTimeout: context.settings.dataTimeout)
        var logger = context.logger
        logger[metadataKey: "client"] = "\(remote)"
        logger[metadataKey: "session"] = "\(SessionID.make())"
        self.logger = logger
        // RFC 959 ABOR arrives as urgent data: keep it in the normal stream so it is read as a line.
        try? socket.setOption(SOL_SOCKET, SO_OOBINLINE, 1)
        try? socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    /// The first word of a PROXY v1 header, as a command line (see `dispatch`).
    static let proxyHeaderVerb = "PROXY"

    var session: Session? {
        if case .loggedIn(let session) = loginState { return session }
        return nil
    }

    var userName: String {
        switch loginState {
        case .awaitingUser: "-"
        case .awaitingPassword(let user): user
        case .loggedIn(let session): session.user.name
        }
    }

    /// Serves the connection until QUIT, idle timeout, or the client going away.
    public func run() {
        context.observer?.connectionOpened(service: .ftp)
        logger.info("ftp connection opened")
        let opened = Date()
        let registration = context.shutdown.register(descriptor: control.socket.descriptor)
        defer {
            closeDataEndpoint()
            sessionSlot?.release()
            registration.end()
            control.socket.close()
            context.observer?.connectionClosed(service: .ftp)
            let seconds = String(format: "%.3f", Date().timeIntervalSince(opened))
            if session != nil {
                logger.info("logout", metadata: ["user": "\(userName)", "seconds": "\(seconds)"])
            }
            logger.info("ftp connection closed", metadata: ["user": "\(userName)", "seconds": "\(seconds)"])
        }
        if implicitTLS {
            guard let tls = context.settings.tls else { return }
            do {
                try control.upgrade(context: tls.context, timeout: context.settings.tlsHandshakeTimeout)
            } catch {
                logger.info("implicit TLS handshake failed", metadata: ["error": "\(error)"])
                return
            }
            dataProtection = .private
            protectionBufferSizeSet = true
        }
        reply(.serviceReady, context.settings.banner)
        while !isClosing {
            let input = queuedLines.isEmpty ? nextCommand() : queuedLines.removeFirst()
            if input == .timedOut && context.shutdown.isRequested {
                reply(.serviceNotAvailable, "Server shutting down; closing control connection.")
                return
            }
            if input == .timedOut, let session, session.refreshUser() == .removed {
                reply(.serviceNotAvailable, "Your account was removed from this server; closing control connection.")
                return
            }
            switch input {
            case .line(let line):
                dispatch(line)
            case .tooLong:
                previousVerb = nil
                reply(.syntaxError, "Command line too long (limit \(FTPControlChannel.maxLineBytes) bytes).")
            case .invalidEncoding:
                previousVerb = nil
                reply(.syntaxError, "Command line is not valid UTF-8.")
            case .timedOut where session == nil && Date() >= loginDeadline:
                reply(.serviceNotAvailable, "Login timeout (\(Int(context.settings.loginTimeout)) s): closing control connection.")
                logger.info("login timeout", metadata: ["seconds": "\(Int(context.settings.loginTimeout))"])
                return
            case .timedOut:
                reply(.serviceNotAvailable, "Timeout: closing control connection.")
                logger.info("idle timeout")
                return
            case .closed:
                return
            }
        }
    }

    /// Waits for the next command in one-second slices, so that a gateway stop is noticed while the
    /// connection is idle. `.timedOut` means the idle timeout or a stop.
    private func nextCommand() -> FTPControlInput {
        var deadline = Date().addingTimeInterval(context.settings.idleTimeout)
        if session == nil { deadline = min(deadline, loginDeadline) }
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 || context.shutdown.isRequested { return .timedOut }
            // An idle session of a user a reload removed ends without waiting for a command.
            if let session, session.refreshUser() == .removed { return .timedOut }
            let input = control.readLine(timeout: min(remaining, 1.0))
            if input != .timedOut { return input }
        }
    }

    func dispatch(_ line: String) {
        let (verb, argument) = FTPCommandTable.parse(line)
        let spec = FTPCommandTable.byVerb[verb]
        logger.debug("command", metadata: ["verb": "\(verb)", "argument": "\(spec?.masksArgument == true ? "****" : argument)"])
        // The verb counts as "previous" for the next line only if its handler runs: a refused line
        // (unknown, before login, missing argument, out of order) breaks an RNFR/RNTO pair.
        let previous = previousVerb
        previousVerb = nil
        guard let spec else {
            if verb == Self.proxyHeaderVerb {
                // A PROXY header is believed only from `[proxy_protocol] from`; from anyone else it is
                // an attempt to choose the address Ferry sees (bans, limits, logs), or a balancer
                // missing from the list. Either way the connection ends here.
                logger.warning("refused a PROXY header from an address that is not a trusted balancer")
                reply(.serviceNotAvailable, "PROXY protocol is not accepted from your address.")
                isClosing = true
                return
            }
            reply(.syntaxError, "Unknown command.")
            return
        }
        if let session, session.refreshUser() == .removed {
            reply(.serviceNotAvailable, "Your account was removed from this server; closing control connection.")
            isClosing = true
            return
        }
        if session == nil && !spec.allowedBeforeLogin {
            reply(.notLoggedIn, "Please login with USER and PASS.")
            return
        }
        switch spec.argument {
        case .required where argument.isEmpty:
            reply(.syntaxErrorInParameters, "\(spec.verb) needs an argument.")
            return
        default:
            break
        }
        if let required = spec.mustFollow, previous != required {
            reply(.badSequenceOfCommands, "\(required) required first.")
            return
        }
        previousVerb = spec.verb
        spec.handler(self, argument)
    }

    // MARK: Replies and errors

    /// Sends a reply; at debug level the log shows it next to the command line it answers.
    func reply(_ code: FTPReplyCode, _ text: String) {
        logger.debug("reply", metadata: ["code": "\(code.rawValue)", "text": "\(text)"])
        if !control.send(FTPReply(code, text)) { isClosing = true }
    }

    func reply(_ code: FTPReplyCode, lines: [String]) {
        logger.debug("reply", metadata: ["code": "\(code.rawValue)", "text": "\(lines.first ?? "")", "lines": "\(lines.count)"])
        if !control.send(FTPReply(code, lines: lines)) { isClosing = true }
    }

    /// Answers a failed operation: the short reason to the client, the full one to the log.
    func reply(for error: SessionError, command: String) {
        let (code, text) = FTPErrorMapping.reply(for: error, verb: command)
        switch error {
        case .storage, .unknownStorage:
            logger.error("\(command) failed", metadata: ["user": "\(userName)", "error": "\(error)"])
        default:
            logger.info("\(command) refused", metadata: ["user": "\(userName)", "error": "\(error)"])
        }
        reply(code, text)
    }

    /// Resolves a client path against the working directory, answering 553 when it is not acceptable.
    func resolvePath(_ argument: String, command: String) -> VirtualPath? {
        guard let session else { return nil }
        do {
            return try session.resolve(argument, from: workingDirectory)
        } catch {
            reply(for: error, command: command)
            return nil
        }
    }

    /// Quotes a path for a 257 reply (RFC 959 appendix II: embedded quotes are doubled).
    static func quoted(_ path: VirtualPath) -> String {
        "\"" + path.description.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
