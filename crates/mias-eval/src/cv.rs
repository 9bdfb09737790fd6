//! Aggregation over cross-validation folds: per-metric mean, standard deviation and Student-t
//! interval over the folds, and the pooled (out-of-fold) figures from all predictions at once.

use crate::error::{Error, Result};
use crate::input::check_scores;
use crate::interval::{Estimate, IntervalMethod};
use crate::metrics::{EvalConfig, Metric, Metrics};
use crate::stats::{check_level, mean, sample_variance, student_t_ppf};

/// The out-of-fold predictions of one fold: true labels (`true` = abnormal) and probabilities
/// of abnormality.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FoldPredictions {
    /// True labels.
    pub y_true: Vec<bool>,
    /// Probabilities of abnormality.
    pub scores: Vec<f64>,
}

impl FoldPredictions {
    /// Checks lengths and scores (see [`Metrics::from_scores`] for the errors).
    pub fn new(y_true: Vec<bool>, scores: Vec<f64>) -> Result<Self> {
        check_scores(&y_true, &scores)?;
        Ok(Self { y_true, scores })
    }
}

/// Summary of one metric over folds.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldStats {
    /// The metric.
    pub metric: Metric,
    /// Its value in each fold where it is defined, in fold order.
    pub values: Vec<f64>,
    /// Mean over those folds.
    pub mean: f64,
    /// Sample standard deviation over those folds (`n - 1` denominator).
    pub sd: f64,
    /// Student-t interval of the mean, `mean +- t(level, k - 1) * sd / sqrt(k)`, clipped to
    /// `[0, 1]` (every metric of this crate is a proportion; with few folds the raw interval
    /// can pass 1).
    pub interval: Estimate,
}

/// Mean, standard deviation and Student-t interval of per-fold values.
///
/// The interval is clipped to `[0, 1]`, the range of every metric here. Errors with fewer than
/// 2 values (no spread to estimate), on a non-finite value, or a bad level. The interval's `n`
/// is the number of folds.
pub fn summarize_folds(metric: Metric, values: &[f64], level: f64) -> Result<FoldStats> {
    check_level(level)?;
    if values.len() < 2 {
        return Err(Error::InvalidParameter {
            name: "number of folds",
            value: values.len().to_string(),
            expected: "at least 2 folds to summarise",
        });
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidParameter {
            name: "fold value",
            value: v.to_string(),
            expected: "a finite number",
        });
    }
    let k = values.len();
    let m = mean(values);
    let sd = sample_variance(values).sqrt();
    let t = student_t_ppf(1.0 - (1.0 - level) / 2.0, k - 1);
    let half = t * sd / (k as f64).sqrt();
    Ok(FoldStats {
        metric,
        values: values.to_vec(),
        mean: m,
        sd,
        interval: Estimate {
            value: m,
            low: (m - half).max(0.0),
            high: (m + half).min(1.0),
            n: k as u64,
            level,
            method: IntervalMethod::StudentT { folds: k },
        },
    })
}

/// The cross-validated evaluation of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct CvSummary {
    /// Figures of each fold.
    pub folds: Vec<Metrics>,
    /// Figures from all out-of-fold predictions pooled (each case once).
    pub pooled: Metrics,
    /// Per-metric summary over folds, in [`Metric::ALL`] order; a metric defined in fewer than
    /// 2 folds is left out.
    pub over_folds: Vec<FoldStats>,
}

impl CvSummary {
    /// Evaluates every fold and the pooled predictions with the same settings.
    ///
    /// Errors with fewer than 2 folds, or when any fold (or the pooled set) fails
    /// [`Metrics::from_scores`] (e.g. a fold without abnormal cases).
    pub fn from_folds(folds: &[FoldPredictions], cfg: &EvalConfig) -> Result<Self> {
        if folds.len() < 2 {
            return Err(Error::InvalidParameter {
                name: "number of folds",
                value: folds.len().to_string(),
                expected: "at least 2",
            });
        }
        let per_fold = folds
            .iter()
            .map(|f| Metrics::from_scores(&f.y_true, &f.scores, cfg))
            .collect::<Result<Vec<_>>>()?;
        let y: Vec<bool> = folds
            .iter()
            .flat_map(|f| f.y_true.iter().copied())
            .collect();
        let s: Vec<f64> = folds
            .iter()
            .flat_map(|f| f.scores.iter().copied())
            .collect();
        let pooled = Metrics::from_scores(&y, &s, cfg)?;
        let mut over_folds = Vec::new();
        for metric in Metric::ALL {
            let values: Vec<f64> = per_fold
                .iter()
                .filter_map(|m| m.get(metric).map(|e| e.value))
                .collect();
            if values.len() >= 2 {
                over_folds.push(summarize_folds(metric, &values, cfg.level)?);
            }
        }
        Ok(Self {
            folds: per_fold,
            pooled,
            over_folds,
        })
    }

    /// The summary over folds of one metric, if it was defined in at least 2 folds.
    pub fn over_folds(&self, metric: Metric) -> Option<&FoldStats> {
        self.over_folds.iter().find(|s| s.metric == metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_by_hand() {
        // Values 0.8, 0.9, 1.0: mean 0.9, sd 0.1, t(0.975, 2) = 4.302653 -> half 0.248414.
        let s = summarize_folds(Metric::Accuracy, &[0.8, 0.9, 1.0], 0.95).unwrap();
        assert!((s.mean - 0.9).abs() < 1e-12);
        assert!((s.sd - 0.1).abs() < 1e-12);
        assert!((s.mean - s.interval.low - 0.248_414).abs() < 1e-6);
        assert_eq!(s.interval.high, 1.0, "0.9 + 0.248 is clipped to 1");
        // 0.9 and 1.0: mean 0.95, sd 0.0707, t(0.975, 1) = 12.706, half 0.635 -> [0.3147, 1] (scipy t.interval, clipped).
        let wide = summarize_folds(Metric::Accuracy, &[0.9, 1.0], 0.95).unwrap();
        assert_eq!(wide.interval.high, 1.0);
        assert!(
            (wide.interval.low - 0.314_689_763).abs() < 1e-8,
            "{}",
            wide.interval.low
        );
        assert!(summarize_folds(Metric::Accuracy, &[0.8], 0.95).is_err());
        assert!(summarize_folds(Metric::Accuracy, &[0.8, f64::NAN], 0.95).is_err());
    }

    #[test]
    fn too_few_folds_is_an_error() {
        let f = FoldPredictions::new(vec![true, false], vec![0.9, 0.1]).unwrap();
        assert!(CvSummary::from_folds(&[f], &EvalConfig::default()).is_err());
        assert!(FoldPredictions::new(vec![true], vec![2.0]).is_err());
    }
}
