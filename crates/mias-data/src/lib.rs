//! Mini-MIAS for Rust: the label table parsed right, the images verified and loaded lazily,
//! splits that keep each woman on one side, seeded Keras-style augmentation, and the
//! preprocessing each ImageNet backbone expects. Beyond Mini-MIAS: any collection described by
//! a [`Manifest`] (`manifest.csv`), and DICOM, JPEG, TIFF, PNG and PGM files through one
//! [`load_image`] / [`load_mammogram`] entry (see [`image_file`], [`dicom`], [`window`]).
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
pub mod dataset;
pub mod dicom;
pub mod error;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod image_file;
pub mod info;
pub mod manifest;
pub mod pgm;
pub mod preprocess;
pub mod rng;
pub mod split;
pub mod window;

pub use dataset::{Dataset, ImageFormat, OpenOptions};
pub use error::{Error, Result};
pub use image_file::{FileFormat, LoadOptions, Mammogram, load_image, load_mammogram};
pub use info::{
    AbnormalityClass, ImageId, ImageRecord, InfoTable, Label, LabelVariant, Lesion, PatientId,
    Pixel, Severity, Side, Summary, Tissue,
};
pub use manifest::{Manifest, ManifestImage, ManifestSummary, View};
