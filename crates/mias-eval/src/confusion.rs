//! The 2 x 2 confusion matrix, with abnormal as the positive class.

use crate::error::Result;
use crate::input::{check_predictions, check_scores, check_threshold};

/// Counts of a binary classifier's outcomes. The positive class is *abnormal*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfusionMatrix {
    /// Abnormal cases predicted abnormal.
    pub tp: u64,
    /// Normal cases predicted abnormal.
    pub fp: u64,
    /// Normal cases predicted normal.
    pub tn: u64,
    /// Abnormal cases predicted normal.
    pub fn_: u64,
}

impl ConfusionMatrix {
    /// Builds the matrix from true labels and hard predictions (`true` = abnormal).
    ///
    /// Errors on a length mismatch or empty input.
    pub fn from_predictions(y_true: &[bool], y_pred: &[bool]) -> Result<Self> {
        check_predictions(y_true, y_pred)?;
        let mut m = Self::default();
        for (&t, &p) in y_true.iter().zip(y_pred) {
            m.add(t, p);
        }
        Ok(m)
    }

    /// Builds the matrix from probabilities of abnormality: a case is predicted abnormal when
    /// its score is `>= threshold` (the convention of scikit-learn's `roc_curve`, so the matrix is
    /// a point of the ROC curve).
    ///
    /// Errors on a length mismatch, empty input, a score that is not a probability, or a
    /// non-finite threshold.
    pub fn from_scores(y_true: &[bool], scores: &[f64], threshold: f64) -> Result<Self> {
        check_scores(y_true, scores)?;
        check_threshold(threshold)?;
        let mut m = Self::default();
        for (&t, &s) in y_true.iter().zip(scores) {
            m.add(t, s >= threshold);
        }
        Ok(m)
    }

    fn add(&mut self, truth: bool, predicted: bool) {
        match (truth, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fn_ += 1,
        }
    }

    /// All cases.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// Abnormal (positive) cases: `tp + fn`.
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }

    /// Normal (negative) cases: `tn + fp`.
    pub fn negatives(&self) -> u64 {
        self.tn + self.fp
    }

    /// Cases predicted abnormal: `tp + fp`.
    pub fn predicted_positives(&self) -> u64 {
        self.tp + self.fp
    }

    /// Adds another matrix's counts (pooling folds).
    pub fn merged(&self, other: &Self) -> Self {
        Self {
            tp: self.tp + other.tp,
            fp: self.fp + other.fp,
            tn: self.tn + other.tn,
            fn_: self.fn_ + other.fn_,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn counts_by_hand() {
        let y = [true, true, false, false, true];
        let p = [0.9, 0.2, 0.5, 0.1, 0.5];
        // Threshold 0.5 with >=: predictions T F T F T -> tp 2, fn 1, fp 1, tn 1.
        let m = ConfusionMatrix::from_scores(&y, &p, 0.5).unwrap();
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (2, 1, 1, 1));
        assert_eq!((m.total(), m.positives(), m.negatives()), (5, 3, 2));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            ConfusionMatrix::from_scores(&[true], &[0.1, 0.2], 0.5),
            Err(Error::LengthMismatch {
                labels: 1,
                other: 2,
                ..
            })
        ));
        assert!(matches!(
            ConfusionMatrix::from_scores(&[], &[], 0.5),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            ConfusionMatrix::from_scores(&[true, false], &[0.1, f64::NAN], 0.5),
            Err(Error::InvalidScore { index: 1, .. })
        ));
        assert!(matches!(
            ConfusionMatrix::from_scores(&[true], &[1.5], 0.5),
            Err(Error::InvalidScore { index: 0, .. })
        ));
        assert!(ConfusionMatrix::from_scores(&[true], &[0.5], f64::NAN).is_err());
    }
}
