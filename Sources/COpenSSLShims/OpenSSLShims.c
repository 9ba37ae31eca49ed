#include "COpenSSLShims.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>

int ferry_ssl_ctx_configure(SSL_CTX *ctx, int min_version, const unsigned char *id_context, unsigned int id_length) {
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) return 0;
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    return SSL_CTX_set_session_id_context(ctx, id_context, id_length);
}

const char *ferry_ssl_cipher_name(const SSL *ssl) {
    return SSL_get_cipher_name(ssl);
}

int ferry_generate_self_signed(const char *certificate_path, const char *key_path, const char *common_name, int days) {
    int ok = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    FILE *out = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (kctx == NULL || EVP_PKEY_keygen_init(kctx) <= 0 || EVP_PKEY_CTX_set_group_name(kctx, "P-256") <= 0 ||
        EVP_PKEY_generate(kctx, &key) <= 0) goto done;
    cert = X509_new();
    if (cert == NULL || X509_set_version(cert, 2) != 1) goto done;
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) goto done;
    serial[0] &= 0x7F;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) { BN_free(bn); goto done; }
    BN_free(bn);
    if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) == NULL) goto done;
    if (X509_set_pubkey(cert, key) != 1) goto done;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Ferry quick start", -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1) goto done;
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    char san[300];
    snprintf(san, sizeof san, "DNS:%s,IP:127.0.0.1,IP:::1", common_name);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (ext == NULL) goto done;
    int added = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (added != 1) goto done;
    if (X509_sign(cert, key, EVP_sha256()) <= 0) goto done;
    mode_t old = umask(077);
    out = fopen(key_path, "w");
    umask(old);
    if (out == NULL || PEM_write_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL) != 1) goto done;
    fclose(out);
    out = fopen(certificate_path, "w");
    if (out == NULL || PEM_write_X509(out, cert) != 1) goto done;
    ok = 1;
done:
    if (out != NULL) fclose(out);
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(kctx);
    return ok;
}
