//! The paper method as `reproduce` runs it: configured ([`Setup`]), run and evaluated
//! ([`PaperRun::run`]), its files written into the run's directory ([`PaperRun::write`]), its
//! part of `run.json` ([`Setup::record`]), and the column it offers to a comparison with
//! another method ([`PaperRun::comparison_column`]).

use std::path::Path;

use anyhow::Context;
use mias_backbones::BackboneKind;
use mias_data::{Dataset, LabelVariant};
use mias_eval::EvalConfig;

use super::config::{ExperimentConfig, Pooling, Protocol};
use super::experiment::{Inputs, Outcome};
use super::record::{MemberRecord, PaperRecord, PaperTimings, Seeds};
use super::report::{self, ProtocolEval};
use crate::cache::FeatureCache;
use crate::compare::ScoreColumn;
use crate::extract::cache_key;
use crate::labels::LabelSource;
use crate::members::{Member, Model, NotRun};
use crate::progress::Progress;
use crate::shard::Shard;

/// Values the command line puts over the configuration's (each `None`: the file's).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// The backbones, in order.
    pub backbones: Option<Vec<BackboneKind>>,
    /// The seed of every draw.
    pub seed: Option<u64>,
    /// How a backbone's last map becomes a head's input.
    pub pooling: Option<Pooling>,
    /// The label variant.
    pub labels: Option<LabelVariant>,
}

/// Reads the configuration at `path` (the committed `data/configs/paper.toml` without one),
/// puts `overrides` over it and checks the result; returns it with a description of where it
/// came from (recorded in `run.json`). Errors name the file or the key.
pub fn configure(
    path: Option<&Path>,
    overrides: &Overrides,
) -> anyhow::Result<(ExperimentConfig, String)> {
    let (mut cfg, source) = match path {
        Some(path) => (ExperimentConfig::read(path)?, path.display().to_string()),
        None => (
            ExperimentConfig::paper()?,
            "data/configs/paper.toml (committed)".to_string(),
        ),
    };
    if let Some(backbones) = &overrides.backbones {
        cfg.backbones = backbones.clone();
    }
    if let Some(seed) = overrides.seed {
        cfg.seed = seed;
    }
    if let Some(pooling) = overrides.pooling {
        cfg.pooling = pooling;
    }
    if let Some(labels) = overrides.labels {
        cfg.labels = labels;
    }
    cfg.validate()
        .context("after applying the command-line flags")?;
    Ok((cfg, source))
}

/// The paper method as configured for a run, before it runs.
pub struct Setup {
    /// Every hyper-parameter, flags applied.
    pub config: ExperimentConfig,
    /// Where the configuration came from.
    pub config_source: String,
    /// The backbones with weights (none when the run leaves the method out).
    pub members: Vec<Member>,
    /// The backbones without weights, and why.
    pub not_run: Vec<NotRun>,
}

