import Digests
import Foundation
import Locking

/// Remembers the identity service's recent `allowed` answers for `[auth] cache_ttl`, so that a
/// client that connects once per file does not cost a request per connection.
///
/// An entry answers exactly the same question again: it is found by an HMAC-SHA256, under a random
/// key made at start and never stored, of the user, the protocol, the client address, the kind of
/// credential and the credential (never the password itself, and useless without the key). A failed attempt for a user drops that user's entries; the cache is made anew with the
/// user directory (start, reload), so nothing outlives a configuration.
public final class IdentityAnswerCache: Sendable {
    public let lifetime: TimeInterval
    public let capacity: Int
    private let key: [UInt8]
    private let entries = Locked<[String: [Entry]]>([:])

    private struct Entry {
        let digest: [UInt8]
        let user: User
        let expires: Date
    }

    /// Entries kept per user (a password and a few keys).
    static let entriesPerUser = 4

    public init(lifetime: TimeInterval, capacity: Int = 4096) {
        self.lifetime = lifetime
        self.capacity = capacity
        var random = SystemRandomNumberGenerator()
        key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    }

    private func digest(_ query: IdentityQuery) -> [UInt8]? {
        var message = Array(query.user.utf8) + [0] + Array(query.service.utf8) + [0] + Array(query.clientAddress.utf8)
        switch query.credential {
        case .password(let password):
            message += [0] + Array("password".utf8) + [0] + Array(password.utf8)
        case .publicKey(let blob):
            message += [0] + Array("public_key".utf8) + [0] + blob
        }
        return try? Digest.hmacSHA256(key: key, message)  // nil: this answer is simply not cached
    }

    /// The user a live entry allowed for exactly this user and credential.
    func user(for query: IdentityQuery) -> User? {
        guard lifetime > 0, let digest = digest(query) else { return nil }
        let now = Date()
        return entries.withLock { all in
            all[query.user]?.first { $0.expires > now && constantTimeEquals($0.digest, digest) }?.user
        }
    }

    func remember(_ user: User, for query: IdentityQuery) {
        guard lifetime > 0, let digest = digest(query) else { return }
        let now = Date()
        entries.withLock { all in
            if all.count >= capacity {
                all = all.compactMapValues { list in
                    let live = list.filter { $0.expires > now }
                    return live.isEmpty ? nil : live
                }
            }
            if all.count >= capacity && all[query.user] == nil { return }  // full of live entries
            var list = (all[query.user] ?? []).filter { $0.expires > now && $0.digest != digest }
            list.append(Entry(digest: digest, user: user, expires: now.addingTimeInterval(lifetime)))
            all[query.user] = Array(list.suffix(Self.entriesPerUser))
        }
    }

    /// Drops what is known of `user` (after a failed attempt).
    func forget(user: String) {
        _ = entries.withLock { $0.removeValue(forKey: user) }
    }

    public var count: Int { entries.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
