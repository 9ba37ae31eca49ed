internal import CLibSSH

/// SSH cipher names (RFC 4253 §6.3, RFC 5647, OpenSSH's PROTOCOL.chacha20poly1305) an operator may
/// restrict `[sftp] ciphers` to, e.g. to AES-GCM only: on x86 with AES-NI, AES-GCM costs clients
/// and Ferry far less CPU per byte than ChaCha20-Poly1305, which OpenSSH clients prefer by default.
public enum SSHCiphers {
    /// The names in `names` this libssh build cannot use (each is tried alone on a scratch bind,
    /// because libssh silently drops unknown names from a list that has one it knows), and the weak
    /// ones Ferry never offers (`SSHAlgorithms.isWeakCipher`).
    public static func unsupported(_ names: [String]) -> [String] {
        guard let scratch = ssh_bind_new() else { return names }
        defer { ssh_bind_free(scratch) }
        return names.filter { name in
            name.isEmpty || name.contains(",") || SSHAlgorithms.isWeakCipher(name)
                || ssh_bind_options_set(scratch, SSH_BIND_OPTIONS_CIPHERS_C_S, name) != SSH_OK
        }
    }
}
