internal import CCryptShims

/// A stored password: a crypt(3) hash verified with libxcrypt (yescrypt `$y$`, sha512-crypt `$6$`,
/// sha256-crypt `$5$`, bcrypt `$2b$`/`$2y$`), or — for legacy configs — a plain password, compared in
/// constant time either way.
public struct PasswordHash: Sendable, Equatable {
    public enum Scheme: String, Sendable, CaseIterable {
        case yescrypt = "$y$"
        case sha512 = "$6$"
        case sha256 = "$5$"
        case bcrypt = "$2b$"
        case bcryptY = "$2y$"
    }

    enum Storage: Sendable, Equatable {
        case hashed(String)
        case plain([UInt8])
    }

    let storage: Storage

    /// A crypt(3) hash. Returns nil for a scheme Ferry does not accept (DES, MD5, unknown).
    public init?(hash: String) {
        guard Scheme.allCases.contains(where: { hash.hasPrefix($0.rawValue) }), hash.count >= 20,
              !hash.contains(where: { $0.isWhitespace }) else { return nil }
        storage = .hashed(hash)
    }

    /// A plain password from a legacy config (the startup log warns about it).
    public init(plain: String) {
        storage = .plain(Array(plain.utf8))
    }

    public var isPlain: Bool {
        if case .plain = storage { return true }
        return false
    }

    /// Checks a password. Costs one crypt(3) run (tens of milliseconds for yescrypt/bcrypt).
    public func verify(_ password: String) -> Bool {
        switch storage {
        case .plain(let expected):
            return constantTimeEquals(Array(password.utf8), expected)
        case .hashed(let hash):
            guard let computed = Self.crypt(password, setting: hash) else { return false }
            return constantTimeEquals(Array(computed.utf8), Array(hash.utf8))
        }
    }

    /// Hashes a new password with yescrypt and a fresh random salt (`ferry hash-password`).
    public static func make(_ password: String, scheme: Scheme = .yescrypt) -> String? {
        var setting = [CChar](repeating: 0, count: 128)
        guard ferry_crypt_gensalt(scheme.rawValue, 0, &setting, setting.count) == 0 else { return nil }
        return crypt(password, setting: text(ofCString: setting))
    }

    static func crypt(_ password: String, setting: String) -> String? {
        var output = [CChar](repeating: 0, count: 512)
        guard ferry_crypt(password, setting, &output, output.count) == 0 else { return nil }
        return text(ofCString: output)
    }

    /// The text of a C string a C call wrote into `buffer`, up to its NUL (never past the buffer).
    private static func text(ofCString buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A hash that no password matches, run for unknown users so that timing does not reveal them.
    /// Made once, at first use, from a random password nobody knows.
    static let decoy: PasswordHash = {
        var random = SystemRandomNumberGenerator()
        let secret = String(random.next(), radix: 36) + String(random.next(), radix: 36)
        return make(secret).flatMap { PasswordHash(hash: $0) } ?? PasswordHash(plain: secret)
    }()
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
    let count = max(a.count, b.count)
    for i in 0..<count {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        difference |= x ^ y
    }
    return difference == 0
}
