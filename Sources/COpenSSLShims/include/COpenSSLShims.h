#ifndef FERRY_COPENSSLSHIMS_H
#define FERRY_COPENSSLSHIMS_H
// OpenSSL: configuration macros (SSL_CTX_set_mode, …) Swift cannot call, and the self-signed
// certificate recipe. Only Protocols/TLS uses these.
#include <openssl/ssl.h>

/// TLS ≥ min_version (TLS1_2_VERSION / TLS1_3_VERSION), partial writes with a moving buffer (our
/// writes are non-blocking), a server-side session cache keyed by `id_context` (data connections
/// resume the control connection's session). Returns 1 on success.
int ferry_ssl_ctx_configure(SSL_CTX *ctx, int min_version, const unsigned char *id_context, unsigned int id_length);
/// SSL_get_cipher_name is a macro.
const char *ferry_ssl_cipher_name(const SSL *ssl);
/// Generates an ECDSA P-256 key and a self-signed X.509 certificate for `common_name` valid for
/// `days`, written as PEM to the two paths (the key file with mode 0600). Returns 1 on success.
int ferry_generate_self_signed(const char *certificate_path, const char *key_path, const char *common_name, int days);

#endif
