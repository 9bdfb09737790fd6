//! The mias pipeline: the pieces the `mias` application composes into experiments, usable
//! from other programs too.
//!
//! Methods, each in its own module on top of the shared pieces:
//! - [`paper`]: the paper's method (a head per frozen backbone, averaged), under the paper's
//!   protocol, a split by image, and the leakage-free one, each beside a permutation control;
//!   and the leak sweep (copies and augmentation strength against the paper protocol's figures).
//! - [`lesion`]: dense maps of the whole film, a cell classifier learnt on Info.txt's lesion
//!   discs, images scored by their hottest cells (leakage-free protocol, nested selection).
//!
//! Shared by every method:
//! - [`config`]: the experiment's hyper-parameters (`data/configs/paper.toml`), checked.
//! - [`members`]: which weight file and flavor each backbone runs with, or why it cannot run;
//!   the [`Model`](members::Model) a table row is about.
//! - [`cache`]: frozen-backbone features stored once per (backbone, weights, flavor,
//!   preprocessing, augmentation, seed, image, view); a damaged entry is computed again.
//! - [`extract`]: features of augmented views through the cache.
//! - [`compare`]: paired comparisons of two named columns of out-of-fold film scores
//!   (`comparisons.csv`): AUCs and their difference on every population, bootstrap over women.
//! - [`labels`]: the labels an experiment learns: real, or permuted over women (the control).
//! - [`record`]: the run record, `run.json`, written and read back.
//! - [`html`]: a finished run's `report.html`, built from its files; the page of one film
//!   (`predict --html`).
//! - [`inference`]: a finished run's backbones applied to a new mammogram.
//! - [`shard`]: `--shard I/N`, one machine's share of the feature work.
//! - [`staging`]: a run's files staged beside its output directory and installed whole;
//!   leftovers of killed runs removed.
//! - [`progress`]: progress of long steps.
//! - [`fault`]: fault points for the tests that kill a run part-way.
//!
//! Every output file is written through `mias_core::fs::write_atomic` (whole or not at all,
//! synced, with the usual permissions), and every random draw comes from `mias_core::rng`.

#![warn(missing_docs)]

mod by_name;
pub mod cache;
pub mod compare;
pub mod extract;
pub mod fault;
pub mod html;
pub mod inference;
pub mod labels;
pub mod lesion;
pub mod members;
pub mod paper;
pub mod progress;
pub mod record;
pub mod runner;
pub mod shard;
pub mod staging;
