//! ROC curve and AUC from probabilities, with DeLong's and a bootstrap interval.
//!
//! The AUC is the Mann-Whitney statistic: the probability that a random abnormal case scores
//! higher than a random normal one, ties counted 1/2. It equals the trapezoidal area under the
//! ROC curve when the curve keeps every distinct threshold, as [`RocCurve`] does.

use crate::error::{Error, Result};
use crate::input::{check_finite_scores, check_scores};
use crate::interval::{Bootstrap, Estimate, IntervalMethod};
use crate::stats::{check_level, erfc, mean, midranks, normal_ppf, sample_variance};

/// A ROC curve with one point per distinct score, plus the origin.
///
/// Points run from `(0, 0)` (threshold `+inf`: nothing predicted abnormal) to `(1, 1)`, with
/// thresholds decreasing; point `i` is the outcome of predicting abnormal when
/// `score >= thresholds[i]`. Tied scores form one threshold, so ties give diagonal segments.
/// This matches scikit-learn's `roc_curve(..., drop_intermediate=False)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False positive rate (1 - specificity) of each point.
    pub fpr: Vec<f64>,
    /// True positive rate (sensitivity) of each point.
    pub tpr: Vec<f64>,
    /// Decision threshold of each point; the first is `f64::INFINITY`.
    pub thresholds: Vec<f64>,
    /// Abnormal cases.
    pub positives: u64,
    /// Normal cases.
    pub negatives: u64,
}

/// Splits labels into the indices of abnormal and normal cases.
pub(crate) fn split_classes(y_true: &[bool]) -> (Vec<usize>, Vec<usize>) {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for (i, &t) in y_true.iter().enumerate() {
        if t { pos.push(i) } else { neg.push(i) }
    }
    (pos, neg)
}

fn check_both_classes(what: &'static str, pos: usize, neg: usize) -> Result<()> {
    if pos == 0 || neg == 0 {
        return Err(Error::SingleClass {
            what,
            positives: pos,
            negatives: neg,
        });
    }
    Ok(())
}

impl RocCurve {
    /// Computes the curve from true labels (`true` = abnormal) and probabilities of abnormality.
    ///
    /// Errors on a length mismatch, empty input, a score outside `[0, 1]` or NaN, and when
    /// either class is absent (the rates would be undefined).
    pub fn from_scores(y_true: &[bool], scores: &[f64]) -> Result<Self> {
        check_scores(y_true, scores)?;
        let positives = y_true.iter().filter(|&&t| t).count();
        let negatives = y_true.len() - positives;
        check_both_classes("a ROC curve", positives, negatives)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (p, n) = (positives as f64, negatives as f64);
        let mut fpr = vec![0.0];
        let mut tpr = vec![0.0];
        let mut thresholds = vec![f64::INFINITY];
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut i = 0;
        while i < order.len() {
            let s = scores[order[i]];
            while i < order.len() && scores[order[i]] == s {
                if y_true[order[i]] {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            }
            fpr.push(fp as f64 / n);
            tpr.push(tp as f64 / p);
            thresholds.push(s);
        }
        Ok(Self {
            fpr,
            tpr,
            thresholds,
            positives: positives as u64,
            negatives: negatives as u64,
        })
    }

    /// Trapezoidal area under the curve; equal (up to rounding) to [`auc`].
    pub fn area(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
            .sum()
    }
}

/// Mann-Whitney AUC of scores already split by class, from midranks of the pooled scores.
pub(crate) fn auc_of(pos: &[f64], neg: &[f64]) -> f64 {
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let pooled: Vec<f64> = pos.iter().chain(neg).copied().collect();
    let ranks = midranks(&pooled);
    let rank_sum: f64 = ranks[..pos.len()].iter().sum();
    (rank_sum - m * (m + 1.0) / 2.0) / (m * n)
}

/// AUC as the Mann-Whitney statistic with ties counted 1/2.
///
/// Errors on a length mismatch, empty input, a score that is not a probability, or when either
/// class is absent.
pub fn auc(y_true: &[bool], scores: &[f64]) -> Result<f64> {
    check_scores(y_true, scores)?;
    let (pos, neg) = split_scores(y_true, scores);
    check_both_classes("the AUC", pos.len(), neg.len())?;
    Ok(auc_of(&pos, &neg))
}

fn split_scores(y_true: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for (&t, &s) in y_true.iter().zip(scores) {
        if t { pos.push(s) } else { neg.push(s) }
    }
    (pos, neg)
}

/// DeLong's structural components by midranks (Sun and Xu, 2014): for each abnormal case, the
/// share of normal cases it outscores (ties 1/2); for each normal case, the share of abnormal
/// cases that outscore it. Their means are the AUC.
fn structural_components(pos: &[f64], neg: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let rank_pos = midranks(pos);
    let rank_neg = midranks(neg);
    let pooled: Vec<f64> = pos.iter().chain(neg).copied().collect();
    let rank_all = midranks(&pooled);
    let v10 = (0..pos.len())
        .map(|i| (rank_all[i] - rank_pos[i]) / n)
        .collect();
    let v01 = (0..neg.len())
        .map(|j| 1.0 - (rank_all[pos.len() + j] - rank_neg[j]) / m)
        .collect();
    (v10, v01)
}

/// DeLong's estimate of the AUC's variance, by the fast midrank algorithm (Sun and Xu, 2014).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeLong {
    /// The AUC (Mann-Whitney, ties 1/2).
    pub auc: f64,
    /// DeLong's variance of the AUC: `S10 / m + S01 / n`.
    pub variance: f64,
    /// Abnormal cases (`m`).
    pub positives: u64,
    /// Normal cases (`n`).
    pub negatives: u64,
}

