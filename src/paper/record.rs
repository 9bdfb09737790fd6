//! The paper method's part of `run.json`: its configuration, protocols, seeds, each member's
//! weights and features, every trained head, and the seconds of its steps. The run record
//! (`crate::record`) holds it beside the run's own fields and the lesion method's section; this
//! method never reads the run record itself.

use std::path::PathBuf;

use mias_backbones::{BackboneKind, Flavor};
use mias_data::LabelVariant;
use serde::{Deserialize, Serialize};

use super::config::{ExperimentConfig, Pooling, Protocol};
use crate::extract::ExtractStats;
use crate::members::{Member, NotRun};

/// The paper method's fields of `run.json`. Written into the record in the order of schema 1
/// (`config_source`, `config`, `protocols`, `label_variant`, `seeds`, then after the run's
/// `data`: `members`, `not_run`, `heads`); a run without the paper method records its
/// configuration and empty lists. Made by [`super::method::Setup::record`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperRecord {
    /// Where the configuration came from.
    pub config_source: String,
    /// The configuration, flags applied.
    pub config: ExperimentConfig,
    /// The protocols that ran, in order.
    pub protocols: Vec<Protocol>,
    /// The label variant (also in `config.labels`).
    pub label_variant: LabelVariant,
    /// Every seed, and how the heads' seeds derive from them.
    pub seeds: Seeds,
    /// The members that ran, in order.
    pub members: Vec<MemberRecord>,
    /// The backbones left out, and why.
    pub not_run: Vec<NotRun>,
    /// Every trained head: the protocols' and then the final ones.
    pub heads: Vec<HeadRecord>,
}

/// Records from before the permutation control hold heads of real labels only.
fn real_labels() -> String {
    "real".into()
}

/// Every seed of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    /// The experiment's seed.
    pub experiment: u64,
    /// Seed of the augmented views.
    pub augmentation: u64,
    /// Seed of the paper's split and the folds.
    pub split_and_folds: u64,
    /// How each head's seed derives from the experiment's.
    pub head_seeds: String,
    /// Seed of the bootstrap intervals.
    pub bootstrap: u64,
    /// Seed of the permutation control's labels (over women), derived from the experiment's
    /// seed; none when the whole run is a control, or in records from before the control.
    #[serde(default)]
    pub permutation_control: Option<u64>,
    /// Seed of `--permute-labels`: when set, every head of the run learnt permuted labels.
    #[serde(default)]
    pub permute_labels: Option<u64>,
}

impl Seeds {
    /// The seeds of an experiment seeded with `seed`: every draw derives from it.
    pub fn from_experiment(seed: u64) -> Seeds {
        Seeds {
            experiment: seed,
            augmentation: seed,
            split_and_folds: seed,
            head_seeds: "derived from the experiment seed per protocol part and member: see \
                         heads[].seed"
                .into(),
            bootstrap: seed,
            permutation_control: None,
            permute_labels: None,
        }
    }
}

/// One member of a run: its weights, input, features and final head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The backbone.
    #[serde(with = "crate::by_name")]
    pub backbone: BackboneKind,
    /// Its name in tables.
    pub name: String,
    /// The forward configuration its weights need.
    #[serde(with = "crate::by_name")]
    pub flavor: Flavor,
    /// The weights file the run used.
    pub weights_path: PathBuf,
    /// Its SHA-256.
    pub weights_sha256: String,
    /// Where it came from.
    pub weights_source: String,
    /// The side of the square input.
    pub input_side: usize,
    /// The input normalisation's name.
    pub normalisation: String,
    /// The length of the head's input.
    pub feature_dim: usize,
    /// The feature cache directory of its key.
    pub feature_cache: PathBuf,
    /// What the feature extraction did.
    pub features: ExtractStats,
    /// The final head, relative to the run's directory.
    pub head: PathBuf,
    /// The arithmetic of its dense convolutions (`f32`, `bf16`); records from before the
    /// option are `f32`.
    #[serde(default = "f32_name")]
    pub precision: String,
}

impl MemberRecord {
    /// The record of `member`, whose features (under `pooling`) are cached in `feature_cache`
    /// and whose final head is saved at `head` (relative to the run's directory).
    pub fn new(
        member: &Member,
        pooling: Pooling,
        features: ExtractStats,
        feature_cache: PathBuf,
        head: PathBuf,
    ) -> MemberRecord {
        let spec = member.kind.input(member.flavor);
        MemberRecord {
            backbone: member.kind,
            name: member.kind.display_name().to_string(),
            flavor: member.flavor,
            weights_path: member.provenance.path.clone(),
            weights_sha256: member.provenance.sha256.clone(),
            weights_source: member.provenance.source.clone(),
            input_side: spec.side,
            normalisation: spec.norm.name().to_string(),
            feature_dim: crate::extract::feature_len(member, pooling),
            feature_cache,
            features,
            head,
            precision: member.precision.name().to_string(),
        }
    }
}

fn f32_name() -> String {
    "f32".into()
}

/// One trained head: where, which member, its seed and its training history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadRecord {
    /// The part (split, fold, or `final`).
    pub part: String,
    /// The member whose features it reads.
    #[serde(with = "crate::by_name")]
    pub member: BackboneKind,
    /// The labels it learnt: `real`, or `permuted` (the control; the seed is in
    /// `seeds.permutation_control` or `seeds.permute_labels`).
    #[serde(default = "real_labels")]
    pub labels: String,
    /// The seed of its initialisation, shuffling and dropout.
    pub seed: u64,
    /// Training items.
    pub train_items: usize,
    /// Per-epoch loss and accuracy.
    pub history: mias_train::History,
}

/// Seconds of the paper method's steps: in `run.json`'s `timings_s`, between the run's
/// `weights` and `evaluation_and_outputs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaperTimings {
    /// Feature extraction, every member.
    pub features: f64,
    /// The paper protocol's heads (the control's included), when it ran.
    pub paper: Option<f64>,
    /// The image protocol's heads (the control's included), when it ran.
    #[serde(default)]
    pub image: Option<f64>,
    /// The honest protocol's heads (the control's included), when it ran.
    pub honest: Option<f64>,
    /// The official protocol's heads (the control's included), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<f64>,
    /// The final heads.
    pub final_heads: f64,
}
