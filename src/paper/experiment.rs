//! The paper's experiment on frozen features: plan the protocols, extract every needed view's
//! features once per member (through the cache), train and test the heads of each protocol,
//! repeat that with the labels permuted over women (the control, unless the whole run is one),
//! and train the final heads (every image, the honest protocol's views) that `predict` uses.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::Device;
use mias_backbones::BackboneKind;
use mias_data::split::Item;
use mias_data::{Dataset, ImageId};
use mias_train::Head;

use super::protocol::{self, HeadJob, HeadSetup, Part, RunOutput};
use super::record::HeadRecord;
use crate::cache::FeatureCache;
use crate::extract::{self, ExtractStats, Extractor};
use crate::labels::{self, LabelSource, Labels};
use crate::members::Member;
use crate::paper::config::{ExperimentConfig, Pooling, Protocol};
use crate::progress::Progress;
use crate::shard::Shard;

/// What the experiment runs on.
pub struct Inputs<'a> {
    /// The dataset (opened and verified).
    pub dataset: &'a Dataset,
    /// Every hyper-parameter.
    pub config: &'a ExperimentConfig,
    /// The protocols to run, in order.
    pub protocols: &'a [Protocol],
    /// The labels the run learns: real (and then each protocol is repeated on labels permuted
    /// with [`labels::control_seed`]), or permuted (`--permute-labels`: the run is a control).
    pub labels: LabelSource,
    /// The backbones that run (at least one).
    pub members: &'a [Member],
    /// The feature cache.
    pub cache: &'a FeatureCache,
    /// Images per backbone forward pass.
    pub batch: usize,
    /// Where backbones and heads run.
    pub device: &'a Device,
}

/// One protocol's plan and results.
#[derive(Debug)]
pub struct ProtocolOutcome {
    /// Which protocol.
    pub protocol: Protocol,
    /// Which labels its heads learnt.
    pub labels: LabelSource,
    /// Its parts (one split, or the folds).
    pub parts: Vec<Part>,
    /// Test predictions and head records.
    pub output: RunOutput,
    /// Seconds spent training and testing heads.
    pub seconds: f64,
}

/// A head trained on every image, for `predict`.
#[derive(Debug)]
pub struct FinalHead {
    /// The member whose features it reads.
    pub member: BackboneKind,
    /// The head.
    pub head: Head,
    /// Its seed and history.
    pub record: HeadRecord,
}

/// Everything the experiment produced.
#[derive(Debug)]
pub struct Outcome {
    /// The members, in order.
    pub members: Vec<BackboneKind>,
    /// The labels of the run (and of its final heads).
    pub labels: LabelSource,
    /// Per protocol, in the order asked, with the run's labels; then the same protocols with
    /// the control's permuted labels when the run's are real.
    pub protocols: Vec<ProtocolOutcome>,
    /// One final head per member.
    pub finals: Vec<FinalHead>,
    /// Feature extraction per member.
    pub extraction: Vec<(BackboneKind, ExtractStats)>,
    /// How the heads saw the backbones' maps.
    pub pooling: Pooling,
    /// Seconds spent training the final heads.
    pub final_seconds: f64,
}

impl Outcome {
    /// Every head record: the protocols' in order, then the final heads'.
    pub fn head_records(&self) -> Vec<HeadRecord> {
        self.protocols
            .iter()
            .flat_map(|p| &p.output.heads)
            .chain(self.finals.iter().map(|f| &f.record))
            .cloned()
            .collect()
    }

    /// Seconds spent on `protocol`'s heads, the control's included, if it ran.
    pub fn seconds(&self, protocol: Protocol) -> Option<f64> {
        let mut runs = self.protocols.iter().filter(|p| p.protocol == protocol);
        let first = runs.next()?.seconds;
        Some(first + runs.map(|p| p.seconds).sum::<f64>())
    }

    /// The protocols run with the run's own labels.
    pub fn main(&self) -> impl Iterator<Item = &ProtocolOutcome> {
        self.protocols
            .iter()
            .filter(move |p| p.labels == self.labels)
    }

    /// The seed of the control's permutation, when the run has a control.
    pub fn control_seed(&self) -> Option<u64> {
        self.protocols
            .iter()
            .find(|p| p.labels != self.labels)
            .and_then(|p| p.labels.seed())
    }
}

