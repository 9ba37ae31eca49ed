/// What a login offers, as an identity service is asked about it.
public enum LoginCredential: Sendable {
    case password(String)
    /// An SSH public key in wire form (RFC 4253 §6.6).
    case publicKey(blob: [UInt8])
}

/// One question to an identity service: may `user` log in with `credential`?
public struct IdentityQuery: Sendable {
    public let user: String
    public let credential: LoginCredential
    /// The protocol the login came by ("ftp", "sftp").
    public let service: String
    public let clientAddress: String

    public init(user: String, credential: LoginCredential, service: String, clientAddress: String) {
        self.user = user
        self.credential = credential
        self.service = service
        self.clientAddress = clientAddress
    }
}

/// An identity service's answer. Anything but `allowed` refuses the login (fail closed).
public enum IdentityAnswer: Sendable {
    /// The login is allowed, as this user (validated like a `[[user]]` table).
    case allowed(User)
    /// The service said no.
    case denied(reason: String)
    /// No usable answer: unreachable, too slow, an unexpected status, a malformed or invalid answer.
    case failed(reason: String)
}

/// An external identity service (`[auth] http`), asked about the logins the `[[user]]` tables do
/// not decide. Called on connection threads; must bound its own time (the login waits for it).
public protocol IdentityService: Sendable {
    func ask(_ query: IdentityQuery) -> IdentityAnswer
}
