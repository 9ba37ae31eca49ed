#ifndef FERRY_CSHIMS_H
#define FERRY_CSHIMS_H
// Typed C wrappers for C APIs that Swift cannot call well directly. Each has a one-line reason.
#include <stddef.h>

/// Hashes `phrase` with the setting/hash `setting` (crypt(3)) into `out`.
/// Why: `struct crypt_data` is a 32 KiB struct of fixed arrays (a huge tuple in Swift);
/// this keeps it on the C heap and zeroes it afterwards. Returns 0 on success, -1 on failure.
int ferry_crypt(const char *phrase, const char *setting, char *out, size_t out_len);

/// Writes a fresh salt/setting string for `prefix` (e.g. "$y$") into `out` using the OS's
/// random source. Why: `crypt_gensalt_rn` needs NULL random bytes passed explicitly.
/// Returns 0 on success, -1 on failure.
int ferry_crypt_gensalt(const char *prefix, unsigned long cost, char *out, size_t out_len);

#endif

// ---- libcurl: curl_easy_setopt / curl_easy_getinfo are variadic (https://curl.se/libcurl/c/curl_easy_setopt.html)
#include <curl/curl.h>

CURLcode ferry_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ferry_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ferry_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode ferry_curl_setopt_write_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_header_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_read_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ferry_curl_setopt_seek_function(CURL *handle, int (*function)(void *, curl_off_t, int));
CURLcode ferry_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
/// CURL_WRITEFUNC_PAUSE / CURL_READFUNC_ABORT are macros.
size_t ferry_curl_readfunc_abort(void);

// ---- glibc malloc tuning: mallopt and M_MMAP_THRESHOLD come from <malloc.h>, not in Swift's Glibc.
/// Fixes the mmap threshold at `bytes`: larger blocks are always mmapped and returned to the system
/// when freed (glibc otherwise raises the threshold after the first large free). Returns 1 on success.
int ferry_set_mmap_threshold(int bytes);

// ---- OpenSSL: configuration macros (SSL_CTX_set_mode, …) and the self-signed certificate recipe.
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

/* libFuzzer's driver (LLVM libclang_rt.fuzzer): linked only into `make fuzz` builds, where
   `ferry fuzz` calls it (Sources/Gateway/Fuzzing/FuzzCommand.swift). */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
