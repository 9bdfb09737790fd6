//! How the process's allocator treats the large buffers of a forward pass.
//!
//! Every layer's output is a fresh `Vec` of tens to hundreds of MiB at batch 8, freed one or two
//! layers later. glibc serves blocks above its mmap threshold (dynamic, at most 32 MiB) with a
//! private mapping of their own and unmaps them at `free`, so the next layer's output is mapped
//! again and the kernel zero-fills every page of it on first touch: 10% of MobileNetV2's and 12%
//! of Xception's forward pass at batch 8 went to `clear_page` alone. [`reuse_freed_buffers`] raises
//! the threshold so that such blocks come from the heap and go back to it, to be handed out
//! again without the kernel.

/// Blocks up to this size come from the heap (and return to it), not from a mapping each.
pub const HEAP_BLOCK_LIMIT: usize = 1 << 30;

/// Asks glibc to keep the large blocks a forward pass frees for the next allocations instead of
/// returning them to the kernel: blocks up to [`HEAP_BLOCK_LIMIT`] come from the heap, and up
/// to that much free memory at its top stays mapped (`M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD`).
///
/// The setting is process-wide and costs memory that stays resident after the last forward
/// pass (up to the peak the process reached, at most [`HEAP_BLOCK_LIMIT`] of it free), which is
/// why the library never calls it itself: binaries that run many forward passes (the `mias`
/// command, the benchmarks) call it once at start. Returns whether both settings were taken;
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
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes glibc holds in blocks mapped one by one (`hblkhd` of `mallinfo2`).
    fn mapped_bytes() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        unsafe { libc::mallinfo2() }.hblkhd
    }

    /// A 48 MiB block (above glibc's largest dynamic mmap threshold, 32 MiB) is a mapping of its
    /// own by default; after the call it comes from the heap, and the mapped total does not grow
    /// by it.
    #[test]
    fn large_blocks_come_from_the_heap() {
        const BLOCK: usize = 48 << 20;
        let before = mapped_bytes();
        let v = vec![1u8; BLOCK];
        let grown_by_default = mapped_bytes().saturating_sub(before);
        drop(v);
        assert!(reuse_freed_buffers(), "mallopt refused a setting");
        let before = mapped_bytes();
        let v = vec![1u8; BLOCK];
        let grown_after = mapped_bytes().saturating_sub(before);
        drop(v);
        assert!(
            grown_by_default >= BLOCK,
            "the default already kept a {BLOCK}-byte block off its own mapping (+{grown_by_default})"
        );
        assert!(
            grown_after < BLOCK,
            "a {BLOCK}-byte block still got its own mapping (+{grown_after})"
        );
    }
}
