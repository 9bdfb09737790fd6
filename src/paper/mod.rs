//! The paper's method (Laaffat et al.): one dense head per frozen backbone on globally pooled
//! (or flattened) features, their softmax outputs averaged, evaluated under the paper's leaky
//! protocol, a split by image (the other breast leaks) and the leakage-free one, each with
//! real labels and with labels permuted over women.
//!
//! - [`protocol`]: the three protocols as plans of train/val/test items, and the heads trained
//!   and tested on them (one shared per-head body, [`protocol::fit_head`]; a part's heads
//!   train in parallel, [`protocol::fit_heads`]);
//! - [`experiment`]: plans, the union of needed views extracted per member, every protocol
//!   with real and permuted labels, and the final heads (every image) that `predict` applies;
//! - [`report`]: metrics, Table 2, Table 3, figures, predictions.csv and the final heads;
//! - [`leakage`]: what each part's training shared with its test items;
//! - [`method`]: the method as `reproduce` runs it: configured, run and evaluated, written,
//!   recorded;
//! - [`record`]: its part of `run.json` (configuration, seeds, members, heads, timings);
//! - [`predict`](mod@predict): the final heads applied to a new mammogram;
//! - [`sweep`]: the paper protocol over views per image and augmentation strength, real and
//!   permuted labels, beside the honest figure (`leak-sweep`).
//!
//! It builds on the shared pieces of the crate (members, feature cache and extraction,
//! inference, staging); the run record (`crate::record`), the HTML report and the commands
//! build on it.

pub mod config;
pub mod experiment;
pub mod leakage;
pub mod method;
pub mod predict;
pub mod protocol;
pub mod record;
pub mod report;
pub mod sweep;

pub use experiment::{Inputs, Outcome, run};
pub use method::{PaperRun, Setup};
