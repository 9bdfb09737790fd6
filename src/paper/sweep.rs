//! The leak sweep: the paper protocol rerun while the number of views per image and the
//! augmentation strength vary, with real and permuted labels, beside the honest protocol's
//! figure. It shows how much of the paper protocol's figures the copies make: more copies and
//! more alike copies put more near-twins of every test item into training.
//!
//! Strength `s` scales the configuration's augmentation ([`Augment::scaled`]): every range
//! times `s`, flips kept above 0; strength 0 makes exact copies, whose features are the
//! original's and cost no extraction. Every view comes through the feature cache, so a sweep
//! after `reproduce` (same seed and strength 1) recomputes nothing it already has.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use candle_core::Device;
use mias_backbones::BackboneKind;
use mias_data::augment::Augment;
use mias_data::split::Item;
use mias_data::{Dataset, ImageId};
use mias_eval::{Estimate, Evaluation, Metric};

use super::experiment::ProtocolOutcome;
use super::protocol::{self, HeadSetup, Part};
use super::report;
use crate::cache::FeatureCache;
use crate::extract::{self, Extractor, Features};
use crate::labels::{self, LabelSource, Labels};
use crate::members::{Member, Model};
use crate::paper::config::{ExperimentConfig, Protocol};
use crate::progress::Progress;

/// What the sweep runs on and over.
pub struct SweepInputs<'a> {
    /// The dataset (opened and verified).
    pub dataset: &'a Dataset,
    /// Every hyper-parameter; `paper.views` is replaced by each value of `views`, `augment`
    /// scaled by each value of `strengths`.
    pub config: &'a ExperimentConfig,
    /// The backbones that run.
    pub members: &'a [Member],
    /// Views per image under the paper protocol (1 = originals only).
    pub views: &'a [u32],
    /// Augmentation strengths in `[0, 1]`.
    pub strengths: &'a [f64],
    /// The feature cache.
    pub cache: &'a FeatureCache,
    /// Images per backbone forward pass.
    pub batch: usize,
    /// Where backbones and heads run.
    pub device: &'a Device,
}

/// One model's figures at one point of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Views per image (the honest protocol's training views for its rows).
    pub views: u32,
    /// Augmentation strength.
    pub strength: f64,
    /// Real or permuted labels.
    pub labels: LabelSource,
    /// `paper`, or `honest` for the reference rows.
    pub protocol: Protocol,
    /// A member or the ensemble.
    pub model: Model,
    /// Test items (out-of-fold images for the honest protocol).
    pub test_items: usize,
    /// Accuracy at the configuration's threshold with its interval (mean over folds and a
    /// Student t interval for the honest protocol).
    pub accuracy: Estimate,
    /// AUC with its interval (DeLong, or the stratified bootstrap on tiny test sets; mean over
    /// folds for the honest protocol).
    pub auc: Option<Estimate>,
}

/// Checks the sweep's axes.
pub fn check_axes(views: &[u32], strengths: &[f64]) -> anyhow::Result<()> {
    if views.is_empty() || strengths.is_empty() {
        bail!("--views and --strength: at least one value each");
    }
    if let Some(v) = views.iter().find(|v| !(1..=50).contains(*v)) {
        bail!("--views: {v} is not in 1..=50 (1 means no copies)");
    }
    if let Some(s) = strengths.iter().find(|s| !(0.0..=1.0).contains(*s)) {
        bail!("--strength: {s} is not in [0, 1]");
    }
    Ok(())
}

/// Runs the sweep: for every strength and number of views, the paper protocol with real and
/// permuted labels; then the honest protocol at the configuration's own settings.
pub fn run(inputs: &SweepInputs<'_>, progress: &mut dyn Progress) -> anyhow::Result<Vec<SweepRow>> {
    check_axes(inputs.views, inputs.strengths)?;
    if inputs.members.is_empty() {
        bail!("no backbone to run");
    }
    let cfg = inputs.config;
    let records = inputs.dataset.records();
    let labelling = inputs.dataset.labelling(cfg.labels);
    let ids: Vec<ImageId> = records.iter().map(|r| r.id).collect();
    let members: Vec<BackboneKind> = inputs.members.iter().map(|m| m.kind).collect();
    let sources = [
        LabelSource::Real,
        LabelSource::Permuted {
            seed: labels::control_seed(cfg.seed),
        },
    ];
    let label_sets: Vec<Labels> = sources
        .iter()
        .map(|&s| Labels::new(records, labelling, s))
        .collect();
    let max_views = inputs.views.iter().copied().max().unwrap_or(1);
    let mut rows = Vec::new();
    for &strength in inputs.strengths {
        let table = ViewTable::build(inputs, strength, &ids, max_views, progress)?;
        for &views in inputs.views {
            let mut point = cfg.clone();
            point.paper.views = views;
            let parts = protocol::plan(Protocol::Paper, records, labelling, &point)?;
            for labels in &label_sets {
                let at = Point {
                    views,
                    strength,
                    protocol: Protocol::Paper,
                };
                rows.extend(at.evaluate(cfg, &parts, &members, labels, &table, inputs.device)?);
            }
        }
    }
    let table = ViewTable::build(inputs, 1.0, &ids, cfg.honest.views, progress)?;
    let parts = protocol::plan(Protocol::Honest, records, labelling, cfg)?;
    for labels in &label_sets {
        let at = Point {
            views: cfg.honest.views,
            strength: 1.0,
            protocol: Protocol::Honest,
        };
        rows.extend(at.evaluate(cfg, &parts, &members, labels, &table, inputs.device)?);
    }
    Ok(rows)
}

