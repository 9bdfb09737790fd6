//! The record of a run, `run.json`: what ran (tool, revision, command, data), each method's
//! part (the paper method's configuration, seeds, members and heads: `paper::record`; the
//! lesion method's section: `lesion::record`), and how long each step took. `reproduce` writes
//! it into the run's directory, `predict` reads it back: both through the types of this
//! module, so the file has one owner. It stands above both methods: it knows their record
//! types, and no method reads it.
//!
//! The record carries a schema number. Records written before the number existed have the
//! layout of schema 1 and read as such; a record of a newer schema is refused with a message
//! that says so.

use std::path::Path;

use anyhow::{Context, bail};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::lesion::record::LesionRecord;
use crate::paper::record::{PaperRecord, PaperTimings};
pub use crate::prepare::DataRecord;

/// The schema this build writes, and the newest it reads.
pub const SCHEMA: u32 = 1;

/// The record's file name inside a run's directory.
pub const FILE: &str = "run.json";

/// The record of one run.
///
/// Written field by field in the order of schema 1 (see the [`Serialize`] impl), the paper
/// method's fields among the run's own: `schema`, `tool`, `version`, `git`, `command`,
/// `started_unix_s`, `config_source`, `config`, `protocols`, `label_variant`, `seeds`, `data`,
/// `members`, `not_run`, `heads`, `timings_s`, `threads`, `device`, `methods`, `lesion`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
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
    /// The dataset.
    pub data: DataRecord,
    /// The paper method's part (its configuration even when it did not run).
    #[serde(flatten)]
    pub paper: PaperRecord,
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
    /// The lesion method's section, when it ran.
    #[serde(default)]
    pub lesion: Option<LesionRecord>,
}

impl Serialize for RunRecord {
    /// The order of schema 1, in which the paper method's fields stand in two groups around
    /// `data`; a derived impl with the paper's part flattened would write them together.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.paper;
        let mut r = s.serialize_struct("RunRecord", 20)?;
        r.serialize_field("schema", &self.schema)?;
        r.serialize_field("tool", &self.tool)?;
        r.serialize_field("version", &self.version)?;
        r.serialize_field("git", &self.git)?;
        r.serialize_field("command", &self.command)?;
        r.serialize_field("started_unix_s", &self.started_unix_s)?;
        r.serialize_field("config_source", &p.config_source)?;
        r.serialize_field("config", &p.config)?;
        r.serialize_field("protocols", &p.protocols)?;
        r.serialize_field("label_variant", &p.label_variant)?;
        r.serialize_field("seeds", &p.seeds)?;
        r.serialize_field("data", &self.data)?;
        r.serialize_field("members", &p.members)?;
        r.serialize_field("not_run", &p.not_run)?;
        r.serialize_field("heads", &p.heads)?;
        r.serialize_field("timings_s", &self.timings_s)?;
        r.serialize_field("threads", &self.threads)?;
        r.serialize_field("device", &self.device)?;
        r.serialize_field("methods", &self.methods)?;
        match &self.lesion {
            // Schema 1 wrote the lesion section through a `serde_json::Value`, whose keys are
            // sorted at every level; it still goes through one, so its bytes stay the same.
            Some(lesion) => {
                let value = serde_json::to_value(lesion).map_err(serde::ser::Error::custom)?;
                r.serialize_field("lesion", &value)?;
            }
            None => r.skip_field("lesion")?,
        }
        r.end()
    }
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

