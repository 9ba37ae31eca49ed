internal import COpenSSL
import Foundation

/// SHA-256, HMAC-SHA256 and MD5 from OpenSSL: the only Storage file that imports COpenSSL. Every call's
/// result is checked: a failed digest fails the request (never a signature over zeroes).
enum Digest {
    static func sha256(_ bytes: UnsafeRawBufferPointer) throws(StorageError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        guard SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &out) != nil else {
            throw .io(detail: "OpenSSL SHA256 failed")
        }
        return out
    }

    static func sha256(_ bytes: [UInt8]) throws(StorageError) -> [UInt8] {
        let result: Result<[UInt8], StorageError> = bytes.withUnsafeBytes { raw in
            do throws(StorageError) { return .success(try sha256(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func sha256(_ text: String) throws(StorageError) -> [UInt8] { try sha256(Array(text.utf8)) }

    static func hmacSHA256(key: [UInt8], _ message: String) throws(StorageError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let data = Array(message.utf8)
        guard HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &length) != nil,
              length == SHA256_DIGEST_LENGTH else {
            throw .io(detail: "OpenSSL HMAC-SHA256 failed")
        }
        return Array(out[0..<Int(length)])
    }

    /// MD5 for the Content-MD5 header that S3 requires on DeleteObjects (not for security).
    static func md5(_ bytes: [UInt8]) throws(StorageError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &out, &length, EVP_md5(), nil) == 1, length == 16 else {
            throw .io(detail: "OpenSSL MD5 failed")
        }
        return Array(out[0..<Int(length)])
    }

    static func hex(_ bytes: [UInt8]) -> String {
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
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
