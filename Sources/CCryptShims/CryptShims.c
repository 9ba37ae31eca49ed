#include "CCryptShims.h"
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

int ferry_crypt(const char *phrase, const char *setting, char *out, size_t out_len) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return -1;
    char *result = crypt_rn(phrase, setting, data, (int)sizeof(struct crypt_data));
    int rc = -1;
    // crypt_rn returns NULL or a string starting with '*' on failure (invalid setting).
    if (result != NULL && result[0] != '*') {
        size_t n = strlen(result);
        if (n + 1 <= out_len) {
            memcpy(out, result, n + 1);
            rc = 0;
        }
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return rc;
}

int ferry_crypt_gensalt(const char *prefix, unsigned long cost, char *out, size_t out_len) {
    char *result = crypt_gensalt_rn(prefix, cost, NULL, 0, out, (int)out_len);
    return (result == NULL || result[0] == '*') ? -1 : 0;
}