impl DeLong {
    /// Computes the AUC and its DeLong variance.
    ///
    /// Errors on the same bad input as [`auc`], and with [`Error::TooFewForDelong`] when a
    /// class has fewer than 2 cases (the sample variances need two).
    pub fn from_scores(y_true: &[bool], scores: &[f64]) -> Result<Self> {
        check_scores(y_true, scores)?;
        Self::of_checked(y_true, scores)
    }

    /// [`from_scores`](Self::from_scores) on scores already checked (probabilities, or any
    /// finite numbers: only their ranks matter).
    fn of_checked(y_true: &[bool], scores: &[f64]) -> Result<Self> {
        let (pos, neg) = split_scores(y_true, scores);
        check_both_classes("the AUC", pos.len(), neg.len())?;
        if pos.len() < 2 || neg.len() < 2 {
            return Err(Error::TooFewForDelong {
                positives: pos.len(),
                negatives: neg.len(),
            });
        }
        let (m, n) = (pos.len() as f64, neg.len() as f64);
        let (v10, v01) = structural_components(&pos, &neg);
        let variance = sample_variance(&v10) / m + sample_variance(&v01) / n;
        Ok(Self {
            auc: mean(&v10),
            variance,
            positives: pos.len() as u64,
            negatives: neg.len() as u64,
        })
    }

    /// Normal-approximation interval `auc +- z * sqrt(variance)` at `level`, clipped to
    /// `[0, 1]`. A perfectly separated sample has variance 0 and the interval `[1, 1]`.
    pub fn estimate(&self, level: f64) -> Result<Estimate> {
        check_level(level)?;
        let z = normal_ppf(1.0 - (1.0 - level) / 2.0);
        let half = z * self.variance.max(0.0).sqrt();
        Ok(Estimate {
            value: self.auc,
            low: (self.auc - half).max(0.0),
            high: (self.auc + half).min(1.0),
            n: self.positives + self.negatives,
            level,
            method: IntervalMethod::DeLong,
        })
    }
}

/// AUC with a stratified percentile bootstrap interval (abnormal and normal cases resampled
/// separately, so every replicate has both classes).
pub fn auc_bootstrap(
    y_true: &[bool],
    scores: &[f64],
    level: f64,
    bootstrap: &Bootstrap,
) -> Result<Estimate> {
    let value = auc(y_true, scores)?;
    let (pos_idx, neg_idx) = split_classes(y_true);
    let mut pos = vec![0.0; pos_idx.len()];
    let mut neg = vec![0.0; neg_idx.len()];
    let interval = bootstrap.percentile_interval(&pos_idx, &neg_idx, level, |p, n| {
        for (slot, &i) in pos.iter_mut().zip(p) {
            *slot = scores[i];
        }
        for (slot, &i) in neg.iter_mut().zip(n) {
            *slot = scores[i];
        }
        Some(auc_of(&pos, &neg))
    })?;
    // Every replicate has both classes, so the AUC is always defined.
    let (low, high) = interval.unwrap_or((value, value));
    Ok(Estimate {
        value,
        low,
        high,
        n: y_true.len() as u64,
        level,
        method: IntervalMethod::StratifiedBootstrap {
            replicates: bootstrap.replicates,
            seed: bootstrap.seed,
        },
    })
}

/// DeLong's test of two correlated AUCs: two models scored on the same cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeLongComparison {
    /// AUC of model A.
    pub auc_a: f64,
    /// AUC of model B.
    pub auc_b: f64,
    /// `auc_b - auc_a`.
    pub difference: f64,
    /// DeLong's variance of the difference (accounts for the correlation of the two AUCs).
    pub variance: f64,
    /// `difference / sqrt(variance)`; `None` when the variance is 0 (e.g. both models
    /// separate the classes perfectly).
    pub z: Option<f64>,
    /// Two-sided p-value of the normal test; `None` when the variance is 0.
    pub p_value: Option<f64>,
    /// Interval of the difference at [`level`](Self::level), `difference +- z * sd`, clipped to
    /// `[-1, 1]`.
    pub low: f64,
    /// Upper end of the interval of the difference.
    pub high: f64,
    /// Confidence level of the interval.
    pub level: f64,
}

