//! The paper method's answer for a new mammogram: each member's final head (trained on every
//! image with the honest protocol's views) applied to the member's features of the image,
//! and the ensemble's mean.

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::Device;
use image::GrayImage;

use crate::inference::{Prediction, open_member};
use crate::record::RunRecord;

/// Applies the run in `run_dir` (its record `run`) to `image`; weights that moved since the
/// run are looked for in `weights_dir` (matched by SHA-256).
pub fn predict(
    run_dir: &Path,
    run: &RunRecord,
    image: &GrayImage,
    weights_dir: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Prediction> {
    let pooling = run.config.pooling;
    let mut probs = Vec::with_capacity(run.members.len());
    for rec in &run.members {
        let kind = rec.backbone;
        let vector = open_member(rec, weights_dir, device)?
            .features(std::slice::from_ref(image), pooling)?
            .pop()
            .context("the backbone gave no features")?;
        let features = candle_core::Tensor::from_vec(vector.clone(), (1, vector.len()), device)?;
        let head_path = run_dir.join(&rec.head);
        let head = mias_train::Head::load(&head_path, device)
            .with_context(|| format!("loading the head {}", head_path.display()))?;
        let dim = features.dim(1)?;
        if head.input_dim() != dim {
            bail!(
                "{}: the head expects {} features, {kind} with {} pooling gives {dim}",
                head_path.display(),
                head.input_dim(),
                pooling.name(),
            );
        }
        let p = head.predict_proba(&features.to_device(device)?)?;
        probs.push((kind, p[0]));
    }
    Prediction::average(probs)
}
