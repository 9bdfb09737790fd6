//! The three evaluation protocols as plans (which items train, which validate, which test),
//! and their execution on frozen features: one head per backbone and part, then the ensemble.
//!
//! - `paper`: every image gets `views` items before the split, and the pooled items are split
//!   at random (the paper's procedure, leaks and all), one part.
//! - `image`: the images are split at random (not by woman); training images contribute
//!   `views` items, validation and test images their original only, one part.
//! - `honest`: stratified k-fold cross-validation grouped by woman; training images contribute
//!   `views` items (original and augmented copies), test images their original only.
//!
//! Features come from a closure, so this module neither knows nor cares how they are made
//! (the feature cache and the backbones in the application, synthetic ones in tests).

use anyhow::{Context, bail};
use candle_core::Device;
use mias_backbones::BackboneKind;
use mias_data::split::{self, Audit, Item};
use mias_data::{ImageId, ImageRecord, Labelling, Subset};
use mias_train::{Head, LabelledFeatures, TrainConfig};
use rayon::prelude::*;
use serde::Serialize;

use crate::labels::Labels;
use crate::members::Model;
use crate::paper::config::{ExperimentConfig, Protocol};
use crate::paper::record::HeadRecord;

/// One train/validation/test assignment: the paper's single split, or one fold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Part {
    /// `split` for the paper's protocol, `fold1`.. for cross-validation.
    pub name: String,
    /// Training items.
    pub train: Vec<Item>,
    /// Validation items (only monitored, as the paper's validation set).
    pub val: Vec<Item>,
    /// Test items.
    pub test: Vec<Item>,
}

impl Part {
    /// What this part's train, validation and test sets share (`records` say whose each
    /// image is).
    pub fn audit(&self, records: &[ImageRecord]) -> Audit {
        split::audit(
            records,
            &[
                ("train", &self.train),
                ("val", &self.val),
                ("test", &self.test),
            ],
        )
    }
}

/// Every image of `items` with `views` items each (the original and `views - 1` copies).
fn with_views(items: &[Item], views: u32) -> Vec<Item> {
    items
        .iter()
        .flat_map(|i| {
            (0..views).map(move |view| Item {
                image: i.image,
                view,
            })
        })
        .collect()
}

/// The parts of a protocol under a configuration (the honest folds are stratified by the
/// records' own labels under the configuration's variant).
pub fn plan(
    protocol: Protocol,
    records: &[ImageRecord],
    labelling: Labelling,
    cfg: &ExperimentConfig,
) -> anyhow::Result<Vec<Part>> {
    match protocol {
        Protocol::Paper => {
            let ids: Vec<ImageId> = records.iter().map(|r| r.id).collect();
            let s = split::paper_split(&ids, cfg.paper.views, cfg.paper.split, cfg.seed)?;
            Ok(vec![Part {
                name: "split".into(),
                train: s.train,
                val: s.val,
                test: s.test,
            }])
        }
        Protocol::Image => {
            let image = cfg.image_protocol();
            let s = split::image_split(records, labelling, image.split, cfg.seed)?;
            Ok(vec![Part {
                name: "split".into(),
                train: with_views(&s.train, image.views),
                val: s.val,
                test: s.test,
            }])
        }
        Protocol::Official => {
            if !mias_data::dataset::has_official_split(records) {
                anyhow::bail!(
                    "the official protocol needs a collection with its own split: every image \
                     train or test, both present (a manifest's `split` column, or CBIS-DDSM's \
                     case files)"
                );
            }
            let part = |subset: Subset| -> Vec<Item> {
                records
                    .iter()
                    .filter(|r| r.subset == Some(subset))
                    .map(|r| Item::original(r.id))
                    .collect()
            };
            Ok(vec![Part {
                name: "official".into(),
                train: with_views(&part(Subset::Train), cfg.honest.views),
                val: Vec::new(),
                test: part(Subset::Test),
            }])
        }
        Protocol::Honest => {
            let folds = split::patient_folds(records, labelling, cfg.honest.folds, cfg.seed)?;
            Ok(folds
                .into_iter()
                .map(|f| {
                    let (train, test) = f.items();
                    Part {
                        name: format!("fold{}", f.index + 1),
                        train: with_views(&train, cfg.honest.views),
                        val: Vec::new(),
                        test,
                    }
                })
                .collect())
        }
    }
}

