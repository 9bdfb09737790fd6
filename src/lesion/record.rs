//! The lesion method's section of `run.json`: its configuration (flags applied), where it came
//! from, the negative control's seed, each backbone's weights, maps and choices per fold. The
//! run record (`crate::record`) holds it; records from before a field existed read it with its
//! default (`precision` f32, no `fits` counted).

use serde::{Deserialize, Serialize};

use super::cv::Fits;
use super::maps::MapStats;
use super::{LesionConfig, Outcome};

/// One backbone's part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LesionMemberRecord {
    /// Backbone name.
    pub backbone: String,
    /// Forward configuration.
    pub flavor: String,
    /// Weights file.
    pub weights_path: String,
    /// Its SHA-256.
    pub weights_sha256: String,
    /// The arithmetic of its dense convolutions (`f32`, `bf16`); records from before the
    /// option are `f32`.
    #[serde(default = "f32_name")]
    pub precision: String,
    /// Cells per side of the map.
    pub grid: usize,
    /// Features per cell.
    pub channels: usize,
    /// The feature cache directory of its maps.
    pub map_cache: String,
    /// Map extraction.
    pub maps: MapStats,
    /// Per outer fold: the chosen C and k, the inner AUC, the training cells.
    pub folds: Vec<FoldChoice>,
    /// The final model's C, k and cross-validated AUC.
    pub final_model: FoldChoice,
    /// Seconds of cross-validation and final training.
    pub cv_seconds: f64,
}

fn f32_name() -> String {
    "f32".into()
}

/// What the inner cross-validation chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldChoice {
    /// Outer fold (1-based; 0 for the final model).
    pub fold: usize,
    /// C.
    pub c: f64,
    /// k.
    pub k: usize,
    /// Inner out-of-fold AUC of the selection score (`lesion+bilateral`, or `lesion` when the
    /// run is not bilateral) at the chosen pair.
    pub inner_auc: f64,
    /// Positive training cells.
    pub positive_cells: usize,
    /// Negative training cells.
    pub negative_cells: usize,
    /// L-BFGS fits made for this choice (the inner cross-validation's and the model's) and
    /// how many stopped at `classifier.max_iter` without converging (none counted in records
    /// from before the count).
    #[serde(default)]
    pub fits: Fits,
}

/// The section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LesionRecord {
    /// Where the configuration came from.
    pub config_source: String,
    /// The configuration, flags applied.
    pub config: LesionConfig,
    /// Seed of the label permutation (the negative control), if this run is one.
    pub permute_labels: Option<u64>,
    /// Per backbone.
    pub members: Vec<LesionMemberRecord>,
    /// Backbones of the configuration that did not run, and why.
    pub not_run: Vec<String>,
    /// Seconds of the whole method (maps, cross-validation, outputs).
    pub seconds: f64,
    /// The headline model (the configuration's `headline`); absent in records from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// The women model, when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub women: Option<WomenRecord>,
}

/// The women model's part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WomenRecord {
    /// Its name in tables.
    pub name: String,
    /// Candidate models averaged.
    pub candidates: usize,
    /// L-BFGS fits of every outer fold (women and side models) and how many did not converge.
    pub fits: Fits,
    /// L-BFGS fits of the inner cross-validations that set the thresholds.
    #[serde(default)]
    pub inner_fits: Fits,
    /// Each outer fold's threshold (Youden's J on inner out-of-fold woman scores); empty in
    /// records written before the thresholds were chosen (films were then called at 0.5).
    #[serde(default)]
    pub thresholds: Vec<f64>,
    /// Maps per layer: counts, seconds, peak memory, cache directory.
    pub maps: Vec<super::women::LayerMaps>,
    /// Seconds of the models after the maps.
    pub model_seconds: f64,
}

impl LesionRecord {
    /// The record of `outcome`.
    pub fn new(
        config_source: String,
        config: &LesionConfig,
        outcome: &Outcome,
        map_caches: &[String],
        not_run: Vec<String>,
        seconds: f64,
    ) -> Self {
        let members = outcome
            .members
            .iter()
            .zip(map_caches)
            .map(|(m, cache)| LesionMemberRecord {
                backbone: m.member.kind.name().into(),
                flavor: m.member.flavor.name().into(),
                weights_path: m.member.provenance.path.display().to_string(),
                weights_sha256: m.member.provenance.sha256.clone(),
                precision: m.member.precision.name().to_string(),
                grid: m.grid,
                channels: m
                    .member
                    .kind
                    .dense_channels(mias_backbones::DenseLayer::Last),
                map_cache: cache.clone(),
                maps: m.maps,
                folds: m
                    .folds
                    .iter()
                    .map(|f| FoldChoice {
                        fold: f.fold + 1,
                        c: f.c,
                        k: f.k,
                        inner_auc: f.inner_auc,
                        positive_cells: f.train_cells.0,
                        negative_cells: f.train_cells.1,
                        fits: {
                            let mut fits = f.inner_fits;
                            fits.add(f.converged);
                            fits
                        },
                    })
                    .collect(),
                final_model: FoldChoice {
                    fold: 0,
                    c: m.final_model.c,
                    k: m.final_model.k,
                    inner_auc: m.final_model.cv_auc,
                    positive_cells: m.final_model.train_cells.0,
                    negative_cells: m.final_model.train_cells.1,
                    fits: m.final_model.fits,
                },
                cv_seconds: m.cv_seconds,
            })
            .collect();
        LesionRecord {
            config_source,
            config: config.clone(),
            permute_labels: outcome.permute_labels,
            members,
            not_run,
            seconds,
            headline: outcome.headline.clone(),
            women: outcome.women.as_ref().map(|w| WomenRecord {
                name: w.name.clone(),
                candidates: w.candidates,
                fits: w.fits,
                inner_fits: w.inner_fits,
                thresholds: w.thresholds.clone(),
                maps: w.maps.clone(),
                model_seconds: w.model_seconds,
            }),
        }
    }
}
