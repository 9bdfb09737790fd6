//! Accuracy, precision, recall, F1, specificity and AUC of one set of predictions, each with a
//! confidence interval.
//!
//! Intervals: Wilson score for the four proportions (accuracy, precision, recall,
//! specificity); a seeded stratified percentile bootstrap for F1 (not a proportion); DeLong
//! (default) or the same bootstrap for the AUC.

use std::fmt;
use std::str::FromStr;

use crate::confusion::ConfusionMatrix;
use crate::error::{Error, Result};
use crate::input::{check_predictions, check_scores, check_threshold};
use crate::interval::{Bootstrap, Estimate, IntervalMethod, wilson};
use crate::roc::{DeLong, auc_bootstrap, split_classes};
use crate::stats::check_level;

/// The figures this crate reports, in the paper's Table 2 order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// `(tp + tn) / n`.
    Accuracy,
    /// `tp / (tp + fp)`; undefined when nothing is predicted abnormal.
    Precision,
    /// Sensitivity, `tp / (tp + fn)`; undefined without abnormal cases.
    Recall,
    /// `2 tp / (2 tp + fp + fn)`; undefined when there are no abnormal cases and none predicted.
    F1,
    /// `tn / (tn + fp)`; undefined without normal cases.
    Specificity,
    /// Area under the ROC curve (Mann-Whitney, ties 1/2); only from probabilities.
    Auc,
}

impl Metric {
    /// All metrics in table order.
    pub const ALL: [Metric; 6] = [
        Metric::Accuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::Specificity,
        Metric::Auc,
    ];

    /// Machine name used in CSV files: `accuracy`, `precision`, `recall`, `f1`, `specificity`,
    /// `auc`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::Specificity => "specificity",
            Metric::Auc => "auc",
        }
    }

    /// Heading used in tables: `Accuracy`, `Precision`, `Recall`, `F1`, `Specificity`, `AUC`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Accuracy => "Accuracy",
            Metric::Precision => "Precision",
            Metric::Recall => "Recall",
            Metric::F1 => "F1",
            Metric::Specificity => "Specificity",
            Metric::Auc => "AUC",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::InvalidParameter {
                name: "metric",
                value: s.to_string(),
                expected: "one of accuracy, precision, recall, f1, specificity, auc",
            })
    }
}

/// Which interval to put on the AUC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AucInterval {
    /// DeLong's asymptotic interval (needs 2 cases of each class).
    #[default]
    DeLong,
    /// The stratified percentile bootstrap of [`EvalConfig::bootstrap`].
    Bootstrap,
}

/// Settings for [`Metrics`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalConfig {
    /// A case is predicted abnormal when its probability is `>= threshold`. The paper's argmax
    /// over two softmax outputs is `p > 0.5`; the two differ only for a probability of exactly
    /// 0.5.
    pub threshold: f64,
    /// Confidence level of every interval.
    pub level: f64,
    /// Bootstrap settings (F1 always; AUC with [`AucInterval::Bootstrap`]).
    pub bootstrap: Bootstrap,
    /// Interval for the AUC.
    pub auc_interval: AucInterval,
}

impl Default for EvalConfig {
    /// Threshold 0.5, 95% intervals, 2000 bootstrap replicates with seed 0, DeLong for the AUC.
    fn default() -> Self {
        Self {
            threshold: 0.5,
            level: 0.95,
            bootstrap: Bootstrap::default(),
            auc_interval: AucInterval::DeLong,
        }
    }
}

impl EvalConfig {
    fn check(&self) -> Result<()> {
        check_threshold(self.threshold)?;
        check_level(self.level)?;
        self.bootstrap.check()
    }
}

/// Every figure of one classifier on one set of cases.
///
/// A figure is `None` exactly when it is undefined on these cases (see [`Metric`]); no field is
/// ever NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// The counts at [`threshold`](Self::threshold).
    pub confusion: ConfusionMatrix,
    /// Decision threshold used for the counts (`NaN`-free; `None` for hard predictions).
    pub threshold: Option<f64>,
    /// Accuracy, Wilson interval.
    pub accuracy: Estimate,
    /// Precision, Wilson interval.
    pub precision: Option<Estimate>,
    /// Recall (sensitivity), Wilson interval.
    pub recall: Option<Estimate>,
    /// F1, stratified bootstrap percentile interval.
    pub f1: Option<Estimate>,
    /// Specificity, Wilson interval.
    pub specificity: Option<Estimate>,
    /// AUC, DeLong or bootstrap interval; `None` for hard predictions.
    pub auc: Option<Estimate>,
}

fn f1_of(tp: u64, fp: u64, fn_: u64) -> Option<f64> {
    let denom = 2 * tp + fp + fn_;
    (denom > 0).then(|| 2.0 * tp as f64 / denom as f64)
}