/// One test item's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictionRow {
    /// The part (split or fold) the item was tested in.
    pub part: String,
    /// The image.
    pub image: ImageId,
    /// The view (0 = original).
    pub view: u32,
    /// True label: 0 normal, 1 abnormal.
    pub label: u32,
    /// Probability of abnormal from each member, in the order of the members given.
    #[serde(serialize_with = "members_by_name")]
    pub members: Vec<(BackboneKind, f32)>,
    /// The ensemble's probability: the mean of the members'.
    pub ensemble: f32,
}

fn members_by_name<S: serde::Serializer>(
    members: &[(BackboneKind, f32)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(members.iter().map(|(kind, p)| (kind.name(), p)))
}

impl PredictionRow {
    /// The probability of abnormal that `model` gave this item (none for a backbone that is
    /// not a member).
    pub fn score(&self, model: Model) -> Option<f32> {
        match model {
            Model::Backbone(kind) => self
                .members
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|&(_, p)| p),
            Model::Ensemble => Some(self.ensemble),
        }
    }
}

/// What [`run`] produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunOutput {
    /// One row per test item.
    pub rows: Vec<PredictionRow>,
    /// One record per trained head.
    pub heads: Vec<HeadRecord>,
}

/// A head's training or test set from one feature vector per item and their labels.
pub fn labelled(
    vectors: Vec<Vec<f32>>,
    labels: Vec<u32>,
    device: &Device,
) -> anyhow::Result<LabelledFeatures> {
    let dim = vectors.first().map_or(0, Vec::len);
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    Ok(LabelledFeatures::from_rows(flat, dim, labels, device)?)
}

/// The seed of the head of member `m` in part `p`: derived from the experiment's seed, so
/// reruns agree and adding a member does not change the others' draws.
pub fn head_seed(seed: u64, tag: &str, p: usize, m: usize) -> u64 {
    mias_core::rng::derived_seed(seed, tag, &[p as u64, m as u64])
}

/// What every head of an experiment shares: the labels, the head's configuration, the seed
/// every head's seed derives from, and where heads train.
#[derive(Clone, Copy)]
pub struct HeadSetup<'a> {
    /// Every image's label (its own, or permuted under the negative control).
    pub labels: &'a Labels,
    /// The head and its training (its `seed` is replaced by each head's own).
    pub train: &'a TrainConfig,
    /// The experiment's seed.
    pub seed: u64,
    /// Where heads train.
    pub device: &'a Device,
}

/// One head to train: on which items, for which member, with which seed.
pub struct HeadJob<'a> {
    /// The part (split, fold, or `final`).
    pub part: &'a str,
    /// The member whose features the head reads.
    pub member: BackboneKind,
    /// The head's seed (see [`head_seed`]).
    pub seed: u64,
    /// Training items.
    pub train: &'a [Item],
    /// Validation items, only monitored (may be empty).
    pub val: &'a [Item],
}

/// Feature vectors of `items` for one member, one per item.
pub type FeatureFn<'f> = dyn FnMut(BackboneKind, &[Item]) -> anyhow::Result<Vec<Vec<f32>>> + 'f;

/// A head's training set and, when it has validation items, its validation set.
pub type HeadSets = (LabelledFeatures, Option<LabelledFeatures>);

/// The training and validation sets of one head, read through `features`.
pub fn head_sets(
    setup: &HeadSetup<'_>,
    job: &HeadJob<'_>,
    features: &mut FeatureFn<'_>,
) -> anyhow::Result<HeadSets> {
    let mut set = |items: &[Item]| -> anyhow::Result<LabelledFeatures> {
        let y = setup.labels.of(items)?;
        labelled(features(job.member, items)?, y, setup.device)
    };
    let train = set(job.train)?;
    let val = if job.val.is_empty() {
        None
    } else {
        Some(set(job.val)?)
    };
    Ok((train, val))
}

/// Trains one head on its sets: the body every head shares, whether tested on a part or kept
/// as a final head for `predict`.
pub fn fit_head(
    setup: &HeadSetup<'_>,
    job: &HeadJob<'_>,
    (train, val): &HeadSets,
) -> anyhow::Result<(Head, HeadRecord)> {
    let mut cfg = setup.train.clone();
    cfg.seed = job.seed;
    let (head, history) = mias_train::train(&cfg, train, val.as_ref())
        .with_context(|| format!("training the {} head ({})", job.member, job.part))?;
    let record = HeadRecord {
        part: job.part.to_string(),
        member: job.member,
        labels: setup.labels.source().name().to_string(),
        seed: job.seed,
        train_items: job.train.len(),
        history,
    };
    Ok((head, record))
}

