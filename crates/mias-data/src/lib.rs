//! Mini-MIAS for Rust: label parsing, verified loading, patient-grouped splits,
//! seeded augmentation and backbone preprocessing. (Work in progress.)
#![warn(missing_docs)]
