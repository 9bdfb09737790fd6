//! Mini-MIAS for Rust: the label table parsed right, the images verified and loaded lazily,
//! splits that keep each woman on one side, seeded Keras-style augmentation, and the
//! preprocessing each ImageNet backbone expects; for the lesion method, breast masks
//! ([`mask`]) and the cell grid with Info.txt's lesion discs rasterised on it ([`cells`]).
//!
//! ```no_run
//! use mias_data::{Dataset, LabelVariant, split};
//!
//! # fn main() -> mias_data::Result<()> {
//! let ds = Dataset::open("../shared/data/mini-mias")?; // verifies all 322 images
//! let summary = ds.summary(LabelVariant::Official);
//! assert_eq!((summary.normal, summary.abnormal), (207, 115));
//! let folds = split::patient_folds(ds.records(), LabelVariant::Official, 5, 42)?;
//! let (train, test) = folds[0].items();
//! assert!(split::audit(&[("train", &train), ("test", &test)]).is_clean());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod augment;
pub mod cells;
pub mod dataset;
pub mod error;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod info;
pub mod mask;
pub mod pgm;
pub mod preprocess;
pub mod split;

pub use cells::{CellGrid, CellLabel, CellMap, Disc, cell_labels, lesion_discs};
pub use dataset::{Dataset, ImageFormat, OpenOptions};
pub use error::{Error, Result};
pub use info::{
    AbnormalityClass, ImageId, ImageRecord, InfoTable, Label, LabelVariant, Lesion, PatientId,
    Pixel, Severity, Side, Summary, Tissue,
};
pub use mask::{BreastMask, MaskParams};
/// The seed convention of every random draw (re-exported from `mias-core`): ChaCha8 streams
/// keyed by `(seed, tag, indices)`, with draws that stay the same across `rand` releases.
pub use mias_core::rng;