impl Setup {
    /// The method's part of `run.json`: `run` when it ran (else the configuration and empty
    /// lists), each member's features cached in `cache` for `dataset`; `permute_labels` is the
    /// seed of a run that is a negative control as a whole.
    pub fn record(
        &self,
        run: Option<&PaperRun>,
        cache: &FeatureCache,
        dataset: &Dataset,
        permute_labels: Option<u64>,
    ) -> anyhow::Result<PaperRecord> {
        let cfg = &self.config;
        let outcome = run.map(|r| &r.outcome);
        let extraction = outcome.map_or(&[][..], |o| &o.extraction[..]);
        let members = self
            .members
            .iter()
            .zip(extraction)
            .map(|(m, (_, stats))| {
                let key = cache_key(m, &cfg.augment, cfg.seed, cfg.pooling, dataset)?;
                Ok(MemberRecord::new(
                    m,
                    cfg.pooling,
                    *stats,
                    cache.dir(&key)?,
                    report::head_file(m.kind),
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(PaperRecord {
            config_source: self.config_source.clone(),
            config: cfg.clone(),
            protocols: outcome.map_or(Vec::new(), |o| o.main().map(|o| o.protocol).collect()),
            label_variant: cfg.labels,
            seeds: Seeds {
                permutation_control: outcome.and_then(Outcome::control_seed),
                permute_labels,
                ..Seeds::from_experiment(cfg.seed)
            },
            members,
            not_run: self.not_run.clone(),
            heads: outcome.map_or(Vec::new(), Outcome::head_records),
        })
    }
}

/// `--shard I/N`: the features of `shard`'s images into the cache
/// ([`super::experiment::warm_cache`]), each member's count said on stderr; returns the views
/// asked for and those computed, over every member.
pub fn warm_shard(
    inputs: &Inputs<'_>,
    shard: Shard,
    progress: &mut dyn Progress,
) -> anyhow::Result<(usize, usize)> {
    let (mut items, mut computed) = (0, 0);
    for (kind, s) in super::experiment::warm_cache(inputs, shard, progress)? {
        eprintln!(
            "shard {shard}: {kind}: {} views, {} computed",
            s.items, s.computed
        );
        (items, computed) = (items + s.items, computed + s.computed);
    }
    Ok((items, computed))
}

/// What the paper method produced in a run, evaluated.
pub struct PaperRun {
    /// The experiment's heads, predictions and statistics.
    pub outcome: Outcome,
    /// Every protocol's evaluation, real labels and the control's.
    pub evals: Vec<ProtocolEval>,
    /// The evaluation settings (the config's threshold, the bootstrap seeded from its seed).
    pub eval: EvalConfig,
}

impl PaperRun {
    /// Runs the experiment on `inputs` (features, protocols, final heads), says on stderr what
    /// each member's extraction did, and evaluates every protocol.
    pub fn run(inputs: &Inputs<'_>, progress: &mut dyn Progress) -> anyhow::Result<PaperRun> {
        let outcome = super::experiment::run(inputs, progress)?;
        for (kind, s) in &outcome.extraction {
            eprintln!(
                "{kind}: {} views, {} computed, {} from the cache, {:.1} s",
                s.items,
                s.computed,
                s.items - s.computed,
                s.seconds
            );
        }
        let eval = report::eval_config(inputs.config.threshold, inputs.config.seed);
        let evals = outcome
            .protocols
            .iter()
            .map(|o| report::evaluate(o, &outcome.members, &eval))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(PaperRun {
            outcome,
            evals,
            eval,
        })
    }

    /// Writes the method's files into the run's directory `dir` (see
    /// [`report::write_results`]); `not_run` are the backbones the tables name as left out.
    pub fn write(&self, dir: &Path, dataset: &Dataset, not_run: &[NotRun]) -> anyhow::Result<()> {
        report::write_results(
            dir,
            &self.outcome,
            dataset,
            &self.evals,
            &self.eval,
            not_run,
        )
    }

    /// The seconds of the method's steps.
    pub fn timings(&self) -> PaperTimings {
        let o = &self.outcome;
        PaperTimings {
            features: o.extraction.iter().map(|(_, s)| s.seconds).sum(),
            paper: o.seconds(Protocol::Paper),
            image: o.seconds(Protocol::Image),
            honest: o.seconds(Protocol::Honest),
            official: o.seconds(Protocol::Official),
            final_heads: o.final_seconds,
        }
    }

    /// The ensemble's out-of-fold probabilities under the honest protocol, for a paired
    /// comparison with another method ([`crate::compare`]); `None` when the honest protocol
    /// did not run, or when the run's labels are permuted (a control's labels differ between
    /// methods, so it is compared with none).
    pub fn comparison_column(&self, dataset: &Dataset) -> anyhow::Result<Option<ScoreColumn>> {
        if self.outcome.labels != LabelSource::Real {
            return Ok(None);
        }
        report::honest_column(&self.outcome, Model::Ensemble, dataset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper::config::Pooling;

    #[test]
    fn the_flags_go_over_the_configuration_and_are_checked() {
        let (committed, source) = configure(None, &Overrides::default()).unwrap();
        assert_eq!(committed, ExperimentConfig::paper().unwrap());
        assert_eq!(source, "data/configs/paper.toml (committed)");

        let overrides = Overrides {
            backbones: Some(vec![BackboneKind::MobileNetV2]),
            seed: Some(5),
            pooling: Some(Pooling::Flatten),
            labels: Some(LabelVariant::Malignant),
        };
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("paper.toml");
        std::fs::write(&path, super::super::config::PAPER_TOML).unwrap();
        let (cfg, source) = configure(Some(&path), &overrides).unwrap();
        assert_eq!(source, path.display().to_string());
        assert_eq!(cfg.backbones, [BackboneKind::MobileNetV2]);
        assert_eq!(
            (cfg.seed, cfg.pooling, cfg.labels),
            (5, Pooling::Flatten, LabelVariant::Malignant)
        );
        assert_eq!(cfg.train, committed.train);

        let none = Overrides {
            backbones: Some(Vec::new()),
            ..Overrides::default()
        };
        let err = format!("{:#}", configure(None, &none).unwrap_err());
        assert!(
            err.contains("after applying the command-line flags") && err.contains("backbones"),
            "{err}"
        );
    }

    #[test]
    fn a_run_without_the_method_records_its_configuration_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = crate::prepare::tests::tiny_mini_mias(tmp.path(), &[false, true]);
        let cache = FeatureCache::new(tmp.path().join("cache")).for_dataset(&ds);
        let not_run = vec![NotRun {
            backbone: BackboneKind::Xception,
            reason: "no weights".into(),
        }];
        let setup = Setup {
            config: ExperimentConfig::paper().unwrap(),
            config_source: "test".into(),
            members: Vec::new(),
            not_run: not_run.clone(),
        };
        let rec = setup.record(None, &cache, &ds, Some(11)).unwrap();
        let seed = setup.config.seed;
        let expected = PaperRecord {
            config_source: "test".into(),
            config: setup.config.clone(),
            protocols: Vec::new(),
            label_variant: setup.config.labels,
            seeds: Seeds {
                permute_labels: Some(11),
                ..Seeds::from_experiment(seed)
            },
            members: Vec::new(),
            not_run,
            heads: Vec::new(),
        };
        assert_eq!(rec, expected);
        assert_eq!(rec.seeds.experiment, seed);
        assert_eq!(rec.seeds.permutation_control, None);
    }
}
