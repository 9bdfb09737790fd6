//! Seeded randomness that gives the same numbers on every machine and every version of
//! `rand`: one ChaCha8 key per seed, one ChaCha stream per purpose, and the few
//! distributions the crate needs written out here on raw 32- and 64-bit words.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// What a random stream is used for; each purpose draws from its own ChaCha stream, so
/// changing, say, the dropout rate leaves the initial weights and batch order unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Initial weights of the head.
    Init,
    /// The order of the training samples in each epoch.
    Shuffle,
    /// Dropout masks.
    Dropout,
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Stream::Init => 0,
            Stream::Shuffle => 1,
            Stream::Dropout => 2,
        }
    }
}

/// The ChaCha8 generator for `seed` and `stream`.
///
/// The key is the seed's 8 little-endian bytes followed by 24 zero bytes, a layout fixed
/// here rather than left to `SeedableRng::seed_from_u64`.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut r = ChaCha8Rng::from_seed(key);
    r.set_stream(stream.id());
    r
}

/// A uniform draw in `[0, 1)` with 24 random bits: the top 24 bits of one 32-bit word,
/// scaled by 2^-24.
pub fn unit_f32(rng: &mut impl RngCore) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform integer in `[0, bound)` by rejection of the biased top zone; `bound > 0`.
pub fn below(rng: &mut impl RngCore, bound: u64) -> u64 {
    debug_assert!(bound > 0);
    // Largest multiple of `bound` that fits in u64 arithmetic: reject draws at or above it.
    let zone = u64::MAX - (u64::MAX - bound + 1) % bound;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % bound;
        }
    }
}

/// Shuffles `items` in place by Fisher-Yates, drawing with [`below`].
pub fn shuffle<T>(items: &mut [T], rng: &mut impl RngCore) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u32> = (0..4).map(|_| rng(5, Stream::Init).next_u32()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut i = rng(5, Stream::Init);
        let mut s = rng(5, Stream::Shuffle);
        let mut other = rng(6, Stream::Init);
        let (x, y, z) = (i.next_u64(), s.next_u64(), other.next_u64());
        assert_ne!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn unit_f32_stays_in_range_and_has_the_right_mean() {
        let mut r = rng(1, Stream::Dropout);
        let n = 100_000;
        let mut sum = 0.0f64;
        for _ in 0..n {
            let u = unit_f32(&mut r);
            assert!((0.0..1.0).contains(&u));
            sum += u as f64;
        }
        // Standard error of the mean is 1/sqrt(12 n) ~ 0.0009: 5 sigma.
        assert!((sum / n as f64 - 0.5).abs() < 0.0046);
    }

    #[test]
    fn below_is_uniform_and_in_range() {
        let mut r = rng(2, Stream::Shuffle);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[below(&mut r, 3) as usize] += 1;
        }
        // Each count ~ Binomial(30000, 1/3): sd ~ 82; allow 5 sd.
        for c in counts {
            assert!((c as i64 - 10_000).abs() < 410, "{counts:?}");
        }
        assert_eq!(below(&mut r, 1), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..50).collect();
        shuffle(&mut v, &mut rng(3, Stream::Shuffle));
        assert_ne!(v, (0..50).collect::<Vec<_>>());
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
