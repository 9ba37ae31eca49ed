/// The algorithms Ferry's SSH server offers (RFC 4253 §7.1), chosen so that an audit (ssh-audit)
/// finds nothing at failure level: no NIST-curve key exchange or host key, no SHA-1 anywhere, only
/// encrypt-then-MAC MACs, no CBC ciphers. libssh (0.10.6 and later) adds the strict-KEX marker
/// `kex-strict-s-v00@openssh.com` (the Terrapin countermeasure, CVE-2023-48795) to the key exchange
/// list by itself.
public enum SSHAlgorithms {
    /// Curve25519 first; the two large finite-field groups for clients without it. Left out:
    /// ecdh-sha2-nistp256/384/521 (NIST curves), the 2048-bit groups, anything with SHA-1.
    public static let keyExchange = [
        "curve25519-sha256", "curve25519-sha256@libssh.org",
        "diffie-hellman-group18-sha512", "diffie-hellman-group16-sha512",
    ]

    /// Encrypt-then-MAC with SHA-2 only (the AEAD ciphers below need no MAC at all).
    public static let macs = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"]

    /// Host key signatures: ed25519 and RSA with SHA-2 (never `ssh-rsa`, which signs with SHA-1).
    public static let hostKeys = ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"]

    /// The default ciphers, always set explicitly (libssh's own default list ends with an empty name,
    /// which audits report as an unknown algorithm). `[sftp] ciphers` narrows this list.
    public static let ciphers = [
        "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
        "aes256-ctr", "aes192-ctr", "aes128-ctr",
    ]

    /// Whether a cipher name is one Ferry refuses to offer even when configured: CBC modes (Terrapin-
    /// prone with etm MACs, and weak), 3DES, RC4, "none".
    public static func isWeakCipher(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.contains("cbc") || lower.contains("3des") || lower.contains("arcfour") || lower == "none"
    }
}