/// Seconds spent per step of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// The whole run.
    pub total: f64,
    /// Opening and verifying the dataset.
    pub data: f64,
    /// Finding and checksumming the weights.
    pub weights: f64,
    /// The paper method's steps (`features`, `paper`, `image`, `honest`, `official`,
    /// `final_heads`), written in their place among the run's.
    #[serde(flatten)]
    pub paper: PaperTimings,
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
        if record.paper.members.is_empty() && record.lesion.is_none() {
            bail!("{}: the run has no members", path.display());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ExtractStats;
    use crate::members::{Member, NotRun};
    use crate::paper::config::{ExperimentConfig, Protocol};
    use crate::paper::record::{HeadRecord, MemberRecord, Seeds};
    use mias_backbones::{BackboneKind, Flavor, Provenance};

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
            data: DataRecord {
                dir: "data".into(),
                images: 322,
                normal: 207,
                abnormal: 115,
                verified: true,
                kind: "mini-mias".into(),
                patients: 161,
            },
            paper: PaperRecord {
                config_source: "test".into(),
                protocols: vec![Protocol::Paper, Protocol::Honest],
                label_variant: cfg.labels,
                seeds: Seeds::from_experiment(cfg.seed),
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
                config: cfg,
            },
            timings_s: Timings::default(),
            threads: 2,
            device: "cpu".into(),
            methods: vec!["paper".into()],
            lesion: None,
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

    /// The keys of the lines of pretty-printed JSON `text` indented by `indent` spaces, in
    /// order.
    fn keys_at(text: &str, indent: usize) -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                let key = l.strip_prefix(&" ".repeat(indent))?.strip_prefix('"')?;
                Some(key.split_once("\":")?.0.to_string())
            })
            .collect()
    }

    #[test]
    fn the_keys_come_in_the_order_of_schema_1() {
        let tmp = tempfile::tempdir().unwrap();
        let mut rec = record();
        rec.timings_s.paper.official = Some(1.0);
        rec.write(tmp.path()).unwrap();
        let text = std::fs::read_to_string(tmp.path().join(FILE)).unwrap();
        let timings = text.split("\"timings_s\": {").nth(1).unwrap();
        let timings = timings.split("\n  }").next().unwrap();
        assert_eq!(
            keys_at(&text, 2),
            [
                "schema",
                "tool",
                "version",
                "git",
                "command",
                "started_unix_s",
                "config_source",
                "config",
                "protocols",
                "label_variant",
                "seeds",
                "data",
                "members",
                "not_run",
                "heads",
                "timings_s",
                "threads",
                "device",
                "methods"
            ]
        );
        assert_eq!(
            keys_at(timings, 4),
            [
                "total",
                "data",
                "weights",
                "features",
                "paper",
                "image",
                "honest",
                "official",
                "final_heads",
                "evaluation_and_outputs"
            ]
        );
    }

    /// A record as the first builds wrote it, by hand: no `schema`, `methods` or `lesion`; no
    /// image protocol's timing, no kind or women in `data`, no precision, no labels per head.
    #[test]
    fn a_record_of_the_first_layout_reads_with_its_defaults() {
        let config = serde_json::to_value(ExperimentConfig::paper().unwrap()).unwrap();
        let text = serde_json::json!({
            "tool": "mias reproduce",
            "version": "0.1.0",
            "git": {"revision": "abc", "dirty": false},
            "command": ["mias", "reproduce"],
            "started_unix_s": 1_700_000_000u64,
            "config_source": "data/configs/paper.toml (committed)",
            "config": config,
            "protocols": ["paper", "honest"],
            "label_variant": "official",
            "seeds": {
                "experiment": 42, "augmentation": 42, "split_and_folds": 42,
                "head_seeds": "derived", "bootstrap": 42
            },
            "data": {
                "dir": "data/mini-mias", "images": 322, "normal": 207, "abnormal": 115,
                "verified": true
            },
            "members": [{
                "backbone": "vgg16", "name": "VGG16", "flavor": "keras",
                "weights_path": "w/vgg16.keras.safetensors", "weights_sha256": "cd",
                "weights_source": "file", "input_side": 224, "normalisation": "caffe",
                "feature_dim": 512, "feature_cache": "cache/vgg16",
                "features": {"items": 4, "computed": 4, "seconds": 0.5},
                "head": "heads/vgg16.safetensors"
            }],
            "not_run": [],
            "heads": [{
                "part": "final", "member": "vgg16", "seed": 9, "train_items": 4,
                "history": {"epochs": []}
            }],
            "timings_s": {
                "total": 3.0, "data": 0.1, "weights": 0.2, "features": 0.5, "paper": 1.0,
                "honest": 1.0, "final_heads": 0.1, "evaluation_and_outputs": 0.1
            },
            "threads": 2,
            "device": "cpu"
        });
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(FILE), text.to_string()).unwrap();
        let rec = RunRecord::read(tmp.path()).unwrap();
        assert_eq!(rec.schema, 1);
        assert_eq!(rec.methods, ["paper"]);
        assert_eq!(rec.lesion, None);
        assert_eq!(
            (rec.data.kind.as_str(), rec.data.patients),
            ("mini-mias", 0)
        );
        let member = &rec.paper.members[0];
        assert_eq!(
            (member.backbone, member.flavor),
            (BackboneKind::Vgg16, Flavor::Keras)
        );
        assert_eq!(member.precision, "f32");
        assert_eq!(rec.paper.heads[0].labels, "real");
        assert_eq!(rec.paper.seeds.permutation_control, None);
        assert_eq!(rec.paper.seeds.permute_labels, None);
        let t = &rec.timings_s.paper;
        assert_eq!(
            (t.paper, t.image, t.honest, t.official),
            (Some(1.0), None, Some(1.0), None)
        );
        assert_eq!(rec.timings_s.evaluation_and_outputs, 0.1);
    }

    /// A run.json the build before the typed record wrote (`tests/data/run-schema1/`).
    const SCHEMA_1: &str = include_str!("../tests/data/run-schema1/run.json");

    #[test]
    fn a_record_written_before_the_typed_record_reads_and_writes_back_byte_for_byte() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(FILE), SCHEMA_1).unwrap();
        let rec = RunRecord::read(tmp.path()).unwrap();
        assert_eq!(rec.methods, ["paper", "lesion"]);
        assert_eq!(rec.paper.members[0].backbone, BackboneKind::MobileNetV2);
        assert_eq!(
            rec.paper.seeds.permutation_control,
            Some(14866487246894949068)
        );
        let lesion = rec.lesion.as_ref().unwrap();
        assert_eq!((lesion.config.seed, lesion.config.side), (3, 256));
        assert_eq!(lesion.members[0].final_model.fits.fits, 5);
        let out = tempfile::tempdir().unwrap();
        rec.write(out.path()).unwrap();
        let written = std::fs::read_to_string(out.path().join(FILE)).unwrap();
        assert!(written == SCHEMA_1, "run.json changed:\n{written}");
    }

    /// The lesion section of records from before `precision` and the count of fits reads
    /// with their defaults; a run of the lesion method alone (no paper member) reads.
    #[test]
    fn older_lesion_sections_and_lesion_only_runs_read() {
        let mut json: serde_json::Value = serde_json::from_str(SCHEMA_1).unwrap();
        let member = &mut json["lesion"]["members"][0];
        member.as_object_mut().unwrap().remove("precision");
        member["final_model"]
            .as_object_mut()
            .unwrap()
            .remove("fits");
        member["folds"][0].as_object_mut().unwrap().remove("fits");
        json["members"] = serde_json::json!([]);
        json["heads"] = serde_json::json!([]);
        json["methods"] = serde_json::json!(["lesion"]);
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(FILE), json.to_string()).unwrap();
        let rec = RunRecord::read(tmp.path()).unwrap();
        let member = &rec.lesion.unwrap().members[0];
        assert_eq!(member.precision, "f32");
        assert_eq!(member.final_model.fits.fits, 0);
        assert_eq!(member.folds[0].fits.fits, 0);
        assert_eq!(member.folds[1].fits.fits, 4);
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

        json["members"] = serde_json::json!([]);
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = format!("{:#}", RunRecord::read(tmp.path()).unwrap_err());
        assert!(err.contains("no members"), "{err}");

        let err = format!(
            "{:#}",
            RunRecord::read(&tmp.path().join("none")).unwrap_err()
        );
        assert!(err.contains("written by `reproduce`"), "{err}");
    }
}