/// Every member's features of every needed view, by member, then by (image, view).
struct FeatureTable(BTreeMap<BackboneKind, extract::Features>);

impl FeatureTable {
    /// One vector per item, in order.
    fn get(&self, member: BackboneKind, items: &[Item]) -> anyhow::Result<Vec<Vec<f32>>> {
        let map = self
            .0
            .get(&member)
            .ok_or_else(|| anyhow::anyhow!("no features for {member}"))?;
        items
            .iter()
            .map(|i| {
                map.get(&(i.image, i.view))
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no {member} features for {i:?}"))
            })
            .collect()
    }
}

/// Runs the experiment.
pub fn run(inputs: &Inputs<'_>, progress: &mut dyn Progress) -> anyhow::Result<Outcome> {
    let cfg = inputs.config;
    if inputs.members.is_empty() {
        bail!("no backbone to run");
    }
    let records = inputs.dataset.records();
    let (plans, finals) = plan_all(inputs)?;
    let (table, extraction) = extract_all(inputs, &needed_views(&plans, &finals), progress)?;
    let members: Vec<BackboneKind> = inputs.members.iter().map(|m| m.kind).collect();
    let mut features = |member: BackboneKind, items: &[Item]| table.get(member, items);
    let mut sources = vec![inputs.labels];
    if inputs.labels == LabelSource::Real {
        sources.push(LabelSource::Permuted {
            seed: labels::control_seed(cfg.seed),
        });
    }
    let mut protocols = Vec::new();
    for &source in &sources {
        let labels = Labels::new(records, inputs.dataset.labelling(cfg.labels), source);
        let setup = head_setup(cfg, &labels, inputs.device);
        for (protocol, parts) in &plans {
            let run = ProtocolRun {
                protocol: *protocol,
                parts,
                members: &members,
                setup: &setup,
            };
            protocols.push(run.execute(&mut features, progress)?);
        }
    }

    let start = Instant::now();
    progress.begin("final heads", members.len());
    let labels = Labels::new(records, inputs.dataset.labelling(cfg.labels), inputs.labels);
    let setup = head_setup(cfg, &labels, inputs.device);
    let final_heads = train_finals(&setup, &members, &finals, &mut features, progress);
    progress.finish();
    Ok(Outcome {
        members,
        labels: inputs.labels,
        protocols,
        finals: final_heads?,
        extraction,
        pooling: cfg.pooling,
        final_seconds: start.elapsed().as_secs_f64(),
    })
}

/// Every protocol's parts, and the items of the final heads.
type Plans = (Vec<(Protocol, Vec<Part>)>, Vec<Item>);

fn plan_all(inputs: &Inputs<'_>) -> anyhow::Result<Plans> {
    let cfg = inputs.config;
    let records = inputs.dataset.records();
    let plans = inputs
        .protocols
        .iter()
        .map(|&p| {
            protocol::plan(p, records, inputs.dataset.labelling(cfg.labels), cfg)
                .with_context(|| format!("planning the {} protocol", p.name()))
                .map(|parts| (p, parts))
        })
        .collect::<anyhow::Result<_>>()?;
    let ids: Vec<ImageId> = records.iter().map(|r| r.id).collect();
    Ok((plans, final_items(cfg, &ids)))
}

/// Computes into the cache the features that `shard` of a run needs (every view the run
/// would extract, of the shard's images) and nothing else: `--shard I/N`.
pub fn warm_cache(
    inputs: &Inputs<'_>,
    shard: Shard,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<(BackboneKind, ExtractStats)>> {
    let (plans, finals) = plan_all(inputs)?;
    let needed = needed_views(&plans, &finals);
    let mine: Vec<(ImageId, u32)> = shard
        .select(&needed, |&(image, _)| image)
        .into_iter()
        .copied()
        .collect();
    Ok(extract_all(inputs, &mine, progress)?.1)
}

/// The heads' shared setup under `labels`.
fn head_setup<'a>(
    cfg: &'a ExperimentConfig,
    labels: &'a Labels,
    device: &'a Device,
) -> HeadSetup<'a> {
    HeadSetup {
        labels,
        train: &cfg.train,
        seed: cfg.seed,
        device,
    }
}

