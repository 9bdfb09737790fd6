//! [`reuse_freed_buffers`] in a process of its own (no test harness): the setting has to come
//! before any other thread allocates, as in the binaries that call it, and libtest runs each test
//! on a thread of its own.
//!
//! The measure is glibc's count of bytes in blocks mapped one by one (`hblkhd` of `mallinfo2`,
//! process-wide): a 96 MiB block, more than glibc's largest dynamic mmap threshold (32 MiB) and
//! than a thread arena's heap (64 MiB), is such a mapping by default; after the call it comes
//! from the heap on the main thread, on a new thread and on a rayon worker alike.

use mias_backbones::reuse_freed_buffers;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn main() {
    const BLOCK: usize = 96 << 20;
    fn mapped_bytes() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        unsafe { libc::mallinfo2() }.hblkhd
    }
    /// How much the mapped total grew while a `BLOCK`-byte vector was alive.
    fn mapped_growth() -> usize {
        let before = mapped_bytes();
        let v = std::hint::black_box(vec![1u8; BLOCK]);
        let grown = mapped_bytes().saturating_sub(before);
        drop(v);
        grown
    }

    let by_default = mapped_growth();
    assert!(
        by_default >= BLOCK,
        "the default already kept a {BLOCK}-byte block off its own mapping (+{by_default})"
    );
    assert!(reuse_freed_buffers(), "mallopt refused a setting");
    let main_thread = mapped_growth();
    let new_thread = std::thread::spawn(mapped_growth).join().expect("thread");
    let mut on_worker = usize::MAX;
    rayon::scope(|s| s.spawn(|_| on_worker = mapped_growth()));
    for (place, grown) in [
        ("the main thread", main_thread),
        ("a new thread", new_thread),
        ("a rayon worker", on_worker),
    ] {
        assert!(
            grown < BLOCK,
            "on {place} a {BLOCK}-byte block still got its own mapping (+{grown})"
        );
    }
    println!(
        "allocator: a {BLOCK}-byte block mapped by default (+{by_default}); from the heap after \
         reuse_freed_buffers on the main thread, a new thread and a rayon worker"
    );
}

/// Off glibc the call changes nothing and says so.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    assert!(
        !reuse_freed_buffers(),
        "reuse_freed_buffers claimed a setting off glibc"
    );
    println!("allocator: off glibc, reuse_freed_buffers changes nothing and returns false");
}
