//! The subcommands of `mias`, one module each: `Args` (clap) and `run`.

pub mod augment;
pub mod dataset;
pub mod features;
pub mod fetch_data;
pub mod predict;
pub mod reproduce;

use std::path::Path;

use anyhow::Context;

/// Where `fetch-data` puts the dataset and other commands look for it by default.
pub const DEFAULT_DATA_DIR: &str = "data/mini-mias";

/// Opens the dataset at `dir` (verified), with advice when it is missing.
pub fn open_dataset(dir: &Path) -> anyhow::Result<mias_data::Dataset> {
    if !dir.exists() {
        anyhow::bail!(
            "no dataset at {}: run `cargo xtask fetch-data` (offline: `cargo xtask fetch-data \
             --from ../shared/data/mini-mias`), or pass --data DIR",
            dir.display()
        );
    }
    mias_data::Dataset::open(dir).with_context(|| format!("opening the dataset {}", dir.display()))
}
