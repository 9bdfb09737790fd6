//! The mias pipeline: the pieces the `mias` application composes into experiments, usable
//! from other programs too.
//!
//! Methods, each in its own module on top of the shared pieces, each with a `method` module
//! (what `reproduce` does with it: configured, run, written, recorded) and a `record` module
//! (its part of `run.json`):
//! - [`paper`]: the paper's method (a head per frozen backbone, averaged), under the paper's
//!   protocol, a split by image, and the leakage-free one, each beside a permutation control;
//!   and the leak sweep (copies and augmentation strength against the paper protocol's figures).
//! - [`lesion`]: dense maps of the whole film, a cell classifier learnt on Info.txt's lesion
//!   discs, images scored by their hottest cells (leakage-free protocol, nested selection).
//!
//! Above both methods:
//! - [`record`]: the run record, `run.json` (the run's own fields and each method's record),
//!   written and read back.
//! - [`html`]: a finished run's `report.html`, built from its files; the page of one film
//!   (`predict --html`).
//!
//! Shared by every method:
//! - [`prepare`]: what a run settles first: the dataset opened and checked, each backbone's
//!   weights found, the feature cache's place.
//! - [`members`]: which weight file and flavor each backbone runs with, or why it cannot run;
//!   the [`Model`](members::Model) a table row is about.
//! - [`runner`]: the one path from a film to a backbone's pooled features or dense map.
//! - [`cache`]: frozen-backbone features and dense maps stored once per key (backbone, weights,
//!   flavor, working frame, code version, and what the entry holds); a damaged entry is
//!   computed again.
//! - [`extract`]: features of augmented views through the cache.
//! - [`compare`]: paired comparisons of two named columns of out-of-fold film scores
//!   (`comparisons.csv`): AUCs and their difference on every population, bootstrap over women.
//! - [`labels`]: the labels an experiment learns: real, or permuted over women (the control).
//! - [`inference`]: what the methods share to answer for a new mammogram: the image read into
//!   the working frame, the members' probabilities and their mean.
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
pub mod prepare;
pub mod progress;
pub mod record;
pub mod runner;
pub mod shard;
pub mod staging;
