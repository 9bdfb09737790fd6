//! The lesion method as `reproduce` runs it: run ([`LesionRun::run`]), its files written into
//! the run's `lesion/` ([`LesionRun::write`]), its section of `run.json`
//! ([`LesionRun::record`]), and the column it offers to a comparison with another method
//! ([`LesionRun::comparison_column`]).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use mias_data::{Dataset, LabelVariant};

use super::record::LesionRecord;
use super::report::{self, ModelEval, ReportConfig};
use super::{Inputs, LesionConfig, Outcome};
use crate::compare::ScoreColumn;
use crate::members::NotRun;
use crate::progress::Progress;
use crate::shard::Shard;

/// Reads the configuration at `path` (the committed `data/configs/lesion.toml` without one),
/// puts the command line's `seed` and `labels` over it and checks the result; returns it with
/// a description of where it came from (recorded in `run.json`). The label variant is still
/// the one asked for: `Dataset::label_variant` says which applies to a dataset.
pub fn configure(
    path: Option<&Path>,
    seed: Option<u64>,
    labels: Option<LabelVariant>,
) -> anyhow::Result<(LesionConfig, String)> {
    let (mut cfg, source) = match path {
        Some(path) => (LesionConfig::read(path)?, path.display().to_string()),
        None => (
            LesionConfig::committed()?,
            "data/configs/lesion.toml (committed)".to_string(),
        ),
    };
    if let Some(seed) = seed {
        cfg.seed = seed;
    }
    if let Some(labels) = labels {
        cfg.labels = labels;
    }
    cfg.validate()
        .context("lesion configuration, after applying the command-line flags")?;
    Ok((cfg, source))
}

/// `--shard I/N`: the dense maps of `shard`'s films into the cache ([`super::warm_cache`]),
/// each member's count said on stderr; returns the maps asked for and those computed, over
/// every member.
pub fn warm_shard(
    inputs: &Inputs<'_>,
    shard: Shard,
    progress: &mut dyn Progress,
) -> anyhow::Result<(usize, usize)> {
    let (mut maps, mut computed) = (0, 0);
    for (kind, s) in super::warm_cache(inputs, shard, progress)? {
        eprintln!(
            "shard {shard}: {kind}: {} maps, {} computed",
            s.maps, s.computed
        );
        (maps, computed) = (maps + s.maps, computed + s.computed);
    }
    Ok((maps, computed))
}

/// What the lesion method produced in a run, with what its record needs.
pub struct LesionRun {
    /// Every hyper-parameter, flags applied.
    pub config: LesionConfig,
    /// Where the configuration came from.
    pub config_source: String,
    /// The experiment's films, folds, members and scored models.
    pub outcome: Outcome,
    /// Each member's dense-map cache directory, in the members' order.
    pub map_caches: Vec<String>,
    /// The configured backbones without weights, and why.
    pub not_run: Vec<NotRun>,
    /// Seconds from `started` (given to [`LesionRun::run`]) to the end of the experiment.
    pub seconds: f64,
}

impl LesionRun {
    /// Runs the experiment on `inputs` (configured from `config_source`; `not_run` are the
    /// backbones of the configuration without weights) and says on stderr what each member's
    /// maps and cross-validation did. `started` is when the method began (its weights were
    /// looked for since), from which its seconds are counted.
    pub fn run(
        inputs: &Inputs<'_>,
        config_source: &str,
        not_run: Vec<NotRun>,
        started: Instant,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<LesionRun> {
        let outcome = super::run(inputs, progress)?;
        let map_caches = inputs
            .members
            .iter()
            .map(|m| {
                let key = super::maps::dense_key(
                    m,
                    super::maps::spec(inputs.config.side),
                    inputs.dataset,
                );
                Ok(inputs.cache.dir(&key)?.display().to_string())
            })
            .collect::<anyhow::Result<_>>()?;
        let seconds = started.elapsed().as_secs_f64();
        for m in &outcome.members {
            eprintln!(
                "{}: {} maps at {} px, {} computed, {:.1} s; cross-validation {:.1} s",
                m.member.kind.display_name(),
                m.maps.maps,
                inputs.config.side,
                m.maps.computed,
                m.maps.seconds,
                m.cv_seconds
            );
        }
        Ok(LesionRun {
            config: inputs.config.clone(),
            config_source: config_source.to_string(),
            outcome,
            map_caches,
            not_run,
            seconds,
        })
    }

    /// Writes the method's files into `lesion/` of the run's directory `dir` (see
    /// [`report::write`]) and its final models into `lesion/models/`; returns the figures for
    /// the console.
    pub fn write(&self, dir: &Path, dataset: &Dataset) -> anyhow::Result<Vec<ModelEval>> {
        let dir = dir.join("lesion");
        let cfg = &self.config;
        let report_cfg = ReportConfig {
            replicates: cfg.evaluation.bootstrap_replicates,
            seed: cfg.seed,
            heatmaps_per_class: cfg.evaluation.heatmaps_per_class,
        };
        let evals = report::write(&dir, &self.outcome, dataset, &report_cfg)?;
        super::saved::save(&dir.join("models"), &self.outcome, cfg.side)?;
        Ok(evals)
    }

    /// The method's section of `run.json`.
    pub fn record(&self) -> LesionRecord {
        LesionRecord::new(
            self.config_source.clone(),
            &self.config,
            &self.outcome,
            &self.map_caches,
            self.not_run.iter().map(ToString::to_string).collect(),
            self.seconds,
        )
    }

    /// The headline model's out-of-fold scores, for a paired comparison with another method
    /// ([`crate::compare`]); `None` without a headline model, or under the negative control
    /// (its labels differ between methods, so it is compared with none).
    pub fn comparison_column(&self, dataset: &Dataset) -> anyhow::Result<Option<ScoreColumn>> {
        if self.outcome.permute_labels.is_some() {
            return Ok(None);
        }
        report::headline_column(&self.outcome, dataset)
    }

    /// The bootstrap over women of a comparison with this method: the configuration's
    /// replicates and seed.
    pub fn bootstrap(&self) -> mias_eval::Bootstrap {
        mias_eval::Bootstrap {
            replicates: self.config.evaluation.bootstrap_replicates,
            seed: self.config.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_and_labels_flags_go_over_the_configuration() {
        let (committed, source) = configure(None, None, None).unwrap();
        assert_eq!(committed, LesionConfig::committed().unwrap());
        assert_eq!(source, "data/configs/lesion.toml (committed)");
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lesion.toml");
        std::fs::write(&path, super::super::config::LESION_TOML).unwrap();
        let (cfg, source) = configure(Some(&path), Some(9), Some(LabelVariant::Paper)).unwrap();
        assert_eq!(source, path.display().to_string());
        assert_eq!((cfg.seed, cfg.labels), (9, LabelVariant::Paper));
        assert_eq!(cfg.classifier, committed.classifier);
        let missing = tmp.path().join("missing.toml");
        let err = format!("{:#}", configure(Some(&missing), None, None).unwrap_err());
        assert!(err.contains("missing.toml"), "{err}");
    }
}
