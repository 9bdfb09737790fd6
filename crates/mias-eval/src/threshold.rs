//! Decision thresholds chosen on one set of cases and applied to another: Youden's J on the
//! training scores of a fold ([`youden_threshold`]), and the figures of out-of-fold scores
//! each judged against its own fold's threshold ([`Metrics::at_thresholds`]).
//!
//! Scores here may be any finite numbers (logits, differences of scores), not only
//! probabilities; a case is predicted abnormal when `score >= threshold`, as everywhere in this
//! crate.

use crate::error::{Error, Result};
use crate::input::check_finite_scores;
use crate::interval::Estimate;
use crate::metrics::{EvalConfig, Metrics};

/// A point of the ROC curve picked as the decision threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// Predict abnormal when `score >= threshold`; always one of the scores it was chosen on.
    pub threshold: f64,
    /// Sensitivity at the threshold on the cases it was chosen on.
    pub sensitivity: f64,
    /// Specificity at the threshold on the cases it was chosen on.
    pub specificity: f64,
}

impl OperatingPoint {
    /// Youden's J: `sensitivity + specificity - 1`.
    pub fn youden_j(&self) -> f64 {
        self.sensitivity + self.specificity - 1.0
    }
}

/// The threshold that maximises Youden's J (`sensitivity + specificity - 1`) on these cases,
/// e.g. the training folds' scores.
///
/// Candidates are the distinct scores (the points of the ROC curve other than the origin, so
/// the threshold is finite and at least one case is predicted abnormal). J is compared exactly
/// (as the integer `tp * negatives - fp * positives`, no rounding); of several maximisers the
/// **highest** threshold wins: the fewest cases called abnormal, the highest specificity.
///
/// Errors on a length mismatch, empty input, a non-finite score, or a single class.
pub fn youden_threshold(y_true: &[bool], scores: &[f64]) -> Result<OperatingPoint> {
    check_finite_scores(y_true, scores)?;
    let positives = y_true.iter().filter(|&&t| t).count();
    let negatives = y_true.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::SingleClass {
            what: "Youden's threshold",
            positives,
            negatives,
        });
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (p, n) = (positives as i128, negatives as i128);
    let (mut tp, mut fp) = (0i128, 0i128);
    // (J numerator, threshold, tp, fp) of the best point so far.
    let mut best: Option<(i128, f64, i128, i128)> = None;
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
        let j = tp * n - fp * p;
        // Strictly greater: walking down from the highest score, the first maximiser stays.
        if best.is_none_or(|b| j > b.0) {
            best = Some((j, s, tp, fp));
        }
    }
    let (_, threshold, tp, fp) = best.ok_or(Error::Empty { what: "no cases" })?;
    Ok(OperatingPoint {
        threshold,
        sensitivity: tp as f64 / p as f64,
        specificity: (n - fp) as f64 / n as f64,
    })
}

