internal import COpenSSL

/// A digest OpenSSL could not compute (out of memory, a provider missing). Never ignored: a failed
/// digest fails the request or the cache lookup, it never becomes a signature over zeroes.
public struct DigestError: Error, CustomStringConvertible, Sendable {
    /// "SHA256", "HMAC-SHA256" or "MD5".
    public let algorithm: String
    public var description: String { "OpenSSL \(algorithm) failed" }
}

/// SHA-256, HMAC-SHA256 and MD5 from OpenSSL: the one file outside Protocols/TLS that calls it,
/// shared by S3 request signing (Storage) and the verified-login cache (Auth).
public enum Digest {
    public static func sha256(_ bytes: UnsafeRawBufferPointer) throws(DigestError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        guard SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &out) != nil else {
            throw DigestError(algorithm: "SHA256")
        }
        return out
    }

    public static func sha256(_ bytes: [UInt8]) throws(DigestError) -> [UInt8] {
        let result: Result<[UInt8], DigestError> = bytes.withUnsafeBytes { raw in
            do throws(DigestError) { return .success(try sha256(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func sha256(_ text: String) throws(DigestError) -> [UInt8] { try sha256(Array(text.utf8)) }

    public static func hmacSHA256(key: [UInt8], _ message: [UInt8]) throws(DigestError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &out, &length) != nil,
              length == SHA256_DIGEST_LENGTH else {
            throw DigestError(algorithm: "HMAC-SHA256")
        }
        return Array(out[0..<Int(length)])
    }

    public static func hmacSHA256(key: [UInt8], _ message: String) throws(DigestError) -> [UInt8] {
        try hmacSHA256(key: key, Array(message.utf8))
    }

    /// MD5 for the Content-MD5 header that S3 requires on DeleteObjects (not for security).
    public static func md5(_ bytes: [UInt8]) throws(DigestError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &out, &length, EVP_md5(), nil) == 1, length == 16 else {
            throw DigestError(algorithm: "MD5")
        }
        return Array(out[0..<Int(length)])
    }

    /// Lower-case hexadecimal, two digits per byte.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex SHA-256 of no bytes: the payload hash of GET, HEAD and DELETE.
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
