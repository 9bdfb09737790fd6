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
//! - AUC of cases that come in clusters (the images of one woman): a percentile bootstrap that
//!   resamples whole clusters ([`auc_cluster_bootstrap`], per class of abnormality
//!   [`class_auc`]; the machinery for any figure in [`Clusters`] and [`cluster_bootstrap`]);
//! - over folds: Student-t interval of the mean, clipped to `[0, 1]` ([`summarize_folds`]);
//! - two models on the same cases: DeLong's paired test of the AUC difference
//!   ([`DeLongComparison`]).
//!
//! # Conventions
//! - A case is predicted abnormal when its probability is `>= threshold` (so the confusion
//!   matrix is a point of the ROC curve).
//! - The AUC is the Mann-Whitney statistic with ties counted 1/2, equal to the trapezoidal area
//!   under the ROC curve that keeps every distinct threshold ([`RocCurve`]).
//! - A threshold chosen on other cases (e.g. training folds, [`youden_threshold`]) is applied
//!   with [`Metrics::at_thresholds`]; there, and for the cluster bootstrap and the AUC it
//!   gives, scores may be any finite numbers (logits), not only probabilities.
//! - Bad input (empty, mismatched lengths, a score that is NaN or outside `[0, 1]`, a single
//!   class where both are needed) is an [`Error`], never a panic. A figure that is undefined on
//!   valid input (precision with nothing predicted abnormal) is `None`, never NaN.
//!
//! # Example
//! ```
//! use mias_eval::{
//!     Bootstrap, EvalConfig, Evaluation, Figure, Metrics, RocCurve, auc_cluster_bootstrap,
//!     metrics_table, table2, youden_threshold,
//! };
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
//!
//! // The same cases as logits from four women (two images each), resampled woman by woman;
//! // the threshold is Youden's on these scores (in practice: on the training folds').
//! let logits = [2.2, 1.4, -0.4, -0.8, 0.4, -2.2, -1.4, 0.8];
//! let women = [1, 1, 2, 2, 3, 3, 4, 4];
//! let auc = auc_cluster_bootstrap(&y_true, &logits, &women, 0.95, &Bootstrap::default())?;
//! assert_eq!(auc.value, 15.0 / 16.0);
//! assert!(auc.low <= auc.value && auc.value <= auc.high);
//! let t = youden_threshold(&y_true, &logits)?.threshold;
//! assert_eq!(t, 0.8); // 3 of 4 abnormal and 4 of 4 normal cases right
//! let at_t = Metrics::at_thresholds(&y_true, &logits, &[t; 8], &EvalConfig::default())?;
//! assert_eq!(at_t.with_auc(auc).accuracy.value, 7.0 / 8.0);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod cluster;
mod cluster_auc;
mod confusion;
mod cv;
mod error;
mod evaluation;
mod input;
mod interval;
mod literature;
mod metrics;
mod plot;
mod population;
mod roc;
mod stats;
mod table;
mod threshold;

pub use cluster::{
    ClusterDraws, ClusterInterval, Clusters, cluster_bootstrap, cluster_bootstrap_draws,
};
pub use cluster_auc::{auc_cluster_bootstrap, class_auc};
pub use confusion::ConfusionMatrix;
pub use cv::{CvSummary, FoldPredictions, FoldStats, summarize_folds};
pub use error::{Error, Result};
pub use evaluation::Evaluation;
pub use interval::{Bootstrap, Estimate, IntervalMethod, wilson};
pub use literature::{
    LITERATURE_COLUMNS, LiteratureRow, Quoted, parse_literature, read_literature,
};
pub use metrics::{AucInterval, EvalConfig, Metric, Metrics};
pub use plot::{
    Band, CONFUSION_COLUMNS, ConfusionPanel, Format, Line, LinePlot, RocPanel, RocSeries,
    confusion_grid_png, confusion_grid_svg, confusion_png, confusion_svg, roc_grid_png,
    roc_grid_svg, roc_png, roc_svg, write_confusion, write_confusion_grid, write_lines, write_roc,
    write_roc_grid,
};
pub use population::{
    COMPARISON_COLUMNS, DeLongUse, FilmScore, PairedComparison, Population, PopulationCases,
    WomanScore, compare_paired, comparison_table, population, populations,
};
pub use roc::{DeLong, DeLongComparison, RocCurve, auc, auc_bootstrap};
pub use table::{
    Figure, METRICS_COLUMNS, Table, compare_protocols, markdown_table, metrics_table, percent,
    percent_with_interval, read_csv, side_by_side, stack, table2, table3, tag_rows, write_csv,
};
pub use threshold::{OperatingPoint, youden_threshold};

/// Re-export of polars, so callers can use the returned frames without naming a version.
pub use polars;

/// Quantile functions used by the intervals, exposed so they can be checked against scipy.
pub mod numeric {
    /// Standard normal quantile: `normal_ppf(0.975)` is 1.959964.
    pub use crate::stats::normal_ppf;
    /// Student-t quantile with integer degrees of freedom: `student_t_ppf(0.975, 4)` is 2.776445.
    pub use crate::stats::student_t_ppf;
}
