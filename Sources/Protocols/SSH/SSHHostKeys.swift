internal import CLibSSH
import Foundation

/// The server's host keys (RFC 4253 §6.6), loaded once into one libssh `ssh_bind` that every
/// connection is accepted through, with the algorithm lists of `SSHAlgorithms`. One key per type:
/// ed25519 and RSA (NIST-curve ECDSA host keys are refused, see `SSHAlgorithms`).
public final class SSHHostKeys: @unchecked Sendable {
    public enum Kind: Sendable {
        case ed25519, rsa

        fileprivate var keyType: ssh_keytypes_e { self == .ed25519 ? SSH_KEYTYPE_ED25519 : SSH_KEYTYPE_RSA }
        fileprivate var bits: Int32 { self == .ed25519 ? 0 : 3072 }
    }

    /// `@unchecked Sendable`: after `init` the bind is only read, and `ssh_bind_accept_fd` (which
    /// copies the keys into the new session) runs under `acceptLock`.
    private let bind: OpaquePointer
    /// Guards a C call, not a Swift value, hence a bare lock rather than `Locked`.
    private let acceptLock = NSLock()
    /// "ssh-ed25519 SHA256:…" per key, for the startup log.
    public let fingerprints: [String]

    public init(paths: [String]) throws(SSHError) {
        guard let bind = ssh_bind_new() else { throw .setup("ssh_bind_new failed") }
        self.bind = bind
        // Ferry's configuration is the only one: libssh would otherwise read a system-wide
        // server configuration file (/etc/libssh/libssh_server.config) at the first accept.
        var processConfig = false
        guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &processConfig) == SSH_OK else {
            ssh_bind_free(bind)
            throw .setup("libssh cannot be kept from reading its system-wide configuration")
        }
        let lists: [(ssh_bind_options_e, String, [String])] = [
            (SSH_BIND_OPTIONS_KEY_EXCHANGE, "key exchange", SSHAlgorithms.keyExchange),
            (SSH_BIND_OPTIONS_HMAC_C_S, "MAC", SSHAlgorithms.macs),
            (SSH_BIND_OPTIONS_HMAC_S_C, "MAC", SSHAlgorithms.macs),
            (SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, "host key", SSHAlgorithms.hostKeys),
            (SSH_BIND_OPTIONS_CIPHERS_C_S, "cipher", SSHAlgorithms.ciphers),
            (SSH_BIND_OPTIONS_CIPHERS_S_C, "cipher", SSHAlgorithms.ciphers),
        ]
        for (option, what, names) in lists {
            let list = names.joined(separator: ",")
            guard ssh_bind_options_set(bind, option, list) == SSH_OK else {
                ssh_bind_free(bind)
                throw .setup("libssh refused the \(what) list \(list)")
            }
        }
        var fingerprints: [String] = []
        for path in paths {
            var key: OpaquePointer?
            guard ssh_pki_import_privkey_file(path, nil, nil, nil, &key) == SSH_OK, let key else {
                ssh_bind_free(bind)
                throw .hostKey(path: path, reason: "not a private key libssh can read (unencrypted OpenSSH or PEM format)")
            }
            let type = SSHKeys.typeName(key)
            guard ssh_key_type(key) == SSH_KEYTYPE_ED25519 || ssh_key_type(key) == SSH_KEYTYPE_RSA else {
                ssh_key_free(key)
                ssh_bind_free(bind)
                throw .hostKey(path: path, reason: "\(type) host keys are not served (NIST curves fail SSH audits); use ed25519 or RSA")
            }
            // libssh keeps one key per type: a second one would silently replace the first.
            if fingerprints.contains(where: { $0.hasPrefix(type + " ") }) {
                ssh_key_free(key)
                ssh_bind_free(bind)
                throw .hostKey(path: path, reason: "a second \(type) host key; only one key of each type can be served")
            }
            fingerprints.append("\(type) \(SSHKeys.fingerprint(key))")
            // The bind takes ownership of the key.
            guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY, UnsafeRawPointer(key)) == SSH_OK else {
                ssh_key_free(key)
                ssh_bind_free(bind)
                throw .hostKey(path: path, reason: "unsupported key type")
            }
        }
        self.fingerprints = fingerprints
    }

    deinit { ssh_bind_free(bind) }

    /// Restricts the ciphers offered in both directions (RFC 4253 §7.1) to `names`, in that order.
    /// The client's preference decides among them (its first cipher the server also offers).
    /// The names are validated once, where the configuration is read (`SSHCiphers.unsupported`).
    public func restrictCiphers(to names: [String]) throws(SSHError) {
        let list = names.joined(separator: ",")
        guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_CIPHERS_C_S, list) == SSH_OK,
              ssh_bind_options_set(bind, SSH_BIND_OPTIONS_CIPHERS_S_C, list) == SSH_OK else {
            throw .setup("libssh refused the cipher list \(list)")
        }
    }

    /// Attaches an accepted TCP connection to `session` (libssh owns the descriptor afterwards).
    func accept(descriptor: Int32, into session: OpaquePointer) -> Bool {
        acceptLock.lock()
        defer { acceptLock.unlock() }
        return ssh_bind_accept_fd(bind, session, descriptor) == SSH_OK
    }

    /// Writes a new private key (OpenSSH format, mode 0600), e.g. for the quick start.
    public static func generate(_ kind: Kind, at path: String) throws(SSHError) {
        var key: OpaquePointer?
        guard ssh_pki_generate(kind.keyType, kind.bits, &key) == SSH_OK, let key else {
            throw .generate(path: path, reason: "key generation failed")
        }
        defer { ssh_key_free(key) }
        let previous = umask(0o077)
        defer { umask(previous) }
        guard ssh_pki_export_privkey_file(key, nil, nil, nil, path) == SSH_OK else {
            throw .generate(path: path, reason: "cannot write the file")
        }
    }
}
