//! A finished run applied to a new mammogram, the parts its methods share: the image read from
//! its file into the working frame the training films were in ([`read_image`]), and the
//! members' probabilities with their mean ([`Prediction`]). Each method loads its members with
//! the very weights the run used (`members::locate_run_weights`, found by SHA-256) into a
//! `runner::Runner`, so its features are computed as the run computed them, and turns them
//! into probabilities (the paper's final heads: `paper::predict`).

use std::path::Path;

use anyhow::Context;
use image::GrayImage;
use mias_backbones::BackboneKind;

use crate::members::Model;

/// Reads a mammogram in any format mias-data reads (DICOM, PNG, JPEG, TIFF, PGM) as 8-bit
/// grey in the working frame the training films were in (`mias_data::collection::working_image`:
/// DICOM through its VOI window, or a percentile window when the header gives none; the longer
/// side at most 1024 px; centred on a black square). A Mini-MIAS film comes back as it is.
pub fn read_image(path: &Path) -> anyhow::Result<GrayImage> {
    mias_data::collection::working_image(path, None)
        .with_context(|| format!("reading the image {}", path.display()))
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
