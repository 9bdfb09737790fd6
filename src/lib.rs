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
//!
//! Every output file is written through `mias_core::fs::write_atomic` (whole or not at all,
//! synced, with the usual permissions), and every random draw comes from `mias_core::rng`.

pub mod cache;
pub mod config;
pub mod experiment;
pub mod extract;
pub mod members;
pub mod protocol;
pub mod report;
