import Auth
internal import CLibSSH
import Foundation
import Logging

/// What libssh's server callbacks learn while a client logs in, and the callbacks themselves (a
/// channel open goes on to the connection).
/// Callbacks are plain C functions (no captures, design.md §2); they find this object through
/// libssh's `userdata` pointer. It outlives the libssh session (the connection frees that first).
final class SSHLoginState {
    let context: SSHServerContext
    let clientHost: String
    let logger: Logger
    private(set) var user: User?
    /// The user's place among its `max_sessions`, held for the connection's life.
    private(set) var sessionSlot: SessionSlot?
    /// Authentication requests refused (keys not authorized, wrong passwords).
    private(set) var refusedAttempts = 0
    /// A wrong password was already counted by the defender (a refused key then is not counted again).
    private(set) var passwordFailureRecorded = false
    /// Opens a session channel the client asked for (RFC 4254 §6.1), or refuses it (nil). Set by
    /// the connection, which serves its channels.
    var openSessionChannel: ((OpaquePointer) -> OpaquePointer?)?
    /// The cipher the key exchange chose (server to client), for the login log line.
    var cipher: String?

    private let serverCallbacks = UnsafeMutablePointer<ssh_server_callbacks_struct>.allocate(capacity: 1)

    init(context: SSHServerContext, clientHost: String, logger: Logger) {
        self.context = context
        self.clientHost = clientHost
        self.logger = logger
    }

    deinit {
        serverCallbacks.deallocate()
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> SSHLoginState {
        Unmanaged<SSHLoginState>.fromOpaque(userdata!).takeUnretainedValue()
    }

    private var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private static let success = Int32(SSH_AUTH_SUCCESS.rawValue)
    private static let denied = Int32(SSH_AUTH_DENIED.rawValue)

    /// Installs the server callbacks (auth, channel open) on `session`. libssh keeps the pointer to
    /// the struct, which this object owns: it must outlive the session (the connection frees the
    /// session first).
    func installServerCallbacks(on session: OpaquePointer) {
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
        serverCallbacks.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
        serverCallbacks.pointee.userdata = userdata
        serverCallbacks.pointee.auth_password_function = { _, user, password, userdata in
            SSHLoginState.from(userdata).authenticate(user: user.map { String(cString: $0) } ?? "",
                                                      password: password.map { String(cString: $0) } ?? "")
        }
        serverCallbacks.pointee.auth_pubkey_function = { _, user, key, signatureState, userdata in
            SSHLoginState.from(userdata).authenticate(user: user.map { String(cString: $0) } ?? "", key: key,
                                                      signatureState: signatureState)
        }
        serverCallbacks.pointee.channel_open_request_session_function = { session, userdata in
            guard let session else { return nil }
            return SSHLoginState.from(userdata).openSessionChannel?(session)
        }
        ssh_set_server_callbacks(session, serverCallbacks)
    }

    // MARK: Authentication (RFC 4252)

    private func authenticate(user name: String, password: String) -> Int32 {
        if user != nil { return Self.denied }
        switch context.users.authenticate(name: name, password: password, from: clientHost, service: ServiceName.sftp.rawValue) {
        case .success(let user):
            return loggedIn(user, method: "password", metadata: [:]) ? Self.success : Self.denied
        case .failure(let reason):
            refusedAttempts += 1
            passwordFailureRecorded = true
            logger.warning("SSH login failed", metadata: ["user": "\(name)", "method": "password", "reason": "\(reason)"])
            context.observer?.loginFailed(service: .sftp)
            return Self.denied
        }
    }

    /// RFC 4252 §7: first a query without signature (answered PK_OK if the key would do), then the
    /// signed request, which libssh has verified when `signatureState` says VALID.
    private func authenticate(user name: String, key: OpaquePointer?, signatureState: CChar) -> Int32 {
        guard user == nil, let key, let blob = SSHKeys.blob(key) else { return Self.denied }
        let fingerprint = SSHKeys.fingerprint(key)
        let keyType = SSHKeys.typeName(key)
        let metadata: Logger.Metadata = ["user": "\(name)", "key_type": "\(keyType)", "fingerprint": "\(fingerprint)"]
        let state = Int32(signatureState)
        switch context.users.authorizedKey(name: name, blob: blob, from: clientHost, service: ServiceName.sftp.rawValue) {
        case .success(let user):
            if state == Int32(SSH_PUBLICKEY_STATE_NONE.rawValue) { return Self.success }
            guard state == Int32(SSH_PUBLICKEY_STATE_VALID.rawValue) else {
                refusedAttempts += 1
                logger.warning("SSH login failed: bad signature", metadata: metadata)
                return Self.denied
            }
            context.users.recordSuccess(from: clientHost)
            return loggedIn(user, method: "publickey", metadata: metadata) ? Self.success : Self.denied
        case .failure(let reason):
            refusedAttempts += 1
            logger.info("SSH public key refused", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return Self.denied
        }
    }

    /// Completes a login whose credentials were right, unless the user has `max_sessions` already.
    private func loggedIn(_ user: User, method: String, metadata: Logger.Metadata) -> Bool {
        guard let slot = context.users.sessions.open(for: user) else {
            logger.warning("SSH login refused", metadata: metadata.merging([
                "user": "\(user.name)", "method": "\(method)",
                "reason": "\(AuthError.tooManySessions(limit: user.maxSessions))"]) { $1 })
            context.observer?.loginFailed(service: .sftp)
            return false
        }
        sessionSlot = slot
        self.user = user
        var all = metadata
        all["user"] = "\(user.name)"
        all["method"] = "\(method)"
        if let cipher { all["cipher"] = "\(cipher)" }
        logger.info("login succeeded", metadata: all)
        context.observer?.loginSucceeded(service: .sftp)
        return true
    }
}
