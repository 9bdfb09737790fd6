//! The mias pipeline: the pieces the `mias` application composes into experiments, usable
//! from other programs too.
//!
//! - [`cache`]: frozen-backbone features stored once per (backbone, weights, flavor,
//!   preprocessing, augmentation, seed, image, view).
//! - [`config`]: the experiment's hyper-parameters (`data/configs/paper.toml`), checked.
//! - [`protocol`]: the paper's and the leakage-free protocol as plans, run on features.
//! - [`members`]: which weight file and flavor each backbone runs with, or why it cannot run.
//! - [`extract`]: features of augmented views through the cache.
//! - [`experiment`]: the whole experiment (features, protocols, final heads).
//! - [`report`]: metrics, tables, figures and predictions written from an experiment.
//! - [`write_atomic`]: every output file appears whole or not at all.

pub mod cache;
pub mod config;
pub mod experiment;
pub mod extract;
pub mod members;
pub mod protocol;
pub mod report;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// never sees a half-written file and an interrupted run leaves no partial output.
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