/// One protocol's heads under one set of labels.
struct ProtocolRun<'a> {
    protocol: Protocol,
    parts: &'a [Part],
    members: &'a [BackboneKind],
    setup: &'a HeadSetup<'a>,
}

impl ProtocolRun<'_> {
    fn execute(
        &self,
        features: &mut protocol::FeatureFn<'_>,
        progress: &mut dyn Progress,
    ) -> anyhow::Result<ProtocolOutcome> {
        let start = Instant::now();
        let source = self.setup.labels.source();
        let what = match source {
            LabelSource::Real => format!("{} protocol heads", self.protocol.name()),
            LabelSource::Permuted { .. } => {
                format!("{} protocol heads, labels permuted", self.protocol.name())
            }
        };
        progress.begin(&what, self.parts.len() * self.members.len());
        let output = protocol::run(self.parts, self.members, self.setup, features, || {
            crate::fault::point("head");
            progress.advance(1);
        });
        progress.finish();
        let output =
            output.with_context(|| format!("running the {} protocol", self.protocol.name()))?;
        Ok(ProtocolOutcome {
            protocol: self.protocol,
            labels: source,
            parts: self.parts.to_vec(),
            output,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// The items of the final heads: every image, with the honest protocol's views.
fn final_items(cfg: &ExperimentConfig, ids: &[ImageId]) -> Vec<Item> {
    ids.iter()
        .flat_map(|&image| (0..cfg.honest.views).map(move |view| Item { image, view }))
        .collect()
}

/// Every (image, view) any part or the final heads need, sorted by image so that each image
/// is decoded once for all its views.
fn needed_views(plans: &[(Protocol, Vec<Part>)], finals: &[Item]) -> Vec<(ImageId, u32)> {
    let mut needed: BTreeSet<(ImageId, u32)> = finals.iter().map(|i| (i.image, i.view)).collect();
    for (_, parts) in plans {
        for part in parts {
            for item in part.train.iter().chain(&part.val).chain(&part.test) {
                needed.insert((item.image, item.view));
            }
        }
    }
    needed.into_iter().collect()
}

/// Each member's features of `needed`, through the cache.
fn extract_all(
    inputs: &Inputs<'_>,
    needed: &[(ImageId, u32)],
    progress: &mut dyn Progress,
) -> anyhow::Result<(FeatureTable, Vec<(BackboneKind, ExtractStats)>)> {
    let cfg = inputs.config;
    let extractor = Extractor {
        dataset: inputs.dataset,
        augment: &cfg.augment,
        seed: cfg.seed,
        pooling: cfg.pooling,
        cache: inputs.cache,
        batch: inputs.batch,
        device: inputs.device,
    };
    let mut table = BTreeMap::new();
    let mut extraction = Vec::new();
    for member in inputs.members {
        let kind = member.kind;
        progress.begin(
            &format!("{} features of views", kind.display_name()),
            needed.len(),
        );
        let got = extract::extract(&extractor, member, needed, |n| progress.advance(n));
        progress.finish();
        let (map, stats) = got.with_context(|| format!("extracting {kind} features"))?;
        table.insert(kind, map);
        extraction.push((kind, stats));
    }
    Ok((FeatureTable(table), extraction))
}

/// One head per member on every image (`finals`), for `predict`.
fn train_finals(
    setup: &HeadSetup<'_>,
    members: &[BackboneKind],
    finals: &[Item],
    features: &mut protocol::FeatureFn<'_>,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<FinalHead>> {
    let jobs: Vec<HeadJob<'_>> = members
        .iter()
        .enumerate()
        .map(|(m, &member)| HeadJob {
            part: "final",
            member,
            seed: protocol::head_seed(setup.seed, "final", 0, m),
            train: finals,
            val: &[],
        })
        .collect();
    let sets: Vec<protocol::HeadSets> = jobs
        .iter()
        .map(|job| protocol::head_sets(setup, job, features))
        .collect::<anyhow::Result<_>>()?;
    let mut heads = Vec::with_capacity(members.len());
    for (job, trained) in jobs.iter().zip(protocol::fit_heads(setup, &jobs, &sets)) {
        let (head, record) = trained?;
        heads.push(FinalHead {
            member: job.member,
            head,
            record,
        });
        crate::fault::point("head");
        progress.advance(1);
    }
    Ok(heads)
}