/// Every member's features of views `0..max_views` of every image at one strength.
struct ViewTable {
    by_member: BTreeMap<BackboneKind, Features>,
    /// Strength 0: every view is the original.
    exact_copies: bool,
}

impl ViewTable {
    fn build(
        inputs: &SweepInputs<'_>,
        strength: f64,
        ids: &[ImageId],
        max_views: u32,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<ViewTable> {
        let cfg = inputs.config;
        let scaled = cfg
            .augment
            .scaled(strength)
            .with_context(|| format!("--strength {strength}"))?;
        let exact_copies = scaled.is_identity();
        let mut by_member = BTreeMap::new();
        for member in inputs.members {
            // Originals through the configuration's own cache key (what `reproduce` filled),
            // copies through the scaled augmentation's.
            let originals: Vec<(ImageId, u32)> = ids.iter().map(|&id| (id, 0)).collect();
            let mut features = extract_views(inputs, member, &cfg.augment, &originals, progress)?;
            if !exact_copies && max_views > 1 {
                let copies: Vec<(ImageId, u32)> = ids
                    .iter()
                    .flat_map(|&id| (1..max_views).map(move |v| (id, v)))
                    .collect();
                features.extend(extract_views(inputs, member, &scaled, &copies, progress)?);
            }
            by_member.insert(member.kind, features);
        }
        Ok(ViewTable {
            by_member,
            exact_copies,
        })
    }

    fn get(&self, member: BackboneKind, items: &[Item]) -> anyhow::Result<Vec<Vec<f32>>> {
        let map = self
            .by_member
            .get(&member)
            .ok_or_else(|| anyhow::anyhow!("no features for {member}"))?;
        items
            .iter()
            .map(|i| {
                let view = if self.exact_copies { 0 } else { i.view };
                map.get(&(i.image, view))
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no {member} features for {i:?}"))
            })
            .collect()
    }
}

fn extract_views(
    inputs: &SweepInputs<'_>,
    member: &Member,
    augment: &Augment,
    items: &[(ImageId, u32)],
    progress: &mut dyn Progress,
) -> anyhow::Result<Features> {
    let extractor = Extractor {
        dataset: inputs.dataset,
        augment,
        seed: inputs.config.seed,
        pooling: inputs.config.pooling,
        cache: inputs.cache,
        batch: inputs.batch,
        device: inputs.device,
    };
    progress.begin(
        &format!(
            "{} features of {} views",
            member.kind.display_name(),
            items.len()
        ),
        items.len(),
    );
    let got = extract::extract(&extractor, member, items, |n| progress.advance(n));
    progress.finish();
    Ok(got
        .with_context(|| format!("extracting {} features", member.kind))?
        .0)
}

/// Where in the sweep a set of heads is trained.
struct Point {
    views: u32,
    strength: f64,
    protocol: Protocol,
}

impl Point {
    /// Trains and tests the heads of `parts` on `labels` and returns every model's figures.
    fn evaluate(
        &self,
        cfg: &ExperimentConfig,
        parts: &[Part],
        members: &[BackboneKind],
        labels: &Labels,
        table: &ViewTable,
        device: &Device,
    ) -> anyhow::Result<Vec<SweepRow>> {
        let setup = HeadSetup {
            labels,
            train: &cfg.train,
            seed: cfg.seed,
            device,
        };
        let mut features = |m: BackboneKind, items: &[Item]| table.get(m, items);
        let output = protocol::run(parts, members, &setup, &mut features, || {})?;
        let test_items = output.rows.len();
        let outcome = ProtocolOutcome {
            protocol: self.protocol,
            labels: labels.source(),
            parts: parts.to_vec(),
            output,
            seconds: 0.0,
        };
        let evals = report::evaluate(
            &outcome,
            members,
            &report::eval_config(cfg.threshold, cfg.seed),
        )?;
        Ok(evals
            .models
            .iter()
            .map(|m| SweepRow {
                views: self.views,
                strength: self.strength,
                labels: labels.source(),
                protocol: self.protocol,
                model: m.model,
                test_items,
                accuracy: shown(&m.evaluation, Metric::Accuracy)
                    .unwrap_or(m.evaluation.pooled().accuracy),
                auc: shown(&m.evaluation, Metric::Auc).or(m.evaluation.pooled().auc),
            })
            .collect())
    }
}

/// The mean over folds with its interval, as an estimate (cross-validation only).
fn shown(evaluation: &Evaluation, metric: Metric) -> Option<Estimate> {
    evaluation.over_folds(metric).map(|f| Estimate {
        value: f.mean,
        ..f.interval
    })
}

/// The sweep as CSV: one row per point, labels, protocol and model.
pub fn sweep_csv(rows: &[SweepRow], seed: u64) -> String {
    let mut out = String::from(
        "views,strength,labels,protocol,model,test_items,accuracy,accuracy_ci_low,\
         accuracy_ci_high,auc,auc_ci_low,auc_ci_high,auc_method,seed\n",
    );
    for r in rows {
        let (auc, low, high, method) = r.auc.as_ref().map_or(
            (
                String::new(),
                String::new(),
                String::new(),
                "undefined".to_string(),
            ),
            |a| {
                (
                    a.value.to_string(),
                    a.low.to_string(),
                    a.high.to_string(),
                    a.method.to_string(),
                )
            },
        );
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},\"{}\",{}\n",
            r.views,
            r.strength,
            r.labels.name(),
            r.protocol.name(),
            r.model.display_name(),
            r.test_items,
            r.accuracy.value,
            r.accuracy.low,
            r.accuracy.high,
            auc,
            low,
            high,
            method.replace('"', "'"),
            seed
        ));
    }
    out
}
