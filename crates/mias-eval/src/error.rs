//! The crate's error type: every bad input is one of these variants, never a panic.

use std::path::PathBuf;

/// Errors returned by mias-eval.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cases at all (or no folds).
    #[error("empty input: {what}")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// Labels and scores (or predictions) of different lengths.
    #[error("length mismatch: {labels} labels but {other} {what}")]
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of scores or predictions.
        other: usize,
        /// `"scores"` or `"predictions"`.
        what: &'static str,
    },
    /// A score that is not a probability (NaN, infinite, or outside `[0, 1]`).
    #[error("score at index {index} is {value}, expected a probability in [0, 1]")]
    InvalidScore {
        /// Position of the offending score.
        index: usize,
        /// The score itself.
        value: f64,
    },
    /// A score that is NaN or infinite where any finite number is allowed (e.g. a logit).
    #[error("score at index {index} is {value}, expected a finite number")]
    NonFiniteScore {
        /// Position of the offending score.
        index: usize,
        /// The score itself.
        value: f64,
    },
    /// A bootstrap found too few draws on which its figure is defined.
    #[error(
        "bootstrap of {what}: only {valid} of {attempts} draws gave a figure ({needed} replicates needed)"
    )]
    BootstrapExhausted {
        /// The figure.
        what: &'static str,
        /// Draws that gave a figure.
        valid: usize,
        /// Draws made.
        attempts: usize,
        /// Replicates asked for.
        needed: usize,
    },
    /// A figure that needs both classes got only one.
    #[error("{what} needs both classes: got {positives} abnormal and {negatives} normal cases")]
    SingleClass {
        /// The figure that was asked for.
        what: &'static str,
        /// Number of abnormal (positive) cases.
        positives: usize,
        /// Number of normal (negative) cases.
        negatives: usize,
    },
    /// DeLong's variance needs at least two cases of each class.
    #[error(
        "the DeLong interval needs at least 2 cases of each class: got {positives} abnormal and {negatives} normal (use the bootstrap interval)"
    )]
    TooFewForDelong {
        /// Number of abnormal (positive) cases.
        positives: usize,
        /// Number of normal (negative) cases.
        negatives: usize,
    },
    /// A parameter outside its allowed range.
    #[error("invalid {name}: {value} (expected {expected})")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A table lacks a column, or a column has the wrong type or an unexpected value.
    #[error("table: {0}")]
    Table(String),
    /// A malformed value in a CSV file read by this crate (e.g. `data/literature.csv`).
    #[error("{path}:{line}: column {column}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: usize,
        /// Column name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"writing"`, `"reading"`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing an output file failed (mias-core's atomic writer; the message names the file).
    #[error(transparent)]
    Write(#[from] mias_core::Error),
    /// An error inside polars.
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// Drawing or encoding a plot failed.
    #[error("plot: {0}")]
    Plot(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
