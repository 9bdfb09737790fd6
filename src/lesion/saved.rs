//! The lesion models of a run, as `results/lesion/models/`: `lesion.json` (what each model is,
//! its weights, C, k, calibration) and one `<backbone>.safetensors` cell classifier each; and
//! their application to a new film (`predict`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use candle_core::Device;
use image::GrayImage;
use mias_backbones::{BackboneKind, Flavor, Precision};
use mias_data::cells::CellGrid;
use mias_data::mask::BreastMask;
use serde::{Deserialize, Serialize};

use super::classifier::CellModel;
use super::cv::{Variant, top_k_mean};
use super::model::{Platt, VariantCalibration};
use super::{Outcome, maps};
use crate::members::locate_run_weights;
use crate::runner::Runner;

fn f32_name() -> String {
    "f32".into()
}

/// Format tag of `lesion.json`.
pub const FORMAT: &str = "mias-lesion-models/1";

/// One backbone's saved model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedMember {
    /// Backbone name.
    pub backbone: String,
    /// Forward configuration.
    pub flavor: String,
    /// The weights file the maps came from.
    pub weights_path: PathBuf,
    /// Its SHA-256.
    pub weights_sha256: String,
    /// Input side.
    pub side: u32,
    /// The arithmetic of the backbone's dense convolutions; models saved before the option
    /// are `f32`.
    #[serde(default = "f32_name")]
    pub precision: String,
    /// Cells per side.
    pub grid: usize,
    /// Chosen C.
    pub c: f64,
    /// Chosen k.
    pub k: usize,
    /// Cross-validated AUC of `lesion+bilateral` at the chosen pair.
    pub cv_auc: f64,
    /// Per variant (`lesion`, `lesion+bilateral`).
    pub calibration: BTreeMap<String, VariantCalibration>,
    /// The classifier's file, relative to `lesion.json`.
    pub classifier: String,
}

/// `lesion.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedModels {
    /// [`FORMAT`].
    pub format: String,
    /// The members.
    pub members: Vec<SavedMember>,
    /// The ensemble's calibration per variant.
    pub ensemble: BTreeMap<String, Platt>,
    /// The seed of the label permutation, when these models learnt permuted labels.
    pub permute_labels: Option<u64>,
}

/// Writes the final models of `outcome` into `dir` (`lesion.json` and the classifiers).
pub fn save(dir: &Path, outcome: &Outcome, side: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut members = Vec::new();
    for m in &outcome.members {
        let file = format!("{}.safetensors", m.member.kind.name());
        m.final_model.classifier.save(&dir.join(&file))?;
        members.push(SavedMember {
            backbone: m.member.kind.name().to_string(),
            flavor: m.member.flavor.name().to_string(),
            weights_path: m.member.provenance.path.clone(),
            weights_sha256: m.member.provenance.sha256.clone(),
            side,
            precision: m.member.precision.name().to_string(),
            grid: m.grid,
            c: m.final_model.c,
            k: m.final_model.k,
            cv_auc: m.final_model.cv_auc,
            calibration: m
                .final_model
                .calibration
                .iter()
                .map(|(v, c)| (v.name().to_string(), *c))
                .collect(),
            classifier: file,
        });
    }
    let saved = SavedModels {
        format: FORMAT.to_string(),
        members,
        ensemble: outcome.final_ensemble.platt.clone(),
        permute_labels: outcome.permute_labels,
    };
    mias_core::fs::write_atomic(
        &dir.join("lesion.json"),
        &serde_json::to_vec_pretty(&saved)?,
    )?;
    Ok(())
}

/// Reads `lesion.json` of a run's lesion models directory.
pub fn load(dir: &Path) -> anyhow::Result<SavedModels> {
    let path = dir.join("lesion.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let saved: SavedModels = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a lesion models file", path.display()))?;
    if saved.format != FORMAT {
        bail!(
            "{}: format {:?}, expected {FORMAT:?}",
            path.display(),
            saved.format
        );
    }
    Ok(saved)
}

/// One member's verdict on a film.
#[derive(Clone, Debug, Serialize)]
pub struct MemberVerdict {
    /// Backbone name.
    pub backbone: String,
    /// Which score was used (`lesion`, or `lesion+bilateral` with the other breast).
    pub variant: &'static str,
    /// The score.
    pub score: f64,
    /// Calibrated probability of abnormal.
    pub p_abnormal: f64,
    /// Breast cells (grid indices) and their probabilities, for the heatmap.
    #[serde(skip)]
    pub cells: (usize, Vec<u32>, Vec<f64>),
}

