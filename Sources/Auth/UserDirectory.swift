import Foundation
import Logging
import MetricCatalog

/// Why a login failed, for the log only: clients are told the same thing in every case, so that they
/// cannot learn whether a user exists.
public enum AuthError: Error, Sendable, Equatable {
    case unknownUser
    case wrongPassword
    case noPasswordConfigured
    case keyNotAuthorized
    case banned
    /// The credentials were right, but the user has `max_sessions` sessions already.
    case tooManySessions(limit: Int)
    /// The identity service (`[auth] http`) said no.
    case deniedByIdentityService(reason: String)
    /// The identity service gave no usable answer (the login is refused: fail closed).
    case identityServiceFailed(reason: String)
}

/// The configured users, and the one place that checks passwords and feeds the defender.
public final class UserDirectory: Sendable {
    private let users: [String: User]
    public let defender: LoginDefender
    /// How long a failed login waits before it is answered (slows down guessing).
    public let failureDelay: TimeInterval
    /// Recent successful password verifications (made anew with the directory, so a reload drops it).
    public let loginCache: VerifiedLoginCache
    /// Each user's sessions, for `max_sessions`.
    public let sessions = SessionCounter()
    private let hashing: HashingGate

    /// Where a ban is logged ("address banned"): the one event the defender causes.
    private let logger: Logger?
    /// `[auth] http`: asked about logins the file does not decide (see `decidedByFile`).
    private let identity: (any IdentityService)?
    private let fileUsersFirst: Bool
    /// Recent `allowed` answers of the identity service.
    public let identityCache: IdentityAnswerCache

    public init(users: [User], defender: LoginDefender, failureDelay: TimeInterval = 1.0,
                loginCache: VerifiedLoginCache = VerifiedLoginCache(),
                concurrentHashing: Int = max(2, ProcessInfo.processInfo.activeProcessorCount), logger: Logger? = nil,
                identity: (any IdentityService)? = nil, fileUsersFirst: Bool = true,
                identityCache: IdentityAnswerCache = IdentityAnswerCache(lifetime: 0)) {
        self.logger = logger
        self.identity = identity
        self.fileUsersFirst = fileUsersFirst
        self.identityCache = identityCache
        var byName: [String: User] = [:]
        for user in users { byName[user.name] = user }
        self.users = byName
        self.defender = defender
        self.failureDelay = failureDelay
        self.loginCache = loginCache
        self.hashing = HashingGate(concurrent: concurrentHashing)
    }

    public func user(named name: String) -> User? { users[name] }

    /// Verifies a password login from `address` that came by `service` ("ftp", "sftp"). Blocks the
    /// calling connection thread: about one crypt(3) run (none when the same credentials were
    /// verified moments ago, see `VerifiedLoginCache`) or one request to the identity service, plus
    /// `failureDelay` on failure. A failure is recorded in the defender and drops the user's cached
    /// verifications.
    public func authenticate(name: String, password: String, from address: String, service: String) -> Result<User, AuthError> {
        if defender.isBanned(address) { return .failure(.banned) }
        let query = IdentityQuery(user: name, credential: .password(password), service: service, clientAddress: address)
        let outcome = decide(query) { () -> Result<User, AuthError> in
            if let user = users[name] {
                if let hash = user.passwordHash {
                    return verify(password, against: hash, user: name) ? .success(user) : .failure(.wrongPassword)
                }
                _ = hashing.run { PasswordHash.decoy.verify(password) }
                return .failure(.noPasswordConfigured)
            }
            _ = hashing.run { PasswordHash.decoy.verify(password) }  // same cost as a real check
            return .failure(.unknownUser)
        }
        switch outcome {
        case .success:
            defender.recordSuccess(address)
        case .failure:
            loginCache.forget(user: name)
            identityCache.forget(user: name)
            recordDefenderFailure(address)
            if failureDelay > 0 { Thread.sleep(forTimeInterval: failureDelay) }
        }
        return outcome
    }

    /// Who decides a login: the file alone for its users when `file_users_first` (or when there is
    /// no identity service); otherwise the identity service, and then the file when the service
    /// did not allow the login and the file has the user.
    private func decide(_ query: IdentityQuery, byFile fileCheck: () -> Result<User, AuthError>) -> Result<User, AuthError> {
        guard let identity else { return fileCheck() }
        let inFile = users[query.user] != nil
        if inFile && fileUsersFirst { return fileCheck() }
        let answer: Result<User, AuthError>
        if let cached = identityCache.user(for: query) {
            answer = .success(cached)
        } else {
            switch identity.ask(query) {
            case .allowed(let user):
                identityCache.remember(user, for: query)
                answer = .success(user)
            case .denied(let reason):
                answer = .failure(.deniedByIdentityService(reason: reason))
            case .failed(let reason):
                logger?.warning("identity service failed", metadata: [
                    "user": "\(query.user)", "client": "\(query.clientAddress)", "reason": "\(reason)"])
                answer = .failure(.identityServiceFailed(reason: reason))
            }
        }
        if case .failure = answer, inFile { return fileCheck() }
        return answer
    }

    private func verify(_ password: String, against hash: PasswordHash, user name: String) -> Bool {
        guard case .hashed(let setting) = hash.storage else { return hash.verify(password) }  // plain: cheap
        if loginCache.contains(user: name, hash: setting, password: password) { return true }
        let verified = hashing.run { hash.verify(password) }
        if verified { loginCache.remember(user: name, hash: setting, password: password) }
        return verified
    }

    /// Whether `blob` (an SSH public key in wire form, RFC 4253 §6.6) is one of `name`'s configured
    /// keys, or a key the identity service allows for `name`. SSH clients offer several keys in turn
    /// before one fits, so a refused offer is not a failed login by itself; the SSH layer records one
    /// failure for a connection whose offers were all refused (`recordFailure`).
    public func authorizedKey(name: String, blob: [UInt8], from address: String, service: String) -> Result<User, AuthError> {
        if defender.isBanned(address) { return .failure(.banned) }
        let query = IdentityQuery(user: name, credential: .publicKey(blob: blob), service: service, clientAddress: address)
        return decide(query) { () -> Result<User, AuthError> in
            guard let user = users[name] else { return .failure(.unknownUser) }
            return user.sshKeys.contains(where: { $0.blob == blob }) ? .success(user) : .failure(.keyNotAuthorized)
        }
    }

    /// Records a failed login that was not a password check (refused keys), delayed like one.
    public func recordFailure(from address: String) {
        recordDefenderFailure(address)
        if failureDelay > 0 { Thread.sleep(forTimeInterval: failureDelay) }
    }

    private func recordDefenderFailure(_ address: String) {
        if defender.recordFailure(address) {
            logger?.warning("address banned", metadata: ["client": "\(address)", "seconds": "\(Int(defender.banTime))"])
            FerryMetric.bans.increment()
        }
    }

    /// Records a successful login that was not a password check.
    public func recordSuccess(from address: String) {
        defender.recordSuccess(address)
    }
}
