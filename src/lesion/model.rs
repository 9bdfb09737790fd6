//! The lesion models `predict` applies: per backbone, a cell classifier trained on every film
//! (C and k chosen by cross-validation over the experiment's folds), and a calibration of its
//! scores into a probability of abnormal.
//!
//! Calibration is Platt scaling: `P(abnormal) = 1 / (1 + exp(-(a * score + b)))`, fitted by
//! Newton's method to the log-loss of the out-of-fold scores of every film (each scored by a
//! model that never saw its woman), unweighted, so the probabilities follow the dataset's
//! prevalence (115 of 322 abnormal). As in Platt (1999), the targets are smoothed to
//! `(N+ + 1) / (N+ + 2)` and `1 / (N- + 2)`, which keeps the slope finite even when the scores
//! separate the classes. Two parameters need no crate.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use mias_data::ImageId;
use serde::{Deserialize, Serialize};

use super::classifier::CellModel;
use super::cv::{self, MemberCells, Recipe, Variant};
use super::{MemberOutcome, standardisation};

/// `P = sigmoid(a * score + b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope.
    pub a: f64,
    /// Intercept.
    pub b: f64,
}

impl Platt {
    /// The probability of abnormal for a score.
    pub fn probability(&self, score: f64) -> f64 {
        1.0 / (1.0 + (-(self.a * score + self.b)).exp())
    }

    /// Fits `a`, `b` to (score, label) pairs by Newton's method on the mean log-loss with
    /// Platt's smoothed targets. Errors when a class is missing or Newton does not converge.
    pub fn fit(scores: &[f64], labels: &[bool]) -> anyhow::Result<Platt> {
        if scores.len() != labels.len() || scores.is_empty() {
            bail!(
                "Platt scaling: {} scores, {} labels",
                scores.len(),
                labels.len()
            );
        }
        let pos = labels.iter().filter(|&&l| l).count();
        let neg = labels.len() - pos;
        if pos == 0 || neg == 0 {
            bail!(
                "Platt scaling needs both classes ({pos} of {} abnormal)",
                labels.len()
            );
        }
        let (t_pos, t_neg) = (
            (pos as f64 + 1.0) / (pos as f64 + 2.0),
            1.0 / (neg as f64 + 2.0),
        );
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for _ in 0..200 {
            // Gradient and Hessian of the summed log-loss.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&s, &y) in scores.iter().zip(labels) {
                let p = 1.0 / (1.0 + (-(a * s + b)).exp());
                let r = p - if y { t_pos } else { t_neg };
                let w = (p * (1.0 - p)).max(1e-12);
                ga += r * s;
                gb += r;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                bail!("Platt scaling: singular Hessian (all scores equal?)");
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if !(a.is_finite() && b.is_finite()) {
                bail!("Platt scaling diverged");
            }
            if da.abs().max(db.abs()) < 1e-10 {
                return Ok(Platt { a, b });
            }
        }
        bail!("Platt scaling did not converge in 200 Newton steps (a = {a}, b = {b})")
    }
}

/// How one variant of one backbone turns a score into a probability and into the ensemble.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantCalibration {
    /// Platt scaling of the variant's score.
    pub platt: Platt,
    /// Mean of the out-of-fold scores (the ensemble standardises by it).
    pub mean: f64,
    /// Standard deviation of the out-of-fold scores.
    pub sd: f64,
}

/// One backbone's final lesion model.
#[derive(Clone, Debug)]
pub struct FinalMember {
    /// The chosen C.
    pub c: f64,
    /// The chosen k.
    pub k: usize,
    /// Cross-validated AUC of the selection score (`lesion+bilateral`, or `lesion`) at the
    /// chosen pair (over every film).
    pub cv_auc: f64,
    /// The cell classifier, trained on every film.
    pub classifier: CellModel,
    /// Per variant.
    pub calibration: BTreeMap<Variant, VariantCalibration>,
    /// Out-of-fold scores of every film at the chosen pair (what the calibration saw).
    pub oof_scores: BTreeMap<Variant, BTreeMap<ImageId, f64>>,
    /// The label of every film the calibration saw.
    pub labels: BTreeMap<ImageId, bool>,
    /// Training cells (positive, negative).
    pub train_cells: (usize, usize),
    /// L-BFGS fits of the selection, and the final classifier's (last).
    pub fits: cv::Fits,
    /// Whether the final classifier's fit converged.
    pub converged: bool,
}

