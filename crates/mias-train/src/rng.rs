//! The random streams of head training, under the seed convention of `mias-core`: each
//! purpose draws from its own stream `mias_core::rng::derived(seed, tag, &[])`, so changing,
//! say, the dropout rate leaves the initial weights and the batch order unchanged, and one
//! seed gives bit-identical heads and histories on every machine.
//!
//! The draws themselves (`unit_f32` for weights and dropout masks, `shuffle` for the batch
//! order) are `mias-core`'s, written on raw words so they do not change with `rand`.

pub use mias_core::rng::{Rng, RngCore};

/// What a random stream is used for.
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
    /// The tag of this stream in [`mias_core::rng::derived`].
    pub fn tag(self) -> &'static str {
        match self {
            Stream::Init => "head-init",
            Stream::Shuffle => "head-shuffle",
            Stream::Dropout => "head-dropout",
        }
    }
}

/// The generator for `seed` and `stream`: `mias_core::rng::derived(seed, stream.tag(), &[])`.
pub fn rng(seed: u64, stream: Stream) -> Rng {
    mias_core::rng::derived(seed, stream.tag(), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_follow_the_shared_convention_and_differ() {
        let mut i = rng(5, Stream::Init);
        assert_eq!(
            i.next_u64(),
            mias_core::rng::derived(5, "head-init", &[]).next_u64()
        );
        let x = rng(5, Stream::Init).next_u64();
        assert_eq!(x, rng(5, Stream::Init).next_u64());
        for other in [
            rng(5, Stream::Shuffle),
            rng(5, Stream::Dropout),
            rng(6, Stream::Init),
        ] {
            let mut other = other;
            assert_ne!(x, other.next_u64());
        }
    }
}