impl Metrics {
    /// All six figures from probabilities of abnormality.
    ///
    /// Errors on a length mismatch, empty input, a score that is not a probability, a bad
    /// setting, when either class is absent (the AUC needs both), and with DeLong when a class
    /// has fewer than 2 cases.
    pub fn from_scores(y_true: &[bool], scores: &[f64], cfg: &EvalConfig) -> Result<Self> {
        check_scores(y_true, scores)?;
        cfg.check()?;
        let auc = match cfg.auc_interval {
            AucInterval::DeLong => DeLong::from_scores(y_true, scores)?.estimate(cfg.level)?,
            AucInterval::Bootstrap => auc_bootstrap(y_true, scores, cfg.level, &cfg.bootstrap)?,
        };
        let y_pred: Vec<bool> = scores.iter().map(|&s| s >= cfg.threshold).collect();
        let mut m = Self::from_predictions(y_true, &y_pred, cfg)?;
        m.threshold = Some(cfg.threshold);
        m.auc = Some(auc);
        Ok(m)
    }

    /// The five threshold figures from hard predictions (`true` = abnormal); no AUC.
    /// `cfg.threshold` and `cfg.auc_interval` are not used.
    ///
    /// Undefined figures are `None` (e.g. precision when nothing is predicted abnormal).
    /// Errors on a length mismatch, empty input or a bad setting.
    pub fn from_predictions(y_true: &[bool], y_pred: &[bool], cfg: &EvalConfig) -> Result<Self> {
        check_predictions(y_true, y_pred)?;
        check_level(cfg.level)?;
        cfg.bootstrap.check()?;
        let c = ConfusionMatrix::from_predictions(y_true, y_pred)?;
        let level = cfg.level;
        let accuracy =
            wilson(c.tp + c.tn, c.total(), level)?.ok_or(Error::Empty { what: "no cases" })?;
        let f1 = match f1_of(c.tp, c.fp, c.fn_) {
            None => None,
            Some(value) => {
                let (pos, neg) = split_classes(y_true);
                let (low, high) = cfg
                    .bootstrap
                    .percentile_interval(&pos, &neg, level, |p, n| {
                        let tp = p.iter().filter(|&&i| y_pred[i]).count() as u64;
                        let fn_ = p.len() as u64 - tp;
                        let fp = n.iter().filter(|&&i| y_pred[i]).count() as u64;
                        f1_of(tp, fp, fn_)
                    })?
                    .unwrap_or((value, value));
                Some(Estimate {
                    value,
                    low,
                    high,
                    n: c.total(),
                    level,
                    method: IntervalMethod::StratifiedBootstrap {
                        replicates: cfg.bootstrap.replicates,
                        seed: cfg.bootstrap.seed,
                    },
                })
            }
        };
        Ok(Self {
            confusion: c,
            threshold: None,
            accuracy,
            precision: wilson(c.tp, c.predicted_positives(), level)?,
            recall: wilson(c.tp, c.positives(), level)?,
            f1,
            specificity: wilson(c.tn, c.negatives(), level)?,
            auc: None,
        })
    }

    /// One figure by name; `None` when undefined (or the AUC of hard predictions).
    pub fn get(&self, metric: Metric) -> Option<&Estimate> {
        match metric {
            Metric::Accuracy => Some(&self.accuracy),
            Metric::Precision => self.precision.as_ref(),
            Metric::Recall => self.recall.as_ref(),
            Metric::F1 => self.f1.as_ref(),
            Metric::Specificity => self.specificity.as_ref(),
            Metric::Auc => self.auc.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_calculated_figures() {
        // tp 3, fn 1, fp 1, tn 5: accuracy 8/10, precision 3/4, recall 3/4,
        // F1 6/8 = 0.75, specificity 5/6.
        let y = [
            true, true, true, true, false, false, false, false, false, false,
        ];
        let p = [
            true, true, true, false, true, false, false, false, false, false,
        ];
        let m = Metrics::from_predictions(&y, &p, &EvalConfig::default()).unwrap();
        assert_eq!(m.accuracy.value, 0.8);
        assert_eq!(m.precision.unwrap().value, 0.75);
        assert_eq!(m.recall.unwrap().value, 0.75);
        assert_eq!(m.f1.unwrap().value, 0.75);
        assert!((m.specificity.unwrap().value - 5.0 / 6.0).abs() < 1e-15);
        assert_eq!(m.specificity.unwrap().n, 6);
        assert_eq!(m.auc, None);
        let f1 = m.f1.unwrap();
        assert!(f1.low <= 0.75 && 0.75 <= f1.high && f1.low < f1.high);
    }

    #[test]
    fn undefined_figures_are_none() {
        // No predicted positives: precision undefined; recall 0 is defined.
        let y = [true, false, false];
        let p = [false, false, false];
        let m = Metrics::from_predictions(&y, &p, &EvalConfig::default()).unwrap();
        assert_eq!(m.precision, None);
        assert_eq!(m.recall.unwrap().value, 0.0);
        assert_eq!(m.f1.unwrap().value, 0.0);
        // No abnormal cases and none predicted: recall and F1 undefined.
        let m = Metrics::from_predictions(&[false, false], &[false, false], &EvalConfig::default())
            .unwrap();
        assert_eq!((m.recall, m.f1, m.precision), (None, None, None));
        assert_eq!(m.specificity.unwrap().value, 1.0);
    }

    #[test]
    fn metric_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
        }
        assert!("auroc".parse::<Metric>().is_err());
    }
}
