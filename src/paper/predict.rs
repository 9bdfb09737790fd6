//! The paper method's answer for a new mammogram: each member's final head (trained on every
//! image with the honest protocol's views) applied to the member's features of the image,
//! and the ensemble's mean.

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::Device;
use image::GrayImage;

use super::record::{MemberRecord, PaperRecord};
use crate::inference::Prediction;
use crate::members::locate_run_weights;
use crate::runner::Runner;

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

/// Applies the run in `run_dir` (the paper method's part of its record, `run`) to `image`;
/// weights that moved since the run are looked for in `weights_dir` (matched by SHA-256).
pub fn predict(
    run_dir: &Path,
    run: &PaperRecord,
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
