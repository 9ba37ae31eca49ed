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

    public init(users: [User], defender: LoginDefender, failureDelay: TimeInterval = 1.0,
                loginCache: VerifiedLoginCache = VerifiedLoginCache(),
                concurrentHashing: Int = max(2, ProcessInfo.processInfo.activeProcessorCount), logger: Logger? = nil) {
        self.logger = logger
        var byName: [String: User] = [:]
        for user in users { byName[user.name] = user }
        self.users = byName
        self.defender = defender
        self.failureDelay = failureDelay
        self.loginCache = loginCache
        self.hashing = HashingGate(concurrent: concurrentHashing)
    }

    public func user(named name: String) -> User? { users[name] }

    /// Verifies a password login from `address`. Blocks the calling connection thread: about one
    /// crypt(3) run (none when the same credentials were verified moments ago, see
    /// `VerifiedLoginCache`), plus `failureDelay` on failure. A failure is recorded in the defender
    /// and drops the user's cached verification.
    public func authenticate(name: String, password: String, from address: String) -> Result<User, AuthError> {
        if defender.isBanned(address) { return .failure(.banned) }
        let outcome: Result<User, AuthError>
        if let user = users[name] {
            if let hash = user.passwordHash {
                outcome = verify(password, against: hash, user: name) ? .success(user) : .failure(.wrongPassword)
            } else {
                _ = hashing.run { PasswordHash.decoy.verify(password) }
                outcome = .failure(.noPasswordConfigured)
            }
        } else {
            _ = hashing.run { PasswordHash.decoy.verify(password) }  // same cost as a real check
            outcome = .failure(.unknownUser)
        }
        switch outcome {
        case .success:
            defender.recordSuccess(address)
        case .failure:
            loginCache.forget(user: name)
            recordDefenderFailure(address)
            if failureDelay > 0 { Thread.sleep(forTimeInterval: failureDelay) }
        }
        return outcome
    }

    private func verify(_ password: String, against hash: PasswordHash, user name: String) -> Bool {
        guard case .hashed(let setting) = hash.storage else { return hash.verify(password) }  // plain: cheap
        if loginCache.contains(user: name, hash: setting, password: password) { return true }
        let verified = hashing.run { hash.verify(password) }
        if verified { loginCache.remember(user: name, hash: setting, password: password) }
        return verified
    }

    /// Whether `blob` (an SSH public key in wire form, RFC 4253 §6.6) is one of `name`'s configured
    /// keys. Pure lookup: SSH clients offer several keys in turn before one fits, so a refused offer
    /// is not a failed login by itself; the SSH layer records one failure for a connection whose
    /// offers were all refused (`recordFailure`).
    public func authorizedKey(name: String, blob: [UInt8], from address: String) -> Result<User, AuthError> {
        if defender.isBanned(address) { return .failure(.banned) }
        guard let user = users[name] else { return .failure(.unknownUser) }
        return user.sshKeys.contains(where: { $0.blob == blob }) ? .success(user) : .failure(.keyNotAuthorized)
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
