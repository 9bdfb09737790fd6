//! The AUC of cases that come in clusters (the two breasts of one woman), with the percentile
//! interval of the bootstrap over clusters ([`crate::cluster_bootstrap`]): pooled over every
//! case ([`auc_cluster_bootstrap`]), or for one class of abnormal cases against every normal
//! one ([`class_auc`]). A draw without both classes is redrawn and counted.
//!
//! Scores may be any finite numbers (logits, differences of scores): the AUC only ranks them.

use crate::cluster::{Clusters, cluster_bootstrap};
use crate::error::{Error, Result};
use crate::input::check_finite_scores;
use crate::interval::{Bootstrap, Estimate, IntervalMethod};
use crate::roc::auc_of;

/// The pooled AUC (Mann-Whitney, ties 1/2) with a percentile interval from the bootstrap over
/// clusters: `cluster_ids[i]` is case `i`'s cluster (e.g. its woman). A draw without both
/// classes is redrawn; the count is in the method ([`IntervalMethod::ClusterBootstrap`]).
///
/// Scores may be any finite numbers. Errors on a length mismatch, empty input, a non-finite
/// score, a single class, or bad settings.
pub fn auc_cluster_bootstrap<C: Ord>(
    y_true: &[bool],
    scores: &[f64],
    cluster_ids: &[C],
    level: f64,
    bootstrap: &Bootstrap,
) -> Result<Estimate> {
    check_finite_scores(y_true, scores)?;
    check_len(y_true, cluster_ids.len(), "cluster ids")?;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let all: Vec<usize> = (0..y_true.len()).collect();
    split_by_class(&all, y_true, scores, &mut pos, &mut neg);
    if pos.is_empty() || neg.is_empty() {
        return Err(Error::SingleClass {
            what: "the AUC",
            positives: pos.len(),
            negatives: neg.len(),
        });
    }
    let value = auc_of(&pos, &neg);
    let clusters = Clusters::new(cluster_ids)?;
    let interval = cluster_bootstrap(&clusters, bootstrap, level, "the AUC", |cases| {
        split_by_class(cases, y_true, scores, &mut pos, &mut neg);
        (!pos.is_empty() && !neg.is_empty()).then(|| auc_of(&pos, &neg))
    })?;
    Ok(Estimate {
        value,
        low: interval.low,
        high: interval.high,
        n: y_true.len() as u64,
        level,
        method: IntervalMethod::ClusterBootstrap {
            replicates: bootstrap.replicates,
            seed: bootstrap.seed,
            clusters: clusters.len(),
            redrawn: interval.redrawn,
        },
    })
}

fn check_len(y_true: &[bool], other: usize, what: &'static str) -> Result<()> {
    if other == y_true.len() {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            labels: y_true.len(),
            other,
            what,
        })
    }
}

fn split_by_class(
    cases: &[usize],
    y_true: &[bool],
    scores: &[f64],
    pos: &mut Vec<f64>,
    neg: &mut Vec<f64>,
) {
    pos.clear();
    neg.clear();
    for &i in cases {
        if y_true[i] {
            pos.push(scores[i])
        } else {
            neg.push(scores[i])
        }
    }
}

/// The AUC of one class of abnormal cases against every normal case, with the cluster
/// bootstrap of [`auc_cluster_bootstrap`] on those cases only (clusters with neither a
/// normal case nor one of the class drop out). `in_class[i]` marks the abnormal cases of the
/// class (e.g. calcifications); other abnormal cases are left out.
///
/// Always the cluster bootstrap, also when every cluster holds one case (then it is the
/// ordinary case bootstrap, unstratified): one method for every row of a per-class table, and
/// no large-sample approximation for classes of a handful of cases.
///
/// `Ok(None)` when the class has fewer than 2 cases. Errors on the bad input of
/// [`auc_cluster_bootstrap`], a length mismatch of `in_class`, a normal case marked in the
/// class, or no normal case.
pub fn class_auc<C: Ord + Clone>(
    y_true: &[bool],
    in_class: &[bool],
    scores: &[f64],
    cluster_ids: &[C],
    level: f64,
    bootstrap: &Bootstrap,
) -> Result<Option<Estimate>> {
    check_finite_scores(y_true, scores)?;
    check_len(y_true, in_class.len(), "class flags")?;
    check_len(y_true, cluster_ids.len(), "cluster ids")?;
    if let Some(i) = (0..y_true.len()).find(|&i| in_class[i] && !y_true[i]) {
        return Err(Error::InvalidParameter {
            name: "class flags",
            value: format!("case {i} is normal but marked in the class"),
            expected: "only abnormal cases in a class of abnormalities",
        });
    }
    if in_class.iter().filter(|&&c| c).count() < 2 {
        return Ok(None);
    }
    let keep: Vec<usize> = (0..y_true.len())
        .filter(|&i| in_class[i] || !y_true[i])
        .collect();
    let y: Vec<bool> = keep.iter().map(|&i| y_true[i]).collect();
    let s: Vec<f64> = keep.iter().map(|&i| scores[i]).collect();
    let ids: Vec<C> = keep.iter().map(|&i| cluster_ids[i].clone()).collect();
    auc_cluster_bootstrap(&y, &s, &ids, level, bootstrap).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_an_error() {
        let b = Bootstrap::default();
        let y = [true, false, true];
        assert!(matches!(
            auc_cluster_bootstrap(&y, &[0.1, 0.2, 0.3], &[1, 2], 0.95, &b),
            Err(Error::LengthMismatch { other: 2, .. })
        ));
        assert!(matches!(
            auc_cluster_bootstrap(&y, &[0.1, f64::INFINITY, 0.3], &[1, 2, 3], 0.95, &b),
            Err(Error::NonFiniteScore { index: 1, .. })
        ));
        assert!(matches!(
            auc_cluster_bootstrap(&[true, true], &[0.1, 0.3], &[1, 2], 0.95, &b),
            Err(Error::SingleClass { negatives: 0, .. })
        ));
        assert!(matches!(
            class_auc(
                &y,
                &[true, true, false],
                &[0.1, 0.2, 0.3],
                &[1, 2, 3],
                0.95,
                &b
            ),
            Err(Error::InvalidParameter { .. })
        ));
        // One case in the class: no figure.
        assert_eq!(
            class_auc(
                &y,
                &[true, false, false],
                &[0.1, 0.2, 0.3],
                &[1, 2, 3],
                0.95,
                &b
            )
            .unwrap(),
            None
        );
    }
}
