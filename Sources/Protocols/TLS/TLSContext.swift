internal import COpenSSL
internal import COpenSSLShims
import Foundation

/// An OpenSSL failure, with the whole error queue drained into `detail` (for the log, never for
/// clients).
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let detail: String
    public var description: String { "\(operation): \(detail)" }

    /// Drains OpenSSL's error queue for this thread.
    static func drain(_ operation: String) -> TLSError {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(operation: operation, detail: messages.isEmpty ? "unknown error" : messages.joined(separator: "; "))
    }
}

/// The server's one shared `SSL_CTX` (design.md §3): certificate chain and key from `[tls]`, TLS ≥ 1.2,
/// a server session cache with a session-id context so that FTPS data connections can resume the
/// control connection's session. `@unchecked Sendable`: after setup the context is only read, which
/// OpenSSL allows from any thread.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    /// `[tls] min_version`.
    public enum MinimumVersion: String, Sendable, CaseIterable { case tls12 = "1.2", tls13 = "1.3" }

    /// TLS 1.2 suites when `[tls] ciphers` is not set: forward secrecy and AEAD only (Mozilla's
    /// "intermediate" list), which FileZilla (GnuTLS), WinSCP, curl and lftp all speak. TLS 1.3 suites
    /// are OpenSSL's defaults, all of them modern.
    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
        + "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

    public init(certificate: String, privateKey: String, minimumVersion: MinimumVersion = .tls12,
                ciphers: String? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .drain("SSL_CTX_new") }
        self.context = context
        guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
            throw .drain("cannot load the certificate chain \(certificate)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKey, SSL_FILETYPE_PEM) == 1 else {
            let error = TLSError.drain("cannot load the private key \(privateKey)")
            if error.detail.contains("key values mismatch") {
                throw TLSError(operation: "the private key \(privateKey) does not match the certificate \(certificate)",
                               detail: error.detail)
            }
            throw error
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .drain("the private key \(privateKey) does not match the certificate \(certificate)")
        }
        let version = switch minimumVersion {
        case .tls12: TLS1_2_VERSION
        case .tls13: TLS1_3_VERSION
        }
        let idContext = Array("ferry-ftps".utf8)
        guard ferry_ssl_ctx_configure(context, version, idContext, UInt32(idContext.count)) == 1 else {
            throw .drain("configuring the TLS context")
        }
        let cipherList = ciphers ?? Self.defaultCiphers
        if SSL_CTX_set_cipher_list(context, cipherList) != 1 {
            throw .drain("invalid cipher list \(cipherList.debugDescription)")
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Loads OpenSSL's error strings and algorithms once at startup (`CLibraries.initialize`)
    /// rather than on whichever thread first makes a context.
    static func initializeLibrary() -> Bool {
        OPENSSL_init_ssl(UInt64(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS), nil) == 1
    }

    /// The certificate's notAfter has passed (startup warns; clients will complain).
    public static func certificateExpired(_ path: String) -> Bool {
        guard let file = fopen(path, "r") else { return false }
        defer { fclose(file) }
        guard let certificate = PEM_read_X509(file, nil, nil, nil) else { return false }
        defer { X509_free(certificate) }
        return X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0
    }

    /// Writes a fresh self-signed certificate and key (quick start), with OpenSSL's API.
    public static func generateSelfSigned(certificate: String, privateKey: String, commonName: String = "localhost") throws(TLSError) {
        guard ferry_generate_self_signed(certificate, privateKey, commonName, 3650) == 1 else {
            throw .drain("generating a self-signed certificate")
        }
    }
}