impl DeLongComparison {
    /// Compares model B with model A on the same cases (same labels, two score vectors).
    ///
    /// Errors on the bad input of [`DeLong::from_scores`] for either model (including a length
    /// mismatch between the two score vectors) or a bad level.
    pub fn from_scores(
        y_true: &[bool],
        scores_a: &[f64],
        scores_b: &[f64],
        level: f64,
    ) -> Result<Self> {
        check_scores(y_true, scores_a)?;
        check_scores(y_true, scores_b)?;
        Self::of_checked(y_true, scores_a, scores_b, level)
    }

    /// [`from_scores`](Self::from_scores) for scores that may be any finite numbers (logits,
    /// standardised scores): DeLong's components depend only on the ranks.
    ///
    /// Errors on a length mismatch, empty input, a non-finite score, a class with fewer than
    /// 2 cases, or a bad level.
    pub fn from_finite_scores(
        y_true: &[bool],
        scores_a: &[f64],
        scores_b: &[f64],
        level: f64,
    ) -> Result<Self> {
        check_finite_scores(y_true, scores_a)?;
        check_finite_scores(y_true, scores_b)?;
        Self::of_checked(y_true, scores_a, scores_b, level)
    }

    fn of_checked(y_true: &[bool], scores_a: &[f64], scores_b: &[f64], level: f64) -> Result<Self> {
        check_level(level)?;
        let a = DeLong::of_checked(y_true, scores_a)?;
        let b = DeLong::of_checked(y_true, scores_b)?;
        let (pos_a, neg_a) = split_scores(y_true, scores_a);
        let (pos_b, neg_b) = split_scores(y_true, scores_b);
        let (v10a, v01a) = structural_components(&pos_a, &neg_a);
        let (v10b, v01b) = structural_components(&pos_b, &neg_b);
        let (m, n) = (pos_a.len() as f64, neg_a.len() as f64);
        // var(A_b - A_a) = var(V10b - V10a) / m + var(V01b - V01a) / n: the same as
        // S10aa + S10bb - 2 S10ab (and likewise for S01), and exactly 0 for identical models.
        let d10: Vec<f64> = v10b.iter().zip(&v10a).map(|(x, y)| x - y).collect();
        let d01: Vec<f64> = v01b.iter().zip(&v01a).map(|(x, y)| x - y).collect();
        let variance = sample_variance(&d10) / m + sample_variance(&d01) / n;
        let difference = b.auc - a.auc;
        let sd = variance.sqrt();
        let (z, p_value) = if sd > 0.0 {
            let z = difference / sd;
            (Some(z), Some(erfc(z.abs() / std::f64::consts::SQRT_2)))
        } else {
            (None, None)
        };
        let q = normal_ppf(1.0 - (1.0 - level) / 2.0);
        Ok(Self {
            auc_a: a.auc,
            auc_b: b.auc,
            difference,
            variance,
            z,
            p_value,
            low: (difference - q * sd).max(-1.0),
            high: (difference + q * sd).min(1.0),
            level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand_with_ties() {
        // Positives 0.8, 0.5; negatives 0.5, 0.2. Pairs: (0.8>0.5)=1, (0.8>0.2)=1,
        // (0.5=0.5)=1/2, (0.5>0.2)=1 -> 3.5 / 4 = 0.875.
        let y = [true, true, false, false];
        let s = [0.8, 0.5, 0.5, 0.2];
        assert!((auc(&y, &s).unwrap() - 0.875).abs() < 1e-15);
        let roc = RocCurve::from_scores(&y, &s).unwrap();
        assert!((roc.area() - 0.875).abs() < 1e-15);
        // Thresholds +inf, 0.8, 0.5, 0.2 -> (0,0), (0,.5), (.5,1), (1,1).
        assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 1.0]);
        assert_eq!(roc.tpr, vec![0.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert!(matches!(
            auc(&[true, true], &[0.1, 0.2]),
            Err(Error::SingleClass {
                positives: 2,
                negatives: 0,
                ..
            })
        ));
        assert!(matches!(
            RocCurve::from_scores(&[false], &[0.1]),
            Err(Error::SingleClass {
                positives: 0,
                negatives: 1,
                ..
            })
        ));
        assert!(matches!(
            DeLong::from_scores(&[true, false, false], &[0.9, 0.1, 0.2]),
            Err(Error::TooFewForDelong {
                positives: 1,
                negatives: 2
            })
        ));
        assert!(matches!(auc(&[], &[]), Err(Error::Empty { .. })));
    }

    #[test]
    fn perfect_separation_has_zero_variance() {
        let d = DeLong::from_scores(&[true, true, false, false], &[0.9, 0.8, 0.2, 0.1]).unwrap();
        assert_eq!(d.auc, 1.0);
        assert_eq!(d.variance, 0.0);
        let e = d.estimate(0.95).unwrap();
        assert_eq!((e.low, e.high), (1.0, 1.0));
    }
}