impl FinalMember {
    /// Chooses (C, k) by cross-validation over `folds` (the experiment's outer folds), trains on
    /// every film in `all`, and calibrates on the out-of-fold scores.
    pub fn train(
        data: &MemberCells,
        all: &[ImageId],
        folds: &[(Vec<ImageId>, Vec<ImageId>)],
        recipe: &Recipe,
    ) -> anyhow::Result<Self> {
        let sel = cv::select(data, cv::Fold::Final, all, folds, recipe)
            .context("choosing the final model's C and k")?;
        let (classifier, train_cells) = cv::fit(data, all, sel.c, recipe)?;
        let converged = classifier.converged();
        let mut fits = sel.inner_fits;
        fits.add(converged);
        let mut calibration = BTreeMap::new();
        for &variant in recipe.variants() {
            let scores = &sel.inner_scores[&variant];
            let (s, y): (Vec<f64>, Vec<bool>) = scores
                .iter()
                .map(|(id, &s)| (s, data.images[id].abnormal))
                .unzip();
            let (mean, sd) = standardisation(scores);
            let platt = Platt::fit(&s, &y)
                .with_context(|| format!("calibrating the {} score", variant.name()))?;
            calibration.insert(variant, VariantCalibration { platt, mean, sd });
        }
        Ok(FinalMember {
            c: sel.c,
            k: sel.k,
            cv_auc: sel.inner_auc,
            classifier,
            calibration,
            oof_scores: sel.inner_scores,
            labels: data
                .images
                .iter()
                .map(|(&id, img)| (id, img.abnormal))
                .collect(),
            train_cells,
            fits,
            converged,
        })
    }
}

/// The ensemble's calibration: Platt scaling of the mean standardised out-of-fold score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalEnsemble {
    /// Per variant.
    pub platt: BTreeMap<String, Platt>,
}

impl FinalEnsemble {
    /// Calibrates the ensemble of the members' final models on their out-of-fold scores.
    pub fn from_members(members: &[MemberOutcome]) -> anyhow::Result<Self> {
        let mut platt = BTreeMap::new();
        let first = members.first().context("no members")?;
        let variants: Vec<Variant> = first.final_model.calibration.keys().copied().collect();
        for variant in variants {
            let mut sum: BTreeMap<ImageId, f64> = BTreeMap::new();
            for m in members {
                let cal = m.final_model.calibration[&variant];
                for (&id, &s) in &m.final_model.oof_scores[&variant] {
                    *sum.entry(id).or_default() += (s - cal.mean) / cal.sd / members.len() as f64;
                }
            }
            let labels = &first.final_model.labels;
            let (s, y): (Vec<f64>, Vec<bool>) = sum.iter().map(|(id, &s)| (s, labels[id])).unzip();
            platt.insert(variant.name().to_string(), Platt::fit(&s, &y)?);
        }
        Ok(FinalEnsemble { platt })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient of the smoothed log-loss at the fit (it must vanish).
    fn gradient(p: &Platt, s: &[f64], y: &[bool]) -> (f64, f64) {
        let pos = y.iter().filter(|&&v| v).count() as f64;
        let neg = y.len() as f64 - pos;
        let (tp, tn) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
        let (mut ga, mut gb) = (0.0, 0.0);
        for (&si, &yi) in s.iter().zip(y) {
            let r = p.probability(si) - if yi { tp } else { tn };
            ga += r * si;
            gb += r;
        }
        (ga, gb)
    }

    #[test]
    fn platt_solves_the_smoothed_likelihood() {
        let s = [-2.0, -1.0, 1.0, 2.0, -2.0, 1.0, 0.5];
        let y = [false, true, false, true, false, true, true];
        let p = Platt::fit(&s, &y).unwrap();
        let (ga, gb) = gradient(&p, &s, &y);
        assert!(ga.abs() < 1e-9 && gb.abs() < 1e-9, "{ga} {gb}");
        assert!(p.a > 0.0);
    }

    #[test]
    fn separable_scores_give_a_finite_slope_and_one_class_is_an_error() {
        // Platt's smoothing: with one film per class at -1 and +1, the targets are 1/3 and 2/3,
        // so sigmoid(a + b) = 2/3 and sigmoid(-a + b) = 1/3: b = 0, a = ln 2.
        let p = Platt::fit(&[-1.0, 1.0], &[false, true]).unwrap();
        assert!((p.a - 2f64.ln()).abs() < 1e-9 && p.b.abs() < 1e-9, "{p:?}");
        assert!(Platt::fit(&[1.0, 2.0], &[true, true]).is_err());
    }
}
