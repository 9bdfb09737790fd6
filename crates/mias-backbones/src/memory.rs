//! How the process's allocator treats the large buffers of a forward pass.
//!
//! Every layer's output is a fresh `Vec` of tens to hundreds of MiB at batch 8, freed one or two
//! layers later. glibc serves blocks above its mmap threshold (dynamic, at most 32 MiB) with a
//! private mapping of their own and unmaps them at `free`, so the next layer's output is mapped
//! again and the kernel zero-fills every page of it on first touch: 10% of MobileNetV2's and 12%
//! of Xception's forward pass at batch 8 went to `clear_page` alone. [`reuse_freed_buffers`] raises
//! the threshold so that such blocks come from the heap and go back to it, to be handed out
//! again without the kernel.
//!
//! The threshold only governs the main arena. A thread other than the first gets an arena of
//! its own, built of heaps of at most 64 MiB, and a block that does not fit one is mapped and
//! unmapped like before whatever the threshold; the forward passes run on a rayon worker
//! (`models::OnPool`), so their outputs were exactly such blocks (a cold `reproduce`
//! made about 80 `mmap`/`munmap` pairs a second, and `clear_page` was 9% of its profile). So
//! the call also limits the process to one arena: every thread allocates from the main heap.

/// Blocks up to this size come from the heap (and return to it), not from a mapping each.
pub const HEAP_BLOCK_LIMIT: usize = 1 << 30;

/// Asks glibc to keep the large blocks a forward pass frees for the next allocations instead of
/// returning them to the kernel: blocks up to [`HEAP_BLOCK_LIMIT`] come from the heap, and up
/// to that much free memory at its top stays mapped (`M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD`),
/// and every thread allocates from that one heap (`M_ARENA_MAX` 1). Call it before the process
/// starts other threads: a thread that has already allocated keeps its own arena.
///
/// The setting is process-wide and costs memory that stays resident after the last forward
/// pass (up to the peak the process reached, at most [`HEAP_BLOCK_LIMIT`] of it free), which is
/// why the library never calls it itself: binaries that run many forward passes (the `mias`
/// command, the benchmarks) call it once at start. Returns whether the three settings were taken;
/// `false`, and nothing changed, off glibc.
pub fn reuse_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let limit = libc::c_int::try_from(HEAP_BLOCK_LIMIT).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes the allocator's thresholds; blocks already handed out
        // keep their kind and are freed as before.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, limit) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, limit) == 1
                && libc::mallopt(libc::M_ARENA_MAX, 1) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
