//! Evaluation of a binary classifier (positive class: *abnormal*), as the mias pipeline reports
//! it: confusion matrix; accuracy, precision, recall (sensitivity), F1, specificity and AUC,
//! each with a confidence interval; ROC curves; aggregation over cross-validation folds; polars
//! tables written as CSV and Markdown; ROC and confusion-matrix figures as PNG and SVG.
//!
//! No deep-learning dependency: predictions come in as plain slices of labels (`true` =
//! abnormal) and probabilities of abnormality.
//!
//! # Intervals (stated in every table)
//! - accuracy, precision, recall, specificity: Wilson score interval ([`wilson`]);
//! - F1: percentile interval of a stratified bootstrap (abnormal and normal cases resampled
//!   separately, [`Bootstrap`], draws from `mias-core`'s seeded ChaCha8 stream, seed and
//!   replicates recorded);
//! - AUC: DeLong's interval by the fast midrank algorithm ([`DeLong`]), or the same bootstrap
//!   ([`AucInterval::Bootstrap`], [`auc_bootstrap`]);
//! - over folds: Student-t interval of the mean, clipped to `[0, 1]` ([`summarize_folds`]);
//! - two models on the same cases: DeLong's paired test of the AUC difference
//!   ([`DeLongComparison`]).
//!
//! # Conventions
//! - A case is predicted abnormal when its probability is `>= threshold` (so the confusion
//!   matrix is a point of the ROC curve).
//! - The AUC is the Mann-Whitney statistic with ties counted 1/2, equal to the trapezoidal area
//!   under the ROC curve that keeps every distinct threshold ([`RocCurve`]).
//! - Bad input (empty, mismatched lengths, a score that is NaN or outside `[0, 1]`, a single
//!   class where both are needed) is an [`Error`], never a panic. A figure that is undefined on
//!   valid input (precision with nothing predicted abnormal) is `None`, never NaN.
//!
//! # Example
//! ```
//! use mias_eval::{EvalConfig, Evaluation, Figure, Metrics, RocCurve, metrics_table, table2};
//!
//! # fn main() -> mias_eval::Result<()> {
//! let y_true = [true, true, true, false, false, false, false, true];
//! let p_abnormal = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1, 0.2, 0.7];
//! let m = Metrics::from_scores(&y_true, &p_abnormal, &EvalConfig::default())?;
//! assert_eq!((m.confusion.tp, m.confusion.fn_, m.confusion.fp, m.confusion.tn), (3, 1, 1, 3));
//! assert_eq!(m.accuracy.value, 0.75);
//! // 15 of the 16 (abnormal, normal) pairs are ordered correctly.
//! assert_eq!(m.auc.unwrap().value, 15.0 / 16.0);
//!
//! let roc = RocCurve::from_scores(&y_true, &p_abnormal)?;
//! assert!((roc.area() - 15.0 / 16.0).abs() < 1e-12);
//!
//! let eval = Evaluation::Single(m);
//! let metrics = metrics_table("paper", &[("VGG16", &eval)])?;
//! let t2 = table2(&metrics.frame, Some("paper"), Figure::Auto)?;
//! assert!(t2.to_markdown()?.contains("| VGG16 | 75.0 ["));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod confusion;
mod cv;
mod error;
mod input;
mod interval;
mod metrics;
mod plot;
mod roc;
mod stats;
mod table;

pub use confusion::ConfusionMatrix;
pub use cv::{CvSummary, FoldPredictions, FoldStats, summarize_folds};
pub use error::{Error, Result};
pub use interval::{Bootstrap, Estimate, IntervalMethod, wilson};
pub use metrics::{AucInterval, EvalConfig, Metric, Metrics};
pub use plot::{
    ConfusionPanel, Format, RocSeries, confusion_png, confusion_svg, roc_png, roc_svg,
    write_confusion, write_roc,
};
pub use roc::{DeLong, DeLongComparison, RocCurve, auc, auc_bootstrap};
pub use table::{
    Evaluation, Figure, LITERATURE_COLUMNS, LiteratureRow, METRICS_COLUMNS, Quoted, Table,
    compare_protocols, markdown_table, metrics_table, parse_literature, percent,
    percent_with_interval, read_csv, read_literature, stack, table2, table3, write_csv,
};

/// Re-export of polars, so callers can use the returned frames without naming a version.
pub use polars;

/// Quantile functions used by the intervals, exposed so they can be checked against scipy.
pub mod numeric {
    /// Standard normal quantile: `normal_ppf(0.975)` is 1.959964.
    pub use crate::stats::normal_ppf;
    /// Student-t quantile with integer degrees of freedom: `student_t_ppf(0.975, 4)` is 2.776445.
    pub use crate::stats::student_t_ppf;
}
