import Auth
import Foundation

extension FTPConnection {
    /// `tls = required`: no credentials before AUTH TLS (vsftpd's forced TLS login).
    private var mustEncryptFirst: Bool {
        context.settings.tls?.policy == .required && !control.isProtected
    }

    func handleUSER(_ name: String) {
        if mustEncryptFirst {
            reply(.notLoggedIn, "Non-anonymous sessions must use encryption: use AUTH TLS first.")
            return
        }
        if session != nil {
            reply(.notLoggedIn, "Can't change to another user.")
            return
        }
        loginState = .awaitingPassword(user: name)
        reply(.userNameOkayNeedPassword, "Please specify the password.")
    }

    /// Checks the password through the user directory (which delays failures and feeds the defender).
    /// The reply never tells whether the user exists.
    func handlePASS(_ password: String) {
        if mustEncryptFirst {
            reply(.notLoggedIn, "Non-anonymous sessions must use encryption: use AUTH TLS first.")
            return
        }
        guard case .awaitingPassword(let name) = loginState else {
            reply(session == nil ? .badSequenceOfCommands : .userLoggedIn,
                  session == nil ? "Login with USER first." : "Already logged in.")
            return
        }
        switch context.users.authenticate(name: name, password: password, from: clientAddress.host,
                                           service: ServiceName.ftp.rawValue) {
        case .success(let user):
            guard let slot = context.users.sessions.open(for: user) else {
                loginState = .awaitingUser
                context.observer?.loginFailed(service: .ftp)
                logger.warning("login refused", metadata: ["user": "\(user.name)", "reason": "\(AuthError.tooManySessions(limit: user.maxSessions))"])
                reply(.notLoggedIn, "Login refused: \(user.name) already has the most sessions allowed (\(user.maxSessions)).")
                return
            }
            sessionSlot = slot
            var sessionLogger = logger
            sessionLogger[metadataKey: "user"] = "\(user.name)"
            logger = sessionLogger
            loginState = .loggedIn(Session(user: user, storages: context.storages, logger: sessionLogger, directory: context.users,
                                                   liveStorages: context.liveStorages))
            workingDirectory = .root
            context.observer?.loginSucceeded(service: .ftp)
            logger.info("login succeeded", metadata: ["method": "password"])
            reply(.userLoggedIn, "Login successful.")
        case .failure(let reason):
            loginState = .awaitingUser
            context.observer?.loginFailed(service: .ftp)
            logger.warning("login failed", metadata: ["user": "\(name)", "reason": "\(reason)"])
            reply(.notLoggedIn, "Login incorrect.")
            if context.users.defender.isBanned(clientAddress.host) {
                // This failure banned the address: later connections are refused at connect.
                isClosing = true
            }
        }
    }

    func handleQUIT() {
        reply(.closingControlConnection, "Goodbye.")
        isClosing = true
    }

    // MARK: RFC 4217 (FTPS)

    /// AUTH TLS (also SSL, TLS-C, TLS-P): 234, then the handshake on the control connection.
    func handleAUTH(_ mechanism: String) {
        guard let tls = context.settings.tls, tls.policy != .off else {
            reply(.commandNotImplemented, "TLS is not enabled on this server.")
            return
        }
        guard ["TLS", "SSL", "TLS-C", "TLS-P"].contains(mechanism.uppercased()) else {
            reply(.parameterNotImplemented, "Unsupported AUTH mechanism; use AUTH TLS.")
            return
        }
        if control.isProtected {
            reply(.badSequenceOfCommands, "Already using TLS.")
            return
        }
        reply(.securityDataExchangeComplete, "AUTH \(mechanism.uppercased()) successful.")
        do {
            try control.upgrade(context: tls.context, timeout: context.settings.tlsHandshakeTimeout)
        } catch {
            logger.info("control TLS handshake failed", metadata: ["error": "\(error)"])
            isClosing = true
            return
        }
        if let stream = control.stream as? TLSStream {
            logger.debug("control connection protected", metadata: ["tls": "\(stream.protocolVersion)", "cipher": "\(stream.cipher)"])
        }
    }

    func handlePBSZ(_ argument: String) {
        guard control.isProtected else {
            reply(.badSequenceOfCommands, "PBSZ needs AUTH TLS first.")
            return
        }
        protectionBufferSizeSet = true
        reply(.commandOkay, "PBSZ=0")  // TLS is a stream: the buffer size is always 0 (RFC 4217 §8)
    }

    func handlePROT(_ level: String) {
        guard control.isProtected else {
            reply(.badSequenceOfCommands, "PROT needs AUTH TLS first.")
            return
        }
        guard protectionBufferSizeSet else {
            reply(.badSequenceOfCommands, "PBSZ must precede PROT.")
            return
        }
        switch level.uppercased() {
        case "P":
            dataProtection = .private
            reply(.commandOkay, "PROT now Private.")
        case "C":
            if context.settings.tls?.policy == .required {
                reply(.dataProtectionLevelNotAccepted, "Data connections must be encrypted (PROT P).")
            } else {
                dataProtection = .clear
                reply(.commandOkay, "PROT now Clear.")
            }
        case "S", "E":
            reply(.parameterNotImplemented, "PROT \(level.uppercased()) is not supported; use P or C.")
        default:
            reply(.syntaxErrorInParameters, "PROT takes P or C.")
        }
    }

    /// Clearing the control connection would expose later commands; never allowed.
    func handleCCC() {
        reply(.requestDeniedForPolicyReasons, "CCC is not permitted.")
    }
}
