import Auth
import Foundation

extension FTPConnection {
    func handleUSER(_ name: String) {
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
        guard case .awaitingPassword(let name) = loginState else {
            reply(session == nil ? .badSequenceOfCommands : .userLoggedIn,
                  session == nil ? "Login with USER first." : "Already logged in.")
            return
        }
        switch context.users.authenticate(name: name, password: password, from: clientAddress.host) {
        case .success(let user):
            var sessionLogger = logger
            sessionLogger[metadataKey: "user"] = "\(user.name)"
            logger = sessionLogger
            loginState = .loggedIn(Session(user: user, storages: context.storages, logger: sessionLogger))
            workingDirectory = .root
            context.observer?.loginSucceeded(protocolName: "ftp")
            logger.info("login succeeded", metadata: ["method": "password"])
            reply(.userLoggedIn, "Login successful.")
        case .failure(let reason):
            loginState = .awaitingUser
            context.observer?.loginFailed(protocolName: "ftp")
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

    func handleNotYetImplemented(_ verb: String) {
        reply(.commandNotImplemented, "\(verb) is not supported yet.")
    }
}
