//! The conventions every mias crate shares, in one small crate that each of them may depend on
//! (so mias-data, mias-backbones, mias-train and mias-eval stay usable alone):
//!
//! - [`fs`]: files appear whole or not at all ([`fs::write_atomic`]): a temporary file beside
//!   the target, created with the usual permissions (`0o666` less the umask), written, synced,
//!   renamed over the target, and the directory synced where the platform allows.
//! - [`rng`]: one seed convention. Every random draw comes from a ChaCha8 stream keyed by
//!   `(seed, tag, indices)` ([`rng::derived`]), through draws written out here on raw words so
//!   a recorded seed gives the same numbers with every release of `rand`.
//! - [`Normalisation`]: how `0..=255` pixel values become network inputs (Keras's `caffe`, `tf`
//!   and `torch` modes), shared by the preprocessing of mias-data and the backbones of
//!   mias-backbones.
//! - `safetensors` (feature `safetensors`): safetensors files whose header lists its metadata
//!   in sorted order, so the same content gives the same bytes.
//! - [`skip`]: how a test that needs files from outside the repository says it did not run
//!   (`SKIPPED`, visible in `cargo test`'s output), and fails instead under
//!   `MIAS_REQUIRE_DATA=1`.
//!
//! # Example
//! ```
//! use mias_core::rng::{self, RngCore};
//! use mias_core::{Normalisation, fs};
//!
//! # fn main() -> mias_core::Result<()> {
//! // The same seed, tag and indices give the same stream; another index another stream.
//! let a = rng::derived(7, "augment", &[12, 0]).next_u64();
//! assert_eq!(a, rng::derived(7, "augment", &[12, 0]).next_u64());
//! assert_ne!(a, rng::derived(7, "augment", &[12, 1]).next_u64());
//!
//! let norm: Normalisation = "tf".parse()?;
//! assert_eq!(norm.affine()[0], (1.0 / 127.5, -1.0));
//!
//! let dir = std::env::temp_dir().join(format!("mias-core-doc-{}", std::process::id()));
//! let path = dir.join("out.txt");
//! fs::write_atomic(&path, b"whole or nothing")?;
//! assert_eq!(std::fs::read(&path).unwrap(), b"whole or nothing");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod error;
pub mod fs;
mod normalisation;
pub mod rng;
#[cfg(feature = "safetensors")]
pub mod safetensors;
pub mod skip;

pub use error::{Error, Result};
pub use normalisation::Normalisation;
