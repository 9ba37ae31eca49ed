#ifndef FERRY_CPROCESSSHIMS_H
#define FERRY_CPROCESSSHIMS_H
// Process-wide C calls of the Gateway: glibc's malloc tuning and libFuzzer's driver.
#include <stddef.h>
#include <stdint.h>

/// Fixes glibc's mmap threshold at `bytes`: larger blocks are always mmapped and returned to the
/// system when freed (glibc otherwise raises the threshold after the first large free).
/// Why: mallopt and M_MMAP_THRESHOLD come from <malloc.h>, which Swift's Glibc module leaves out.
/// Returns 1 on success.
int ferry_set_mmap_threshold(int bytes);

/* libFuzzer's driver (LLVM libclang_rt.fuzzer): linked only into `make fuzz` builds, where
   `ferry fuzz` calls it (Sources/Gateway/Fuzzing/FuzzCommand.swift). */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
