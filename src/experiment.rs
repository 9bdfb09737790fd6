//! The whole experiment on frozen features: plan the protocols, extract every needed view's
//! features once per member (through the cache), train and test the heads of each protocol,
//! and train the final heads (every image, the honest protocol's views) that `predict` uses.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::Device;
use mias_data::split::Item;
use mias_data::{Dataset, ImageId};
use mias_train::Head;

use crate::cache::FeatureCache;
use crate::config::ExperimentConfig;
use crate::extract::{self, ExtractStats};
use crate::members::Member;
use crate::protocol::{self, HeadRecord, Part, Protocol, RunOutput};

/// Progress reporting for long steps (a progress bar in the application, nothing in tests).
pub trait Progress {
    /// A step of `total` units starts.
    fn begin(&mut self, what: &str, total: usize);
    /// `n` more units are done.
    fn advance(&mut self, n: usize);
    /// The step is over.
    fn finish(&mut self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _: &str, _: usize) {}
    fn advance(&mut self, _: usize) {}
    fn finish(&mut self) {}
}

/// What the experiment runs on.
pub struct Inputs<'a> {
    /// The dataset (opened and verified).
    pub dataset: &'a Dataset,
    /// Every hyper-parameter.
    pub config: &'a ExperimentConfig,
    /// The protocols to run, in order.
    pub protocols: &'a [Protocol],
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
    /// The member's backbone name.
    pub member: String,
    /// The head.
    pub head: Head,
    /// Its seed and history.
    pub record: HeadRecord,
}

/// Everything the experiment produced.
#[derive(Debug)]
pub struct Outcome {
    /// Per protocol, in the order asked.
    pub protocols: Vec<ProtocolOutcome>,
    /// One final head per member.
    pub finals: Vec<FinalHead>,
    /// Feature extraction per member: (backbone name, stats).
    pub extraction: Vec<(String, ExtractStats)>,
    /// How the heads saw the backbones' maps.
    pub pooling: crate::config::Pooling,
    /// Seconds spent training the final heads.
    pub final_seconds: f64,
}

/// The items of the final heads: every image, with the honest protocol's views.
fn final_items(cfg: &ExperimentConfig, ids: &[ImageId]) -> Vec<Item> {
    ids.iter()
        .flat_map(|&image| (0..cfg.honest.views).map(move |view| Item { image, view }))
        .collect()
}

/// Runs the experiment.
pub fn run(inputs: &Inputs<'_>, progress: &mut dyn Progress) -> anyhow::Result<Outcome> {
    let cfg = inputs.config;
    if inputs.members.is_empty() {
        bail!("no backbone to run");
    }
    let records = inputs.dataset.records();
    let ids: Vec<ImageId> = records.iter().map(|r| r.id).collect();
    let plans: Vec<(Protocol, Vec<Part>)> = inputs
        .protocols
        .iter()
        .map(|&p| {
            protocol::plan(p, records, cfg)
                .with_context(|| format!("planning the {} protocol", p.name()))
                .map(|parts| (p, parts))
        })
        .collect::<anyhow::Result<_>>()?;
    let finals = final_items(cfg, &ids);

    // Every (image, view) any part or the final heads need, sorted by image so each image is
    // decoded once for all its views.
    let mut needed: BTreeSet<(ImageId, u32)> = finals.iter().map(|i| (i.image, i.view)).collect();
    for (_, parts) in &plans {
        for part in parts {
            for item in part.train.iter().chain(&part.val).chain(&part.test) {
                needed.insert((item.image, item.view));
            }
        }
    }
    let needed: Vec<(ImageId, u32)> = needed.into_iter().collect();

    let mut features: HashMap<String, extract::Features> = HashMap::new();
    let mut extraction = Vec::new();
    for member in inputs.members {
        let name = member.kind.name().to_string();
        progress.begin(
            &format!("{} features of views", member.display_name()),
            needed.len(),
        );
        let got = extract::extract(
            inputs.dataset,
            member,
            &cfg.augment,
            cfg.seed,
            cfg.pooling,
            inputs.cache,
            &needed,
            inputs.batch,
            inputs.device,
            |n| progress.advance(n),
        );
        progress.finish();
        let (map, stats) = got.with_context(|| format!("extracting {name} features"))?;
        features.insert(name.clone(), map);
        extraction.push((name, stats));
    }
    let lookup = |member: &str, items: &[Item]| -> anyhow::Result<Vec<Vec<f32>>> {
        let map = features
            .get(member)
            .ok_or_else(|| anyhow::anyhow!("no features for {member}"))?;
        items
            .iter()
            .map(|i| {
                map.get(&(i.image, i.view))
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no {member} features for {i:?}"))
            })
            .collect()
    };

    let names: Vec<String> = inputs
        .members
        .iter()
        .map(|m| m.kind.name().to_string())
        .collect();
    let mut protocols = Vec::new();
    for (protocol, parts) in plans {
        let start = Instant::now();
        progress.begin(
            &format!("{} protocol heads", protocol.name()),
            parts.len() * names.len(),
        );
        let output = protocol::run(
            &parts,
            &names,
            records,
            cfg.labels,
            &cfg.train,
            cfg.seed,
            inputs.device,
            lookup,
            || progress.advance(1),
        );
        progress.finish();
        let output = output.with_context(|| format!("running the {} protocol", protocol.name()))?;
        protocols.push(ProtocolOutcome {
            protocol,
            parts,
            output,
            seconds: start.elapsed().as_secs_f64(),
        });
    }

    let labels = protocol::labels(records, cfg.labels, &finals)?;
    let final_start = Instant::now();
    let mut final_heads = Vec::new();
    progress.begin("final heads", names.len());
    for (m, name) in names.iter().enumerate() {
        let set = protocol::labelled(lookup(name, &finals)?, labels.clone(), inputs.device)?;
        let mut train_cfg = cfg.train.clone();
        train_cfg.seed = protocol::head_seed(cfg.seed, "final", 0, m);
        let (head, history) = mias_train::train(&train_cfg, &set, None)
            .with_context(|| format!("training the final {name} head"))?;
        final_heads.push(FinalHead {
            member: name.clone(),
            head,
            record: HeadRecord {
                part: "final".into(),
                member: name.clone(),
                seed: train_cfg.seed,
                train_items: finals.len(),
                history,
            },
        });
        progress.advance(1);
    }
    progress.finish();
    Ok(Outcome {
        protocols,
        finals: final_heads,
        extraction,
        pooling: cfg.pooling,
        final_seconds: final_start.elapsed().as_secs_f64(),
    })
}
