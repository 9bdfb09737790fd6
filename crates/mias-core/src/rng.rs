//! One seed convention for every random draw in mias, with the same draws on every machine
//! and every build.
//!
//! A stream is named by the run's recorded seed, a tag saying what it is for, and the indices
//! of the item it serves: [`derived`]`(seed, "augment", &[image, view])`. The key of the
//! ChaCha8 generator is the SHA-256 of those three, so streams for different purposes or
//! items are unrelated, and an item's draws do not depend on the order in which items are
//! processed or on how many other items there are.
//!
//! The generator is ChaCha8 (`rand_chacha`, whose output stream is value-stable). Uniform
//! floats, bounded integers and shuffles are derived here from its raw 32- and 64-bit words
//! rather than through `rand`'s distribution code, whose algorithms may change between
//! releases: a seed written into a run's record must mean the same augmented images, splits,
//! initial weights and bootstrap replicates a year later.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

pub use rand_chacha::rand_core::RngCore;

/// The generator every random draw in mias comes from.
pub type Rng = ChaCha8Rng;

/// The generator for one purpose (`tag`) and one item (`indices`) under the run's `seed`,
/// e.g. `derived(seed, "augment", &[image, view])`. Different tags or indices give unrelated
/// streams; the same arguments always give the same stream.
///
/// The key is SHA-256 of the seed (8 bytes, little-endian), the tag's length (8 bytes,
/// little-endian), the tag's UTF-8 bytes and each index (8 bytes, little-endian).
pub fn derived(seed: u64, tag: &str, indices: &[u64]) -> Rng {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update((tag.len() as u64).to_le_bytes());
    h.update(tag.as_bytes());
    for i in indices {
        h.update(i.to_le_bytes());
    }
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// A seed for a sub-task (a head, a fold) drawn from [`derived`]: the first 64-bit word of
/// that stream.
pub fn derived_seed(seed: u64, tag: &str, indices: &[u64]) -> u64 {
    derived(seed, tag, indices).next_u64()
}

/// A uniform draw from `[0, 1)` with 53 random bits (one 64-bit word).
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform `f32` draw from `[0, 1)` with 24 random bits: the top 24 bits of one 32-bit
/// word, scaled by 2^-24.
pub fn unit_f32(rng: &mut impl RngCore) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform draw from `[lo, hi)`; `lo` when the interval is empty.
pub fn uniform(rng: &mut impl RngCore, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// A uniform integer in `0..n` (`n > 0`) from one 64-bit word by widening multiplication
/// (bias below `n / 2^64`, far below anything measurable here).
pub fn below(rng: &mut impl RngCore, n: usize) -> usize {
    debug_assert!(n > 0);
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Fisher-Yates shuffle driven by [`below`].
pub fn shuffle<T>(items: &mut [T], rng: &mut impl RngCore) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chacha8_stream_is_the_published_one() {
        // ChaCha8 with an all-zero key, nonce 0: keystream block 0 starts with the bytes
        // 3e 00 ef 2f 89 5f 40 d6 (the published ChaCha8 test vector), i.e. u32 0x2fef003e
        // little-endian.
        let mut rng = ChaCha8Rng::from_seed([0; 32]);
        assert_eq!(rng.next_u32(), 0x2fef_003e);
    }

    #[test]
    fn the_key_is_sha256_of_seed_tag_and_indices() {
        // Independent reference (Python's hashlib):
        //   sha256(pack('<Q', 7) + pack('<Q', 7) + b'augment' + pack('<QQ', 1, 0)).hexdigest()
        let expected = "2a38ad561716322a0d6d40493c2a01196b4883d68806cb87493605856d99258b";
        let key: String = derived(7, "augment", &[1, 0])
            .get_seed()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key, expected);
    }

    #[test]
    fn same_arguments_same_stream_and_others_separate() {
        let x = derived(7, "augment", &[1, 0]).next_u64();
        assert_eq!(x, derived(7, "augment", &[1, 0]).next_u64());
        let others = [
            derived(7, "augment", &[1, 1]).next_u64(),
            derived(7, "split", &[1, 0]).next_u64(),
            derived(8, "augment", &[1, 0]).next_u64(),
            derived(7, "augment", &[1]).next_u64(),
            // The tag's length is hashed: ("ab", [..]) and ("a", ..."b"...) cannot collide.
            derived(7, "augmen", &[1, 0]).next_u64(),
        ];
        for o in others {
            assert_ne!(x, o);
        }
        assert_eq!(
            derived_seed(3, "head", &[0, 2]),
            derived(3, "head", &[0, 2]).next_u64()
        );
    }

    #[test]
    fn unit_and_unit_f32_take_the_top_bits() {
        // A generator whose words are known: ChaCha8 with the zero key. The first u64 is the
        // first two u32 words, little-endian: 0xd6405f89_2fef003e.
        let mut r = ChaCha8Rng::from_seed([0; 32]);
        let u = unit(&mut r);
        assert_eq!(u, (0xd640_5f89_2fef_003eu64 >> 11) as f64 / 2f64.powi(53));
        let mut r = ChaCha8Rng::from_seed([0; 32]);
        assert_eq!(
            unit_f32(&mut r),
            (0x2fef_003eu32 >> 8) as f32 / 2f32.powi(24)
        );
    }

    #[test]
    fn draws_stay_in_range_and_are_uniform() {
        let mut rng = derived(1, "test", &[]);
        let n = 30_000;
        let mut counts = [0u32; 3];
        let (mut sum, mut sum_f32) = (0.0, 0.0);
        for _ in 0..n {
            let u = uniform(&mut rng, -2.0, 3.0);
            assert!((-2.0..3.0).contains(&u));
            sum += u;
            let v = unit_f32(&mut rng);
            assert!((0.0..1.0).contains(&v));
            sum_f32 += f64::from(v);
            counts[below(&mut rng, 3)] += 1;
        }
        // Means: standard errors 5/sqrt(12 n) ~ 0.0083 and 1/sqrt(12 n) ~ 0.0017; 5 sigma.
        assert!((sum / n as f64 - 0.5).abs() < 0.042, "{}", sum / n as f64);
        assert!((sum_f32 / n as f64 - 0.5).abs() < 0.0084);
        // Each count ~ Binomial(30000, 1/3): sd ~ 82; allow 5 sd.
        for c in counts {
            assert!((i64::from(c) - 10_000).abs() < 410, "{counts:?}");
        }
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn shuffle_permutes() {
        let mut v: Vec<u32> = (0..100).collect();
        shuffle(&mut v, &mut derived(2, "test", &[]));
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
