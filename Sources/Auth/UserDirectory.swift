import Foundation
import Locking
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

/// The configured users, and the one place that checks passwords and feeds the defender. A reload
/// replaces the definition as a whole (`replace(with:)`); sessions already logged in learn of it
/// through `generation` (see `Session.refreshUser`).
public final class UserDirectory: Sendable {
    /// Everything a configuration reload replaces at once.
    public struct Definition: Sendable {
        public var users: [User]
        /// `[auth] http`: asked about logins the file does not decide (see `decide`).
        public var identity: (any IdentityService)?
        public var fileUsersFirst: Bool
        /// Recent successful password verifications.
        public var loginCache: VerifiedLoginCache
        /// Recent `allowed` answers of the identity service.
        public var identityCache: IdentityAnswerCache

        public init(users: [User], identity: (any IdentityService)? = nil, fileUsersFirst: Bool = true,
                    loginCache: VerifiedLoginCache = VerifiedLoginCache(),
                    identityCache: IdentityAnswerCache = IdentityAnswerCache(lifetime: 0)) {
            self.users = users
            self.identity = identity
            self.fileUsersFirst = fileUsersFirst
            self.loginCache = loginCache
            self.identityCache = identityCache
        }
    }

    /// The definition in force, with users by name, and how many times it was replaced.
    private struct Current: Sendable {
        var users: [String: User]
        var definition: Definition
        var generation: Int
    }

    private let current: Locked<Current>
    public let defender: LoginDefender
    /// How long a failed login waits before it is answered (slows down guessing).
    public let failureDelay: TimeInterval
    /// Each user's sessions, for `max_sessions`.
    public let sessions = SessionCounter()
    private let hashing: HashingGate

    /// Where a ban is logged ("address banned"): the one event the defender causes.
    private let logger: Logger?

    public init(users: [User], defender: LoginDefender, failureDelay: TimeInterval = 1.0,
                loginCache: VerifiedLoginCache = VerifiedLoginCache(),
                concurrentHashing: Int = max(2, ProcessInfo.processInfo.activeProcessorCount), logger: Logger? = nil,
                identity: (any IdentityService)? = nil, fileUsersFirst: Bool = true,
                identityCache: IdentityAnswerCache = IdentityAnswerCache(lifetime: 0)) {
        self.logger = logger
        let definition = Definition(users: users, identity: identity, fileUsersFirst: fileUsersFirst,
                                    loginCache: loginCache, identityCache: identityCache)
        self.current = Locked(Current(users: Self.byName(users), definition: definition, generation: 0))
        self.defender = defender
        self.failureDelay = failureDelay
        self.hashing = HashingGate(concurrent: concurrentHashing)
    }

    private static func byName(_ users: [User]) -> [String: User] {
        var byName: [String: User] = [:]
        for user in users { byName[user.name] = user }
        return byName
    }

    /// Puts a reloaded definition in force for every login from now on. Sessions in progress see
    /// the new `generation` at their next command.
    public func replace(with definition: Definition) {
        current.withLock { current in
            current = Current(users: Self.byName(definition.users), definition: definition, generation: current.generation + 1)
        }
    }

    /// Counts `replace` calls: a session that saw another number re-reads its user.
    public var generation: Int { current.withLock { $0.generation } }

    /// A user of the file (never one the identity service defined).
    public func user(named name: String) -> User? { current.withLock { $0.users[name] } }

    public var loginCache: VerifiedLoginCache { current.withLock { $0.definition.loginCache } }
    public var identityCache: IdentityAnswerCache { current.withLock { $0.definition.identityCache } }

    private var snapshot: Current { current.withLock { $0 } }

    /// Verifies a password login from `address` that came by `service` ("ftp", "sftp"). Blocks the
    /// calling connection thread: about one crypt(3) run (none when the same credentials were
    /// verified moments ago, see `VerifiedLoginCache`) or one request to the identity service, plus
    /// `failureDelay` on failure. A failure is recorded in the defender and drops the user's cached
    /// verifications.
    public func authenticate(name: String, password: String, from address: String, service: String) -> Result<User, AuthError> {
        if defender.isBanned(address) { return .failure(.banned) }
        let current = snapshot
        let query = IdentityQuery(user: name, credential: .password(password), service: service, clientAddress: address)
        let outcome = decide(query, current) { () -> Result<User, AuthError> in
            if let user = current.users[name] {
                if let hash = user.passwordHash {
                    return verify(password, against: hash, user: name, cache: current.definition.loginCache)
                        ? .success(user) : .failure(.wrongPassword)
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
            current.definition.loginCache.forget(user: name)
            current.definition.identityCache.forget(user: name)
            recordDefenderFailure(address)
            if failureDelay > 0 { Thread.sleep(forTimeInterval: failureDelay) }
        }
        return outcome
    }

    /// Who decides a login: the file alone for its users when `file_users_first` (or when there is
    /// no identity service); otherwise the identity service, and then the file when the service
    /// did not allow the login and the file has the user.
    private func decide(_ query: IdentityQuery, _ current: Current, byFile fileCheck: () -> Result<User, AuthError>) -> Result<User, AuthError> {
        guard let identity = current.definition.identity else { return fileCheck() }
        let identityCache = current.definition.identityCache
        let inFile = current.users[query.user] != nil
        if inFile && current.definition.fileUsersFirst { return fileCheck() }
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

    private func verify(_ password: String, against hash: PasswordHash, user name: String, cache loginCache: VerifiedLoginCache) -> Bool {
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
        let current = snapshot
        let query = IdentityQuery(user: name, credential: .publicKey(blob: blob), service: service, clientAddress: address)
        return decide(query, current) { () -> Result<User, AuthError> in
            guard let user = current.users[name] else { return .failure(.unknownUser) }
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