/// The verdict of every member and of the ensemble.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// Per member.
    pub members: Vec<MemberVerdict>,
    /// The ensemble's calibrated probability (mean standardised score).
    pub ensemble: f64,
    /// The variant used.
    pub variant: &'static str,
}

/// Where to find weights that moved since the run.
pub struct WeightsLookup<'a> {
    /// A directory to look in (by the recorded file name, then the known files), when given.
    pub dir: Option<&'a Path>,
}

/// A runner of the saved member `m` with the run's weights
/// ([`crate::members::locate_run_weights`]).
fn runner_of(
    m: &SavedMember,
    lookup: &WeightsLookup<'_>,
    device: &Device,
) -> anyhow::Result<Runner> {
    let kind: BackboneKind = m.backbone.parse()?;
    let flavor: Flavor = m.flavor.parse()?;
    let precision: Precision = m
        .precision
        .parse()
        .with_context(|| format!("{}: `precision` of lesion.json", m.backbone))?;
    let member = locate_run_weights(
        kind,
        flavor,
        precision,
        &m.weights_path,
        &m.weights_sha256,
        lookup.dir,
    )?;
    Ok(Runner::new(&member, device))
}

/// The dense map `[C, g, g]` (flattened) the saved member `m` reads of `film` (view 0, the
/// film as it is): the run's map path, so a training film gives the map the run trained on.
pub fn film_map(
    m: &SavedMember,
    film: &GrayImage,
    lookup: &WeightsLookup<'_>,
    device: &Device,
) -> anyhow::Result<Vec<f32>> {
    let mut runner = runner_of(m, lookup, device)?;
    let spec = maps::spec(m.side);
    let map = runner.dense_map(film, spec, 0)?;
    let (dim, grid) = (spec.channels(runner.member()), spec.grid(runner.member()));
    if map.len() != dim * m.grid * m.grid || grid != m.grid {
        bail!(
            "{}: map of {} values on {grid} cells a side, the saved model expects {dim} x {} x {}",
            m.backbone,
            map.len(),
            m.grid,
            m.grid
        );
    }
    Ok(map)
}

/// The view-0 logits of a film's breast cells under one saved member.
fn member_logits(
    dir: &Path,
    m: &SavedMember,
    film: &GrayImage,
    lookup: &WeightsLookup<'_>,
    device: &Device,
) -> anyhow::Result<(Vec<u32>, Vec<f32>)> {
    let kind: BackboneKind = m.backbone.parse()?;
    let map = film_map(m, film, lookup, device)?;
    let dim = maps::spec(m.side).channels_of(kind);
    let grid = CellGrid::new(film.width(), m.grid as u32)?;
    let breast = BreastMask::mini_mias(film)?.cells(&grid)?.into_values();
    let cells = maps::gather(&map, dim, m.grid, &breast, None);
    let model = CellModel::load(&dir.join(&m.classifier))?;
    Ok((cells.cells.clone(), model.logits(&cells.rows)?))
}

/// Applies the saved models to `film` (and, for the bilateral score, `other`, the woman's other
/// breast in the same orientation as in the dataset).
pub fn predict(
    dir: &Path,
    saved: &SavedModels,
    film: &GrayImage,
    other: Option<&GrayImage>,
    lookup: &WeightsLookup<'_>,
    device: &Device,
) -> anyhow::Result<Verdict> {
    let variant = if other.is_some() {
        Variant::Bilateral
    } else {
        Variant::Lesion
    };
    let mut members = Vec::new();
    let mut z = 0.0;
    for m in &saved.members {
        let (cells, logits) = member_logits(dir, m, film, lookup, device)?;
        let mut score = top_k_mean(&logits, m.k);
        if let Some(o) = other {
            let (_, ol) = member_logits(dir, m, o, lookup, device)?;
            score -= top_k_mean(&ol, m.k);
        }
        let cal = m.calibration.get(variant.name()).with_context(|| {
            format!(
                "{}: the run's lesion models have no `{}` score (a run with \
                 `classifier.bilateral = false` scores films alone: give no --other)",
                m.backbone,
                variant.name()
            )
        })?;
        z += (score - cal.mean) / cal.sd / saved.members.len() as f64;
        members.push(MemberVerdict {
            backbone: m.backbone.clone(),
            variant: variant.name(),
            score,
            p_abnormal: cal.platt.probability(score),
            cells: (
                m.grid,
                cells,
                logits
                    .iter()
                    .map(|&l| 1.0 / (1.0 + (-f64::from(l)).exp()))
                    .collect(),
            ),
        });
    }
    let platt = saved
        .ensemble
        .get(variant.name())
        .with_context(|| format!("no ensemble calibration of {}", variant.name()))?;
    Ok(Verdict {
        members,
        ensemble: platt.probability(z),
        variant: variant.name(),
    })
}
