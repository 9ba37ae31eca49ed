internal import COpenSSL

/// HMAC-SHA256 from OpenSSL, for the verified-login cache: the only Auth file that imports COpenSSL.
enum LoginDigest {
    /// HMAC-SHA256 of `message` under `key`; nil when OpenSSL fails (the caller then does not cache).
    static func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &out, &length) != nil,
              length == SHA256_DIGEST_LENGTH else { return nil }
        return Array(out[0..<Int(length)])
    }
}
