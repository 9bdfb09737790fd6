//! The record of a run, `run.json`: what ran (tool, revision, command, configuration, data,
//! each member's weights and features), every seed and trained head, and how long each step
//! took. `reproduce` writes it into the run's directory, `predict` reads it back: both through
//! the types of this module, so the file has one owner.
//!
//! The record carries a schema number. Records written before the number existed have the
//! layout of schema 1 and read as such; a record of a newer schema is refused with a message
//! that says so.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mias_backbones::{BackboneKind, Flavor};
use mias_data::LabelVariant;
use serde::{Deserialize, Serialize};

use crate::extract::ExtractStats;
use crate::members::{Member, NotRun};
use crate::paper::config::{ExperimentConfig, Pooling, Protocol};

/// The schema this build writes, and the newest it reads.
pub const SCHEMA: u32 = 1;

/// The record's file name inside a run's directory.
pub const FILE: &str = "run.json";

/// The record of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The layout of this record ([`SCHEMA`] when written by this build).
    #[serde(default = "schema_before_numbering")]
    pub schema: u32,
    /// The program and command (`mias reproduce`).
    pub tool: String,
    /// The program's version.
    pub version: String,
    /// The source tree it was built from.
    pub git: Git,
    /// The command line.
    pub command: Vec<String>,
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix_s: u64,
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
    /// The dataset.
    pub data: DataRecord,
    /// The members that ran, in order.
    pub members: Vec<MemberRecord>,
    /// The backbones left out, and why.
    pub not_run: Vec<NotRun>,
    /// Every trained head: the protocols' and then the final ones.
    pub heads: Vec<HeadRecord>,
    /// Seconds per step.
    pub timings_s: Timings,
    /// Threads available to the run.
    pub threads: usize,
    /// Where backbones and heads ran (`cpu` or `cuda`).
    pub device: String,
    /// The methods that ran (`paper`, `lesion`); records from before the lesion method hold
    /// the paper's alone.
    #[serde(default = "paper_only")]
    pub methods: Vec<String>,
    /// The lesion method's own section (its types live with the method: `lesion::LesionRecord`),
    /// when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesion: Option<serde_json::Value>,
}

fn paper_only() -> Vec<String> {
    vec!["paper".into()]
}

/// Records written before the schema number existed have the layout of schema 1.
fn schema_before_numbering() -> u32 {
    1
}

/// The source tree a build came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Git {
    /// The commit, or `unknown` outside a git checkout.
    pub revision: String,
    /// Whether tracked files differed from the commit (none when git could not say).
    pub dirty: Option<bool>,
}

impl Git {
    /// The commit and state of the source tree this program was built from, asked of `git`
    /// at run time (`unknown` when it cannot say).
    pub fn of_build() -> Git {
        let dir = env!("CARGO_MANIFEST_DIR");
        let run = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        Git {
            revision: run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            dirty: run(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
        }
    }
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

/// The dataset a run read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRecord {
    /// Its directory.
    pub dir: String,
    /// Images.
    pub images: usize,
    /// Normal images under the run's labels.
    pub normal: usize,
    /// Abnormal images under the run's labels.
    pub abnormal: usize,
    /// Whether it was checked against the official checksums.
    pub verified: bool,
    /// `mini-mias`, `manifest` or `cbis-ddsm` (records written before collections were read
    /// are Mini-MIAS).
    #[serde(default = "mini_mias")]
    pub kind: String,
    /// Women (patients).
    #[serde(default)]
    pub patients: usize,
}

fn mini_mias() -> String {
    "mini-mias".into()
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

/// Seconds spent per step of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// The whole run.
    pub total: f64,
    /// Opening and verifying the dataset.
    pub data: f64,
    /// Finding and checksumming the weights.
    pub weights: f64,
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
    /// Metrics, tables, figures and files.
    pub evaluation_and_outputs: f64,
}

impl RunRecord {
    /// Writes the record into the run's directory `dir`, atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self).context("encoding the run record")?;
        Ok(mias_core::fs::write_atomic(&dir.join(FILE), &json)?)
    }

