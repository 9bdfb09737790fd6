//! Integration tests of mias-data: against Keras's augmentation, on the real Mini-MIAS files
//! when `../shared` is present, and on deliberately broken inputs.

mod augment_keras;
mod bad_input;
mod collection;
mod common;
mod dicom;
mod fetch;
mod lesion_cells;
mod manifest;
mod real_data;
mod resize_pillow;
