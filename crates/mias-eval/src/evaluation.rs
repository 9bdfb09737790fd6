//! [`Evaluation`]: one model's figures under one protocol, from a single test set or from
//! cross-validation; what [`crate::metrics_table`] turns into rows.

use crate::cv::{CvSummary, FoldStats};
use crate::metrics::{Metric, Metrics};

/// One model's evaluation under one protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// One test set (e.g. the paper's split).
    Single(Metrics),
    /// Cross-validation: per-fold figures, their summary, and the pooled figures.
    CrossValidated(CvSummary),
}

impl Evaluation {
    /// The figures over all test cases (pooled out-of-fold predictions for cross-validation).
    pub fn pooled(&self) -> &Metrics {
        match self {
            Evaluation::Single(m) => m,
            Evaluation::CrossValidated(cv) => &cv.pooled,
        }
    }

    /// The summary over folds of one metric (cross-validation only).
    pub fn over_folds(&self, metric: Metric) -> Option<&FoldStats> {
        match self {
            Evaluation::Single(_) => None,
            Evaluation::CrossValidated(cv) => cv.over_folds(metric),
        }
    }
}
