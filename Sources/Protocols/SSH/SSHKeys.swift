internal import CLibSSH
import Foundation

/// Public-key facts used in logs and key checks.
enum SSHKeys {
    /// OpenSSH's fingerprint form, "SHA256:" + unpadded base64 of the key blob's SHA-256.
    static func fingerprint(_ key: OpaquePointer) -> String {
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK, let hash else { return "?" }
        defer {
            var pointer: UnsafeMutablePointer<UInt8>? = hash
            ssh_clean_pubkey_hash(&pointer)
        }
        guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else { return "?" }
        defer { ssh_string_free_char(text) }
        return String(cString: text)
    }

    static func typeName(_ key: OpaquePointer) -> String {
        ssh_key_type_to_char(ssh_key_type(key)).map { String(cString: $0) } ?? "unknown"
    }

    /// The key blob (RFC 4253 §6.6), as configured keys store it.
    static func blob(_ key: OpaquePointer) -> [UInt8]? {
        var base64: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64 else { return nil }
        defer { ssh_string_free_char(base64) }
        return Data(base64Encoded: String(cString: base64)).map { [UInt8]($0) }
    }
}
