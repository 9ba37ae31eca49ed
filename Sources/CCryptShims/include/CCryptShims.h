#ifndef FERRY_CCRYPTSHIMS_H
#define FERRY_CCRYPTSHIMS_H
// libxcrypt calls Swift cannot make well directly; only Auth/PasswordHash.swift uses them.
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