impl Metrics {
    /// The five threshold figures of scores judged against thresholds chosen elsewhere:
    /// case `i` is predicted abnormal when `scores[i] >= thresholds[i]` (e.g. each out-of-fold
    /// score against the threshold its fold's training cases gave, [`youden_threshold`]).
    /// Intervals as in [`Metrics::from_predictions`]; no AUC (set it with
    /// [`Metrics::with_auc`], e.g. from [`crate::auc_cluster_bootstrap`]).
    ///
    /// [`Metrics::threshold`] is the common threshold when all are equal, else `None`.
    /// Scores may be any finite numbers. Errors on a length mismatch, empty input, a
    /// non-finite score or threshold, or bad settings.
    pub fn at_thresholds(
        y_true: &[bool],
        scores: &[f64],
        thresholds: &[f64],
        cfg: &EvalConfig,
    ) -> Result<Self> {
        check_finite_scores(y_true, scores)?;
        if thresholds.len() != scores.len() {
            return Err(Error::LengthMismatch {
                labels: y_true.len(),
                other: thresholds.len(),
                what: "thresholds",
            });
        }
        if let Some(t) = thresholds.iter().find(|t| !t.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "threshold",
                value: t.to_string(),
                expected: "a finite number",
            });
        }
        let y_pred: Vec<bool> = scores.iter().zip(thresholds).map(|(s, t)| s >= t).collect();
        let mut m = Self::from_predictions(y_true, &y_pred, cfg)?;
        let first = thresholds[0];
        m.threshold = thresholds.iter().all(|&t| t == first).then_some(first);
        Ok(m)
    }

    /// These figures with `auc` as the AUC (e.g. a cluster-bootstrap estimate computed on the
    /// same cases).
    pub fn with_auc(mut self, auc: Estimate) -> Self {
        self.auc = Some(auc);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn youden_by_hand() {
        // 4 abnormal (A), 4 normal (N); scores from high to low:
        //   0.9 A, 0.8 N, 0.7 A, 0.6 A, 0.5 N, 0.4 N, 0.3 A, 0.2 N
        // threshold: tp fp -> sens, spec, J
        //   0.9: 1 0 -> 1/4, 4/4, 0.25
        //   0.8: 1 1 -> 1/4, 3/4, 0.00
        //   0.7: 2 1 -> 2/4, 3/4, 0.25
        //   0.6: 3 1 -> 3/4, 3/4, 0.50   <- the maximum
        //   0.5: 3 2 -> 3/4, 2/4, 0.25
        //   0.4: 3 3 -> 3/4, 1/4, 0.00
        //   0.3: 4 3 -> 4/4, 1/4, 0.25
        //   0.2: 4 4 -> 4/4, 0/4, 0.00
        let y = [true, false, true, true, false, false, true, false];
        let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
        let op = youden_threshold(&y, &s).unwrap();
        assert_eq!(op.threshold, 0.6);
        assert_eq!((op.sensitivity, op.specificity), (0.75, 0.75));
        assert_eq!(op.youden_j(), 0.5);
    }

    #[test]
    fn youden_ties_go_to_the_highest_threshold() {
        // Logits, with a tie of two scores. From high to low:
        //   3.0 A, 2.0 N, 1.5 A, 1.5 N, -1.0 A, -2.0 N (3 A, 3 N)
        //   3.0: 1 0 -> J = 1/3 + 3/3 - 1 = 1/3
        //   2.0: 1 1 -> 1/3 + 2/3 - 1 = 0
        //   1.5: 2 2 -> 2/3 + 1/3 - 1 = 0
        //  -1.0: 3 2 -> 3/3 + 1/3 - 1 = 1/3
        //  -2.0: 3 3 -> 0
        // J = 1/3 at 3.0 and at -1.0: the higher, 3.0, wins.
        let y = [true, false, true, false, true, false];
        let s = [3.0, 2.0, 1.5, 1.5, -1.0, -2.0];
        let op = youden_threshold(&y, &s).unwrap();
        assert_eq!(op.threshold, 3.0);
        assert!((op.sensitivity - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(op.specificity, 1.0);
        // All J = 0 (scores carry no information): the highest score.
        let op = youden_threshold(&[true, false], &[0.5, 0.5]).unwrap();
        assert_eq!((op.threshold, op.youden_j()), (0.5, 0.0));
    }

    #[test]
    fn youden_refuses_bad_input() {
        assert!(matches!(
            youden_threshold(&[true, true], &[0.1, 0.2]),
            Err(Error::SingleClass { negatives: 0, .. })
        ));
        assert!(matches!(
            youden_threshold(&[true, false], &[0.1, f64::NAN]),
            Err(Error::NonFiniteScore { index: 1, .. })
        ));
        assert!(matches!(
            youden_threshold(&[], &[]),
            Err(Error::Empty { .. })
        ));
    }

    #[test]
    fn per_case_thresholds_by_hand() {
        // Fold 1 (threshold 0.0): scores 1.2 A, -0.5 A, 0.3 N -> tp 1, fn 1, fp 1.
        // Fold 2 (threshold 2.0): scores 2.5 A, 1.0 N, 2.0 N -> tp 1, fp 1, tn 1.
        // Pooled: tp 2, fn 1, fp 2, tn 1; accuracy 3/6, sensitivity 2/3, specificity 1/3.
        let y = [true, true, false, true, false, false];
        let s = [1.2, -0.5, 0.3, 2.5, 1.0, 2.0];
        let t = [0.0, 0.0, 0.0, 2.0, 2.0, 2.0];
        let m = Metrics::at_thresholds(&y, &s, &t, &EvalConfig::default()).unwrap();
        let c = m.confusion;
        assert_eq!((c.tp, c.fn_, c.fp, c.tn), (2, 1, 2, 1));
        assert_eq!(m.accuracy.value, 0.5);
        assert!((m.recall.unwrap().value - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.specificity.unwrap().value - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!((m.threshold, m.auc), (None, None));
        let one = Metrics::at_thresholds(&y, &s, &[1.0; 6], &EvalConfig::default()).unwrap();
        assert_eq!(one.threshold, Some(1.0));
        assert!(Metrics::at_thresholds(&y, &s, &[1.0; 5], &EvalConfig::default()).is_err());
        let mut bad = t;
        bad[2] = f64::NAN;
        assert!(Metrics::at_thresholds(&y, &s, &bad, &EvalConfig::default()).is_err());
    }
}
