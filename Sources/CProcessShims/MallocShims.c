#include "CProcessShims.h"
#include <malloc.h>

int ferry_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}
