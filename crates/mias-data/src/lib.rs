//! Mini-MIAS for Rust: the label table parsed right, the images verified and loaded lazily,
//! splits that keep each woman on one side, seeded Keras-style augmentation, and the
//! preprocessing each ImageNet backbone expects; for the lesion method, breast masks
//! ([`mask`]) and the cell grid with Info.txt's lesion discs rasterised on it ([`cells`]).
//! Beyond Mini-MIAS: any collection described by a [`Manifest`] (`manifest.csv`), CBIS-DDSM's
//! case-description CSVs and DICOM tree ([`cbis`]) or VinDr-Mammo's tables ([`vindr`]) read
//! into one, opened for the pipeline by [`Dataset::open`] ([`collection`]), and DICOM,
//! JPEG, TIFF, PNG and PGM files through one [`load_image`] / [`load_mammogram`] entry (see
//! [`image_file`], `dicom`, [`window`]).
//!
//! Features (all on by default; `default-features = false` leaves the Mini-MIAS core: Info.txt,
//! the dataset and its checksums, splits, augmentation, preprocessing, masks and cells, PGM and
//! PNG files): `dicom` (the `dicom` module and DICOM files), `jpeg` and `tiff` (those files),
//! `collections` (`manifest.csv`, the `cbis` and `vindr` modules; needs `dicom`) and `fetch`
//! (the `fetch` module). A file whose format is off is an error naming the feature.
//!
//! A tiny generated dataset in the Mini-MIAS layout (two women, one abnormal film with a lesion
//! given in Info.txt's bottom-left coordinates):
//!
//! ```
//! use mias_data::info::mdb;
//! use mias_data::{Dataset, LabelVariant, OpenOptions, split};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("mias-data-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(
//!     dir.join("Info.txt"),
//!     "mdb001 F NORM \nmdb002 F NORM \nmdb003 G CIRC B 30 40 8\nmdb004 D NORM \n",
//! )?;
//! for n in 1..=4 {
//!     image::GrayImage::from_pixel(64, 64, image::Luma([100]))
//!         .save(dir.join(format!("mdb{n:03}.png")))?;
//! }
//! // Generated data is not the official set: no checksum verification, any image size.
//! let options = OpenOptions { official: false, side: None };
//! let ds = Dataset::open_with(&dir, &options)?;
//! let summary = ds.summary(LabelVariant::Official);
//! assert_eq!((summary.images, summary.normal, summary.abnormal), (4, 3, 1));
//! let lesion = &ds.record(mdb(3)?)?.lesions[0];
//! assert_eq!(lesion.centre.map(|p| (p.row, p.col)), Some((1023 - 40, 30))); // top-left origin
//! assert_eq!(ds.image(mdb(1)?)?.dimensions(), (64, 64));
//!
//! // Two folds grouped by woman: both breasts of a woman always on the same side.
//! let folds = split::patient_folds(ds.records(), ds.labelling(LabelVariant::Official), 2, 42)?;
//! let (train, test) = folds[0].items();
//! assert!(split::audit(ds.records(), &[("train", &train), ("test", &test)]).is_clean());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! The real data (`Dataset::open` verifies all 322 images against the committed checksums):
//!
//! ```no_run
//! # fn main() -> mias_data::Result<()> {
//! let ds = mias_data::Dataset::open("../shared/data/mini-mias")?;
//! let summary = ds.summary(mias_data::LabelVariant::Official);
//! assert_eq!((summary.normal, summary.abnormal), (207, 115));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod augment;
#[cfg(feature = "collections")]
pub mod cbis;
pub mod cells;
pub mod collection;
#[cfg(feature = "collections")]
mod csv_table;
pub mod dataset;
#[cfg(feature = "dicom")]
pub mod dicom;
pub mod error;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod image_file;
pub mod info;
pub mod manifest;
pub mod mask;
pub mod pgm;
pub mod preprocess;
pub mod split;
#[cfg(feature = "collections")]
pub mod vindr;
pub mod window;

pub use cells::{CellGrid, CellLabel, CellMap, Disc, cell_labels, lesion_discs};
pub use collection::CollectionKind;
pub use dataset::{Dataset, ImageFormat, OpenOptions};
pub use error::{Error, Result};
pub use image_file::{FileFormat, LoadOptions, Mammogram, load_image, load_mammogram};
pub use info::{
    AbnormalityClass, ImageId, ImageRecord, InfoTable, Label, LabelVariant, Labelling, Lesion,
    PatientId, Pixel, Severity, Side, Subset, Summary, Tissue,
};
pub use manifest::{Manifest, ManifestImage, ManifestSummary, View};
pub use mask::{BreastMask, MaskParams};
/// The seed convention of every random draw (re-exported from `mias-core`): ChaCha8 streams
/// keyed by `(seed, tag, indices)`, with draws that stay the same across `rand` releases.
pub use mias_core::rng;
