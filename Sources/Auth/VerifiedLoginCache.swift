import Foundation
import Locking
import Digests

/// Remembers recent successful password verifications for a short while, so that a script that
/// connects once per file (or a client that opens many sessions) pays the password hash's CPU cost
/// (about 22 ms for yescrypt) once, not on every connection; as SFTPGo does.
///
/// What is kept is an HMAC-SHA256, under a random key made at start and never stored, of the user
/// name, the configured hash and the password: never the password, and useless without the key.
/// An entry lives `lifetime` seconds; a failed attempt for a user drops that user's entries; the
/// whole cache is dropped with the user directory on a reload (a new directory, a new cache).
public final class VerifiedLoginCache: Sendable {
    public let lifetime: TimeInterval
    public let capacity: Int
    private let key: [UInt8]
    private let entries = Locked<[String: (digest: [UInt8], expires: Date)]>([:])

    public init(lifetime: TimeInterval = 120, capacity: Int = 4096) {
        self.lifetime = lifetime
        self.capacity = capacity
        var random = SystemRandomNumberGenerator()
        key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    }

    private func digest(user: String, hash: String, password: String) -> [UInt8]? {
        var message = Array(user.utf8)
        message.append(0)
        message += Array(hash.utf8)
        message.append(0)
        message += Array(password.utf8)
        return try? Digest.hmacSHA256(key: key, message)  // nil: this login is simply not cached
    }

    /// Whether `password` was verified for `user` (with this configured `hash`) within the lifetime.
    func contains(user: String, hash: String, password: String) -> Bool {
        guard lifetime > 0, let digest = digest(user: user, hash: hash, password: password) else { return false }
        return entries.withLock { all in
            guard let entry = all[user], entry.expires > Date() else { return false }
            return constantTimeEquals(entry.digest, digest)
        }
    }

    func remember(user: String, hash: String, password: String) {
        guard lifetime > 0, let digest = digest(user: user, hash: hash, password: password) else { return }
        let now = Date()
        entries.withLock { all in
            if all.count >= capacity { all = all.filter { $0.value.expires > now } }
            if all.count >= capacity { return }  // full of live entries: verify the slow way
            all[user] = (digest, now.addingTimeInterval(lifetime))
        }
    }

    /// Drops what is known of `user` (after a failed attempt).
    func forget(user: String) {
        _ = entries.withLock { $0.removeValue(forKey: user) }
    }

    public var count: Int { entries.withLock { $0.count } }
}
