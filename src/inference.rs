//! A finished run's backbones applied to a new mammogram: the image read from its file, each
//! member's backbone loaded with the very weights the run used (found by SHA-256), its input
//! preprocessed the member's way, and its features computed as the run computed them. What
//! turns features into a probability belongs to each method (the paper's final heads:
//! `paper::predict`); the members' probabilities and their average are a [`Prediction`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use candle_core::{Device, Tensor};
use image::GrayImage;
use mias_backbones::{Backbone, BackboneKind, WeightsSource};
use mias_data::preprocess::Preprocess;

use crate::config::Pooling;
use crate::members::{KNOWN_FILES, Member, Model};
use crate::record::MemberRecord;

/// Reads a mammogram in any format mias-data reads (DICOM, PNG, JPEG, TIFF, PGM) as 8-bit
/// grey in the working frame the training films were in (`mias_data::collection::working_image`:
/// DICOM through its VOI window, or a percentile window when the header gives none; the longer
/// side at most 1024 px; centred on a black square). A Mini-MIAS film comes back as it is.
pub fn read_image(path: &Path) -> anyhow::Result<GrayImage> {
    mias_data::collection::working_image(path, None)
        .with_context(|| format!("reading the image {}", path.display()))
}

/// Where the weights a run used are now: the recorded path, else a known file of
/// `weights_dir`, with the recorded SHA-256 either way.
pub fn find_weights(rec: &MemberRecord, weights_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let mut candidates = vec![rec.weights_path.clone()];
    if let Some(dir) = weights_dir {
        candidates.extend(
            KNOWN_FILES
                .iter()
                .filter(|k| k.kind == rec.backbone)
                .map(|k| dir.join(k.name)),
        );
    }
    for path in &candidates {
        if path.is_file() && mias_backbones::weights::sha256_file(path)? == rec.weights_sha256 {
            return Ok(path.clone());
        }
    }
    bail!(
        "{}: no weight file with sha256 {} (the run's weights) at {}; pass --weights-dir with \
         the directory that holds them",
        rec.backbone,
        rec.weights_sha256,
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// One member of a run, loaded: its backbone with the run's weights and its preprocessing.
pub struct RunBackbone {
    member: Member,
    backbone: Box<dyn Backbone>,
    prep: Preprocess,
    device: Device,
}

impl RunBackbone {
    /// Loads the member `rec` of a run on `device`, its weights found by [`find_weights`].
    pub fn open(
        rec: &MemberRecord,
        weights_dir: Option<&Path>,
        device: &Device,
    ) -> anyhow::Result<RunBackbone> {
        let kind = rec.backbone;
        let path = find_weights(rec, weights_dir)?;
        let (backbone, provenance) = mias_backbones::load_with_provenance(
            kind,
            &WeightsSource::File(path.clone()),
            rec.flavor,
            device,
        )
        .with_context(|| format!("loading {kind} from {}", path.display()))?;
        let member = Member {
            kind,
            flavor: rec.flavor,
            provenance,
        };
        let prep = crate::extract::preprocess_for(&member)?;
        Ok(RunBackbone {
            member,
            backbone,
            prep,
            device: device.clone(),
        })
    }

    /// The member: backbone, flavor, weights.
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// The loaded backbone.
    pub fn backbone(&self) -> &dyn Backbone {
        self.backbone.as_ref()
    }

    /// `image` as the backbone's input, `[1, 3, S, S]` (resized to its side, normalised its
    /// flavor's way).
    pub fn input(&self, image: &GrayImage) -> anyhow::Result<Tensor> {
        let side = self.prep.side as usize;
        Ok(Tensor::from_vec(
            self.prep.chw(image),
            (1, 3, side, side),
            &self.device,
        )?)
    }

    /// The features of `image` as the run's heads read them (`[1, D]` under `pooling`).
    pub fn features(&self, image: &GrayImage, pooling: Pooling) -> anyhow::Result<Tensor> {
        crate::extract::forward(self.backbone(), &self.input(image)?, pooling)
    }
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
