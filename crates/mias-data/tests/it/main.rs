//! Integration tests of mias-data: against Keras's augmentation, on the real Mini-MIAS files
//! when `../shared` is present, and on deliberately broken inputs.

mod augment_keras;
mod bad_input;
#[cfg(feature = "collections")]
mod collection;
mod common;
#[cfg(feature = "dicom")]
mod dicom;
#[cfg(feature = "fetch")]
mod fetch;
mod lesion_cells;
#[cfg(feature = "collections")]
mod manifest;
#[cfg(feature = "dicom")]
mod pydicom_files;
mod real_data;
mod resize_pillow;
