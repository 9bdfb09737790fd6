//! Validation of the inputs every entry point shares: labels and scores of one length, scores
//! that are probabilities (or, where only their order matters, finite numbers), and at least
//! one case.

use crate::error::{Error, Result};

/// Checks labels against probabilities of abnormality: same length, not empty, every score
/// finite and within `[0, 1]`.
pub(crate) fn check_scores(y_true: &[bool], scores: &[f64]) -> Result<()> {
    if y_true.len() != scores.len() {
        return Err(Error::LengthMismatch {
            labels: y_true.len(),
            other: scores.len(),
            what: "scores",
        });
    }
    if y_true.is_empty() {
        return Err(Error::Empty { what: "no cases" });
    }
    if let Some((index, &value)) = scores
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
    {
        return Err(Error::InvalidScore { index, value });
    }
    Ok(())
}

/// Checks labels against real-valued scores (logits, differences of scores): same length, not
/// empty, every score finite.
pub(crate) fn check_finite_scores(y_true: &[bool], scores: &[f64]) -> Result<()> {
    if y_true.len() != scores.len() {
        return Err(Error::LengthMismatch {
            labels: y_true.len(),
            other: scores.len(),
            what: "scores",
        });
    }
    if y_true.is_empty() {
        return Err(Error::Empty { what: "no cases" });
    }
    match scores.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFiniteScore {
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}

/// Checks labels against hard predictions: same length, not empty.
pub(crate) fn check_predictions(y_true: &[bool], y_pred: &[bool]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::LengthMismatch {
            labels: y_true.len(),
            other: y_pred.len(),
            what: "predictions",
        });
    }
    if y_true.is_empty() {
        return Err(Error::Empty { what: "no cases" });
    }
    Ok(())
}

/// Checks a decision threshold: finite (any finite value is allowed; probabilities are
/// compared with `>=`).
pub(crate) fn check_threshold(threshold: f64) -> Result<()> {
    if threshold.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "threshold",
            value: threshold.to_string(),
            expected: "a finite number, e.g. 0.5",
        })
    }
}
