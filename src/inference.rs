//! A finished run's backbones applied to a new mammogram: the image read from its file, each
//! member's backbone loaded with the very weights the run used (found by SHA-256), its input
//! preprocessed the member's way, and its features computed as the run computed them. What
//! turns features into a probability belongs to each method (the paper's final heads:
//! `paper::predict`); the members' probabilities and their average are a [`Prediction`].

use std::path::Path;

use anyhow::Context;
use candle_core::Device;
use image::GrayImage;
use mias_backbones::BackboneKind;

use crate::members::{Model, locate_run_weights};
use crate::record::MemberRecord;
use crate::runner::Runner;

/// Reads a mammogram in any format mias-data reads (DICOM, PNG, JPEG, TIFF, PGM) as 8-bit
/// grey in the working frame the training films were in (`mias_data::collection::working_image`:
/// DICOM through its VOI window, or a percentile window when the header gives none; the longer
/// side at most 1024 px; centred on a black square). A Mini-MIAS film comes back as it is.
pub fn read_image(path: &Path) -> anyhow::Result<GrayImage> {
    mias_data::collection::working_image(path, None)
        .with_context(|| format!("reading the image {}", path.display()))
}

/// A runner of the member `rec` of a finished run on `device`, with the very weights the run
/// used ([`crate::members::locate_run_weights`]: the recorded path, else `weights_dir`,
/// matched by SHA-256).
pub fn open_member(
    rec: &MemberRecord,
    weights_dir: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Runner> {
    let precision = rec
        .precision
        .parse()
        .with_context(|| format!("{}: `precision` of run.json", rec.backbone))?;
    let member = locate_run_weights(
        rec.backbone,
        rec.flavor,
        precision,
        &rec.weights_path,
        &rec.weights_sha256,
        weights_dir,
    )?;
    Ok(Runner::new(&member, device))
}

/// Each member's probability that an image is abnormal, and the ensemble's.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Per member, in the run's order.
    pub members: Vec<(BackboneKind, f32)>,
    /// The ensemble's probability.
    pub ensemble: f32,
}

impl Prediction {
    /// The members' probabilities and their mean (model averaging, `mias_train::Ensemble`).
    pub fn average(members: Vec<(BackboneKind, f32)>) -> anyhow::Result<Prediction> {
        let mut ensemble = mias_train::Ensemble::new();
        for &(kind, p) in &members {
            ensemble.add(kind.name(), vec![p])?;
        }
        let mean = ensemble.mean()?;
        Ok(Prediction {
            members,
            ensemble: mean[0],
        })
    }

    /// The probability `model` gave (none for a backbone that is not a member).
    pub fn score(&self, model: Model) -> Option<f32> {
        match model {
            Model::Backbone(kind) => self
                .members
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|&(_, p)| p),
            Model::Ensemble => Some(self.ensemble),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ensemble_is_the_mean_of_the_members() {
        let p = Prediction::average(vec![
            (BackboneKind::Vgg16, 0.2),
            (BackboneKind::MobileNetV2, 0.7),
        ])
        .unwrap();
        assert!((p.ensemble - 0.45).abs() < 1e-7, "{p:?}");
        assert_eq!(
            p.score(Model::Backbone(BackboneKind::MobileNetV2)),
            Some(0.7)
        );
        assert_eq!(p.score(Model::Backbone(BackboneKind::Xception)), None);
        assert_eq!(p.score(Model::Ensemble), Some(p.ensemble));
        let twice = Prediction::average(vec![(BackboneKind::Vgg16, 0.2); 2]);
        assert!(twice.unwrap_err().to_string().contains("twice"));
    }
}