    /// Reads the record of the run in `dir`; errors name the file and say what is wrong.
    pub fn read(dir: &Path) -> anyhow::Result<RunRecord> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a directory written by `reproduce`?)",
                path.display(),
                dir.display()
            )
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON file", path.display()))?;
        let schema = match value.get("schema") {
            None => schema_before_numbering(),
            Some(v) => v
                .as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .with_context(|| {
                    format!("{}: key `schema`: {v} is not a number", path.display())
                })?,
        };
        if schema > SCHEMA {
            bail!(
                "{}: written by a newer mias (record schema {schema}; this build reads up to \
                 {SCHEMA}): use that version, or rerun `reproduce` with this one",
                path.display()
            );
        }
        let record: RunRecord = serde_json::from_value(value)
            .with_context(|| format!("{}: not a run record of schema {schema}", path.display()))?;
        if record.members.is_empty() {
            bail!("{}: the run has no members", path.display());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mias_backbones::Provenance;

    fn record() -> RunRecord {
        let cfg = ExperimentConfig::paper().unwrap();
        let member = Member {
            kind: BackboneKind::MobileNetV2,
            flavor: Flavor::Keras,
            provenance: Provenance {
                path: "w/mobilenetv2.coral.safetensors".into(),
                sha256: "ab".repeat(32),
                source: "file".into(),
            },
            precision: mias_backbones::Precision::F32,
        };
        RunRecord {
            schema: SCHEMA,
            tool: "mias reproduce".into(),
            version: "0.1.0".into(),
            git: Git {
                revision: "unknown".into(),
                dirty: None,
            },
            command: vec!["mias".into(), "reproduce".into()],
            started_unix_s: 1,
            config_source: "test".into(),
            protocols: vec![Protocol::Paper, Protocol::Honest],
            label_variant: cfg.labels,
            seeds: Seeds::from_experiment(cfg.seed),
            data: DataRecord {
                dir: "data".into(),
                images: 322,
                normal: 207,
                abnormal: 115,
                verified: true,
                kind: "mini-mias".into(),
                patients: 161,
            },
            members: vec![MemberRecord::new(
                &member,
                cfg.pooling,
                ExtractStats::default(),
                "cache/x".into(),
                "heads/mobilenetv2.safetensors".into(),
            )],
            not_run: vec![NotRun {
                backbone: BackboneKind::NasNetLarge,
                reason: "no weights".into(),
            }],
            heads: vec![HeadRecord {
                part: "final".into(),
                member: BackboneKind::MobileNetV2,
                labels: "real".into(),
                seed: 3,
                train_items: 10,
                history: mias_train::History::default(),
            }],
            timings_s: Timings::default(),
            threads: 2,
            device: "cpu".into(),
            methods: vec!["paper".into()],
            lesion: None,
            config: cfg,
        }
    }

    #[test]
    fn a_record_reads_back_as_written_with_names_for_backbones() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = record();
        rec.write(tmp.path()).unwrap();
        let text = std::fs::read_to_string(tmp.path().join(FILE)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["members"][0]["backbone"], "mobilenetv2");
        assert_eq!(json["members"][0]["name"], "MobileNetV2");
        assert_eq!(json["members"][0]["flavor"], "keras");
        assert_eq!(json["not_run"][0]["backbone"], "nasnetlarge");
        assert_eq!(json["heads"][0]["member"], "mobilenetv2");
        assert_eq!(json["protocols"], serde_json::json!(["paper", "honest"]));
        assert_eq!(json["label_variant"], "official");
        assert_eq!(
            json["config"]["backbones"],
            serde_json::json!(["vgg16", "xception", "mobilenetv2", "nasnetlarge"])
        );
        assert_eq!(RunRecord::read(tmp.path()).unwrap(), rec);
    }

    #[test]
    fn unnumbered_records_are_schema_1_and_newer_or_damaged_ones_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = record();
        let mut json = serde_json::to_value(&rec).unwrap();
        json.as_object_mut().unwrap().remove("schema");
        let path = tmp.path().join(FILE);
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(RunRecord::read(tmp.path()).unwrap().schema, 1);

        json["schema"] = 2.into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = format!("{:#}", RunRecord::read(tmp.path()).unwrap_err());
        assert!(
            err.contains("run.json") && err.contains("newer mias"),
            "{err}"
        );

        json["schema"] = 1.into();
        json["members"][0]["backbone"] = "resnet50".into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = format!("{:#}", RunRecord::read(tmp.path()).unwrap_err());
        assert!(
            err.contains("run.json") && err.contains("resnet50"),
            "{err}"
        );

        let err = format!(
            "{:#}",
            RunRecord::read(&tmp.path().join("none")).unwrap_err()
        );
        assert!(err.contains("written by `reproduce`"), "{err}");
    }
}
