//! The process's allocator: mimalloc, told never to hand freed pages back to the OS.
//!
//! With the system allocator every large tensor is a fresh `mmap`, and page faults, zeroing
//! and TLB-shootdown IPIs took ~40 % of a batch-16 saliency pass; mimalloc reuses freed
//! memory (batch-16 saliency 1.9× faster). It still *purges* freed pages after a delay
//! (`MADV_DONTNEED`), and a saliency pass frees and reallocates ≈ 80 MB of activations per
//! image, so the kernel was still clearing pages (`clear_page_erms`, ~10 % of a batch-10
//! pass). Without purging the freed pages stay mapped for the next layer: 10-crop saliency
//! runs ~8 % faster (docs/performance.md). The cost: the process keeps its peak memory.
//!
//! The C code we link (libjpeg) allocates through glibc's malloc, not through Rust's
//! allocator. Decoding a JPEG allocates its coefficient buffers (~170 KB for a 227 × 227
//! image) and frees them, and glibc then shrinks the heap (`brk`) or unmaps the chunk, so the
//! next image faults the pages in again: 20 % of the decode's time was in the kernel. glibc is
//! told to keep them too (decode 1.27× → 1.05× the old nasm build, docs/performance.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys names no
/// constant for it); -1 turns purging off.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed pages mapped for reuse. Call once at the start of `main`.
pub fn keep_freed_pages() {
    // SAFETY: setting an option is a plain store in mimalloc's option table, allowed at
    // any time from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    // glibc: never trim the heap below 256 MiB, and serve blocks under 64 MiB from it
    // rather than from fresh mappings. SAFETY: mallopt only sets allocator parameters.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
    }
}

#[cfg(test)]
mod tests {
    // Full paths, no `use`: the criterion bench includes this file with `cfg(test)` set
    // but without the test harness, where an import only tests read is unused.
    #[test]
    fn the_option_index_is_mimallocs_purge_delay() {
        // v3's default purge delay is 1000 ms (options.c); a different value means the
        // enum moved and the index names another option.
        // SAFETY: reading an option is a plain load from mimalloc's option table.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000);
        super::keep_freed_pages();
        assert_eq!(get(), -1);
    }
}
