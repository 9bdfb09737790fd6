//! The subcommands of `mias`, one module each: `Args` (clap) and `run`.

pub mod augment;
pub mod dataset;
pub mod fetch_data;

use std::path::{Path, PathBuf};

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

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
