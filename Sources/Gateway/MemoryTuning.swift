internal import CProcessShims

/// Process-wide memory settings, applied once at startup before any thread starts.
enum MemoryTuning {
    /// Upload parts and transfer buffers are large blocks: keep them mmapped so that freeing one
    /// returns it to the system, and the resident size stays within the per-upload bound
    /// `part_size × (upload_concurrency + 1)`.
    static func apply() {
        _ = ferry_set_mmap_threshold(1 << 20)
    }
}