/// Trains the heads of `jobs`, whose sets `sets` holds in the same order: in parallel on the
/// CPU (one head's small products leave a core idle; each head is a function of its own seed
/// and sets alone, so the heads are the same whatever runs beside them), one after the other
/// on other devices. Results come back in the jobs' order.
pub fn fit_heads(
    setup: &HeadSetup<'_>,
    jobs: &[HeadJob<'_>],
    sets: &[HeadSets],
) -> Vec<anyhow::Result<(Head, HeadRecord)>> {
    if setup.device.is_cpu() {
        jobs.par_iter()
            .zip(sets)
            .map(|(job, sets)| fit_head(setup, job, sets))
            .collect()
    } else {
        jobs.iter()
            .zip(sets)
            .map(|(job, sets)| fit_head(setup, job, sets))
            .collect()
    }
}

/// Trains one head per member and part on the features of the training items and predicts
/// the test items; `features(member, items)` returns one vector per item. Each head's seed is
/// derived from the setup's seed, the part and the member, so reruns and reorderings agree.
pub fn run(
    parts: &[Part],
    members: &[BackboneKind],
    setup: &HeadSetup<'_>,
    features: &mut FeatureFn<'_>,
    mut head_done: impl FnMut(),
) -> anyhow::Result<RunOutput> {
    if members.is_empty() {
        bail!("no backbone to run");
    }
    let mut rows = Vec::new();
    let mut heads = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        if part.train.is_empty() || part.test.is_empty() {
            bail!("{}: empty training or test set", part.name);
        }
        let test_y = setup.labels.of(&part.test)?;
        let jobs: Vec<HeadJob<'_>> = members
            .iter()
            .enumerate()
            .map(|(m, &member)| HeadJob {
                part: &part.name,
                member,
                seed: head_seed(setup.seed, "head", p, m),
                train: &part.train,
                val: &part.val,
            })
            .collect();
        let sets: Vec<HeadSets> = jobs
            .iter()
            .map(|job| head_sets(setup, job, features))
            .collect::<anyhow::Result<_>>()?;
        let mut probs: Vec<Vec<f32>> = Vec::with_capacity(members.len());
        for (job, trained) in jobs.iter().zip(fit_heads(setup, &jobs, &sets)) {
            let (head, record) = trained?;
            let test = labelled(
                features(job.member, &part.test)?,
                test_y.clone(),
                setup.device,
            )?;
            probs.push(head.predict_proba(test.features())?);
            heads.push(record);
            head_done();
        }
        let ensemble = mias_train::average(&probs)?;
        for (i, item) in part.test.iter().enumerate() {
            rows.push(PredictionRow {
                part: part.name.clone(),
                image: item.image,
                view: item.view,
                label: test_y[i],
                members: members
                    .iter()
                    .zip(&probs)
                    .map(|(&k, p)| (k, p[i]))
                    .collect(),
                ensemble: ensemble[i],
            });
        }
    }
    Ok(RunOutput { rows, heads })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::LabelSource;
    use mias_data::{AbnormalityClass, Lesion, Severity, Tissue};

    /// 60 women; the right breast of every third woman is abnormal.
    fn records() -> Vec<ImageRecord> {
        mias_data::info::mdb_all()
            .take(120)
            .map(|id| {
                let lesions = if mias_data::info::mdb_patient(id).0.is_multiple_of(3)
                    && id.ordinal() % 2 == 1
                {
                    vec![Lesion {
                        class: AbnormalityClass::Circ,
                        severity: Severity::Benign,
                        centre: None,
                        radius: None,
                        note: None,
                        line: 1,
                    }]
                } else {
                    vec![]
                };
                ImageRecord::numbered(id, Tissue::Fatty, lesions)
            })
            .collect()
    }

    fn cfg() -> ExperimentConfig {
        let mut cfg = ExperimentConfig::paper().unwrap();
        cfg.honest.views = 2;
        cfg.paper.views = 3;
        cfg.train.hidden = vec![8];
        cfg.train.epochs = 30;
        cfg.train.learning_rate = 1e-2;
        cfg
    }

    #[test]
    fn honest_parts_are_clean_and_the_papers_leaks() {
        let (recs, cfg) = (records(), cfg());
        let honest = plan(Protocol::Honest, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        assert_eq!(honest.len(), 5);
        for part in &honest {
            assert!(part.audit(&recs).is_clean(), "{}", part.audit(&recs));
            assert!(part.test.iter().all(|i| i.view == 0));
            assert!(part.train.iter().any(|i| i.view == 1));
        }
        let tested: usize = honest.iter().map(|p| p.test.len()).sum();
        assert_eq!(tested, 120);
        let paper = plan(Protocol::Paper, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        assert_eq!(paper.len(), 1);
        assert!(!paper[0].audit(&recs).is_clean());
        assert_eq!(
            paper[0].train.len() + paper[0].val.len() + paper[0].test.len(),
            360
        );
    }

    /// Heads trained side by side (`fit_heads`) are the heads trained one at a time, to the
    /// bit: on features wide enough that the head's products are split over threads.
    #[test]
    fn heads_trained_in_parallel_are_the_heads_trained_alone() {
        let (recs, mut cfg) = (records(), cfg());
        cfg.train.hidden = vec![256, 32];
        cfg.train.epochs = 3;
        let parts = plan(Protocol::Honest, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        let part = &parts[0];
        let labels = Labels::new(&recs, Labelling::OFFICIAL, LabelSource::Real);
        let setup = HeadSetup {
            labels: &labels,
            train: &cfg.train,
            seed: 11,
            device: &Device::Cpu,
        };
        let members = [
            BackboneKind::Vgg16,
            BackboneKind::Xception,
            BackboneKind::MobileNetV2,
        ];
        // 512 pseudo-random features per item, different per member.
        let mut features =
            |member: BackboneKind, items: &[Item]| -> anyhow::Result<Vec<Vec<f32>>> {
                Ok(items
                    .iter()
                    .map(|i| {
                        (0..512u64)
                            .map(|j| {
                                let h = (i.image.ordinal() * 7919
                                    + u64::from(i.view) * 104_729
                                    + j * 31
                                    + member as u64 * 1_000_003)
                                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                                (h >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                            })
                            .collect()
                    })
                    .collect())
            };
        let jobs: Vec<HeadJob<'_>> = members
            .iter()
            .enumerate()
            .map(|(m, &member)| HeadJob {
                part: &part.name,
                member,
                seed: head_seed(setup.seed, "head", 0, m),
                train: &part.train,
                val: &part.val,
            })
            .collect();
        let sets: Vec<HeadSets> = jobs
            .iter()
            .map(|job| head_sets(&setup, job, &mut features))
            .collect::<anyhow::Result<_>>()
            .unwrap();
        let test = labelled(
            features(BackboneKind::Vgg16, &part.test).unwrap(),
            labels.of(&part.test).unwrap(),
            &Device::Cpu,
        )
        .unwrap();
        let bits = |head: &Head| -> Vec<u32> {
            head.predict_proba(test.features())
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect()
        };
        let together = fit_heads(&setup, &jobs, &sets);
        for ((job, sets), parallel) in jobs.iter().zip(&sets).zip(together) {
            let (alone, _) = fit_head(&setup, job, sets).unwrap();
            let (parallel, _) = parallel.unwrap();
            assert_eq!(bits(&alone), bits(&parallel), "{}", job.member);
        }
    }

    #[test]
    fn heads_learn_separable_features_and_the_ensemble_is_the_mean() {
        let (recs, cfg) = (records(), cfg());
        let parts = plan(Protocol::Honest, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        let members = [BackboneKind::Vgg16, BackboneKind::Xception];
        // Feature = label (+ noise-free offset per member): trivially separable.
        let abnormal = |id: ImageId| {
            mias_data::info::mdb_patient(id).0.is_multiple_of(3) && id.ordinal() % 2 == 1
        };
        let mut features =
            |member: BackboneKind, items: &[Item]| -> anyhow::Result<Vec<Vec<f32>>> {
                let shift = if member == BackboneKind::Vgg16 {
                    0.0
                } else {
                    0.5
                };
                Ok(items
                    .iter()
                    .map(|i| vec![if abnormal(i.image) { 2.0 } else { -2.0 }, shift])
                    .collect())
            };
        let labels = Labels::new(&recs, Labelling::OFFICIAL, LabelSource::Real);
        let setup = HeadSetup {
            labels: &labels,
            train: &cfg.train,
            seed: 7,
            device: &Device::Cpu,
        };
        let rows = run(&parts, &members, &setup, &mut features, || {})
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 120);
        for r in &rows {
            let mean = (r.members[0].1 + r.members[1].1) / 2.0;
            assert!((r.ensemble - mean).abs() < 1e-6);
            assert_eq!(u32::from(r.ensemble > 0.5), r.label, "{r:?}");
        }
        let again = run(&parts, &members, &setup, &mut features, || {})
            .unwrap()
            .rows;
        assert_eq!(rows, again);
    }

    #[test]
    fn each_protocol_leaks_what_it_should_and_the_audit_counts_it() {
        use crate::paper::leakage::test_leak;
        let recs = records();
        let mut cfg = cfg();
        cfg.paper.views = 10;
        // Paper protocol with 10 views: every test item has one of its image's 9 other views
        // in training or validation (all 9 drawn to the 10% test set is a 1e-9 event).
        let paper = &plan(Protocol::Paper, &recs, Labelling::OFFICIAL, &cfg).unwrap()[0];
        let leak = test_leak(paper, &recs);
        let seen: std::collections::BTreeSet<ImageId> = paper
            .train
            .iter()
            .chain(&paper.val)
            .map(|i| i.image)
            .collect();
        let twins = paper
            .test
            .iter()
            .filter(|i| seen.contains(&i.image))
            .count();
        assert_eq!(leak.own_image, twins);
        assert_eq!(leak.own_image, leak.test_items, "{leak:?}");
        // Image protocol: no copy crosses the split, some other breast does.
        let image = &plan(Protocol::Image, &recs, Labelling::OFFICIAL, &cfg).unwrap()[0];
        let leak = test_leak(image, &recs);
        assert_eq!(leak.test_items, 12);
        assert_eq!(leak.own_image, 0, "{leak:?}");
        assert!(leak.other_breast > 0, "{leak:?}");
        assert!(image.train.iter().any(|i| i.view == 1));
        assert!(image.test.iter().chain(&image.val).all(|i| i.view == 0));
        // Honest: nothing.
        for part in plan(Protocol::Honest, &recs, Labelling::OFFICIAL, &cfg).unwrap() {
            let leak = test_leak(&part, &recs);
            assert_eq!(leak.clean, leak.test_items, "{}: {leak:?}", part.name);
        }
    }

    /// A feature vector per image with no relation to any label (a hash of the image number),
    /// the same for every view: the exact copies of the leak sweep's strength 0.
    fn noise(items: &[Item]) -> Vec<Vec<f32>> {
        items
            .iter()
            .map(|i| {
                let mut rng = mias_core::rng::derived(99, "noise", &[i.image.ordinal()]);
                (0..16)
                    .map(|_| 2.0 * mias_core::rng::unit_f32(&mut rng) - 1.0)
                    .collect()
            })
            .collect()
    }

    fn auc_of(rows: &[PredictionRow]) -> f64 {
        let y: Vec<bool> = rows.iter().map(|r| r.label == 1).collect();
        let p: Vec<f64> = rows.iter().map(|r| f64::from(r.ensemble)).collect();
        mias_eval::auc(&y, &p).unwrap()
    }

    #[test]
    fn permuted_labels_are_learnt_through_copies_and_not_across_women() {
        let recs = records();
        let mut cfg = cfg();
        cfg.paper.views = 5;
        cfg.honest.views = 1;
        cfg.train.hidden = vec![64];
        cfg.train.dropout = 0.0;
        cfg.train.epochs = 80;
        let members = [BackboneKind::Vgg16];
        let mut features = |_: BackboneKind, items: &[Item]| Ok(noise(items));
        let paper = plan(Protocol::Paper, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        let honest = plan(Protocol::Honest, &recs, Labelling::OFFICIAL, &cfg).unwrap();
        let mut honest_aucs = Vec::new();
        for seed in 1..=4 {
            let labels = Labels::new(&recs, Labelling::OFFICIAL, LabelSource::Permuted { seed });
            let setup = HeadSetup {
                labels: &labels,
                train: &cfg.train,
                seed,
                device: &Device::Cpu,
            };
            // The copies of every test image sit in training with its (permuted) label: a head
            // that memorises them scores the test items far above chance.
            let rows = run(&paper, &members, &setup, &mut features, || {})
                .unwrap()
                .rows;
            let auc = auc_of(&rows);
            assert!(auc > 0.8, "paper protocol, permutation {seed}: AUC {auc}");
            let rows = run(&honest, &members, &setup, &mut features, || {})
                .unwrap()
                .rows;
            honest_aucs.push(auc_of(&rows));
        }
        // Across women nothing of the labels can be learnt from noise: chance, seed after seed.
        let mean = honest_aucs.iter().sum::<f64>() / honest_aucs.len() as f64;
        assert!((0.38..=0.62).contains(&mean), "honest AUCs {honest_aucs:?}");
        assert!(
            honest_aucs.iter().all(|a| (0.2..=0.8).contains(a)),
            "{honest_aucs:?}"
        );
    }
}
