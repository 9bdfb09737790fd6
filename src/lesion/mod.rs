//! The lesion method: look at the film at the scale of its lesions.
//!
//! The paper's method shrinks a 1024-px film to 224-331 px and averages the whole breast into
//! one vector; lesions are a few dozen pixels across. This method keeps the grid: each backbone's
//! last map of the whole film at `side` px (512 by default) gives one feature vector per cell
//! (VGG16: 32 x 32 cells of 32 px), a logistic regression learns lesion cells (Info.txt's discs)
//! against breast cells of normal films, and an image is scored by its hottest cells:
//!
//! 1. [`maps`]: dense maps through the feature cache, breast mask and lesion cells per film;
//! 2. [`cv`]: the honest protocol's folds (grouped by woman), with an inner cross-validation in
//!    each training set that chooses C, k and the thresholds;
//! 3. [`run`]: every backbone, the ensemble of standardised scores, the women model
//!    ([`women`]: both breasts compared region by region, [`regions`]), the negative control
//!    (labels permuted over women, each woman's films taking another woman's) when asked;
//! 4. [`report`]: metrics with intervals from a bootstrap over women, per class, localisation,
//!    ROC, heatmaps; [`model`]: the final models `predict` applies;
//! 5. [`method`]: the method as `reproduce` runs it (run, write, its [`record`] in `run.json`).
//!
//! It sits beside the paper's method and shares only the infrastructure (members, cache,
//! compare), never the paper method's code; the run record (`crate::record`) holds its record.

pub mod classifier;
pub mod config;
pub mod cv;
pub mod maps;
pub mod method;
pub mod model;
pub mod record;
pub mod regions;
pub mod report;
pub mod saved;
pub mod women;

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use candle_core::Device;
use mias_data::split::{self, Fold};
use mias_data::{AbnormalityClass, Dataset, ImageId, ImageRecord, Labelling, PatientId, rng};
use serde::Serialize;

use crate::cache::FeatureCache;
use crate::members::Member;
use crate::progress::Progress;
use crate::shard::Shard;
pub use config::LesionConfig;
use cv::{FoldResult, MemberCells, Recipe, Variant};
use maps::{Extraction, Labelled, MapStats};
use mias_backbones::BackboneKind;

/// What the experiment runs on.
pub struct Inputs<'a> {
    /// The films.
    pub dataset: &'a Dataset,
    /// Backbones with their weights.
    pub members: &'a [Member],
    /// Every hyper-parameter.
    pub config: &'a LesionConfig,
    /// Seed of the label permutation of the negative control, if it is one.
    pub permute_labels: Option<u64>,
    /// The feature cache.
    pub cache: &'a FeatureCache,
    /// Where the backbones run.
    pub device: &'a Device,
}

/// The label and lesions each film carries in this run.
#[derive(Clone, Debug, Serialize)]
pub struct Film {
    /// The film.
    pub id: ImageId,
    /// Its name in the dataset (`mdb001`, a manifest's path).
    pub name: String,
    /// Abnormal under the label variant (after the permutation, if any).
    pub abnormal: bool,
    /// Classes of its lesions.
    pub classes: Vec<AbnormalityClass>,
    /// The record it carries (its own, or another film's under the permutation).
    pub record: ImageRecord,
    /// Whose label and lesions it carries (itself unless permuted).
    pub from: ImageId,
}

/// One scored model: a backbone and variant, or the ensemble of a variant.
#[derive(Clone, Debug)]
pub struct ModelScores {
    /// Name in tables (`VGG16 lesion+bilateral`, `Ensemble lesion+bilateral`).
    pub name: String,
    /// Out-of-fold score of every film.
    pub scores: BTreeMap<ImageId, f64>,
    /// Out-of-fold call (abnormal) at the fold's threshold chosen on inner scores.
    pub predicted: BTreeMap<ImageId, bool>,
    /// The threshold each film was judged against (its fold's).
    pub threshold_of: BTreeMap<ImageId, f64>,
    /// The threshold of each outer fold.
    pub thresholds: Vec<f64>,
    /// A woman-level model's own out-of-fold score of every woman (the women population then
    /// uses it instead of the largest of her films' scores); `None` for film-level models.
    pub women: Option<BTreeMap<PatientId, f64>>,
}

/// One backbone's part of the run.
pub struct MemberOutcome {
    /// The backbone and its weights.
    pub member: Member,
    /// The outer folds.
    pub folds: Vec<FoldResult>,
    /// Cells per side of its grid.
    pub grid: usize,
    /// Breast cells (view 0) of every film, in the order of the logits.
    pub cells: BTreeMap<ImageId, Vec<u32>>,
    /// Which of those cells lie on a lesion disc (`None` without coordinates).
    pub lesion_cells: BTreeMap<ImageId, Option<Vec<bool>>>,
    /// The model trained on every film, for `predict`.
    pub final_model: model::FinalMember,
    /// Map extraction.
    pub maps: MapStats,
    /// Seconds of cross-validation and final training.
    pub cv_seconds: f64,
}

/// Everything the lesion experiment produced.
pub struct Outcome {
    /// Films with the labels this run used.
    pub films: BTreeMap<ImageId, Film>,
    /// The outer folds (the honest protocol's).
    pub folds: Vec<Fold>,
    /// Per backbone.
    pub members: Vec<MemberOutcome>,
    /// Every scored model, backbones first, ensemble last.
    pub models: Vec<ModelScores>,
    /// The ensemble's standardisation for `predict`.
    pub final_ensemble: model::FinalEnsemble,
    /// The permutation seed, if this was the negative control.
    pub permute_labels: Option<u64>,
    /// The women model, when the configuration has one.
    pub women: Option<women::WomenOutcome>,
    /// The name of the headline model (`headline` of the configuration).
    pub headline: Option<String>,
}

/// The films with their labels: each film's own record under the label variant, or, under the
/// negative control, the record of a film of another woman: a seeded permutation of the women
/// (as units) among the women with as many films, the `i`-th film (dataset order) of a woman
/// taking the `i`-th film of the woman the permutation gives her (Mini-MIAS: her right film a
/// right film's record, her left film a left one's). Permuting films instead would break the
/// women apart and let the women population see labels no woman carries.
pub fn films(
    dataset: &Dataset,
    labelling: Labelling,
    permute: Option<u64>,
) -> BTreeMap<ImageId, Film> {
    let records = dataset.records();
    let effective = |r: &ImageRecord| {
        let abnormal = r.label(labelling) == mias_data::Label::Abnormal;
        let mut rec = r.clone();
        if !abnormal {
            rec.lesions.clear();
        }
        rec
    };
    let mut sources: Vec<usize> = (0..records.len()).collect();
    if let Some(seed) = permute {
        let mut women: BTreeMap<PatientId, Vec<usize>> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            women.entry(r.patient).or_default().push(i);
        }
        let mut by_count: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
        for films in women.into_values() {
            by_count.entry(films.len()).or_default().push(films);
        }
        for (count, group) in by_count {
            let mut order: Vec<usize> = (0..group.len()).collect();
            rng::shuffle(
                &mut order,
                &mut rng::derived(seed, "permute-labels", &[count as u64]),
            );
            for (target, &source) in group.iter().zip(&order) {
                for (t, s) in target.iter().zip(&group[source]) {
                    sources[*t] = *s;
                }
            }
        }
    }
    records
        .iter()
        .zip(&sources)
        .map(|(target, &s)| {
            let source = &records[s];
            let mut record = effective(source);
            record.id = target.id;
            record.tissue = target.tissue;
            record.patient = target.patient;
            record.pair = target.pair;
            let film = Film {
                id: target.id,
                name: dataset.name(target.id),
                abnormal: !record.lesions.is_empty(),
                classes: record.classes(),
                record,
                from: source.id,
            };
            (target.id, film)
        })
        .collect()
}

/// The records the folds are drawn from (each film with the label it carries).
fn fold_records(films: &BTreeMap<ImageId, Film>, ids: &[ImageId]) -> Vec<ImageRecord> {
    ids.iter().map(|id| films[id].record.clone()).collect()
}

/// The inner folds of outer fold `outer` (grouped by woman, stratified, inside `train`).
pub fn inner_folds(
    films: &BTreeMap<ImageId, Film>,
    train: &[ImageId],
    k: usize,
    seed: u64,
    outer: usize,
) -> anyhow::Result<Vec<(Vec<ImageId>, Vec<ImageId>)>> {
    let inner_seed = mias_core::rng::derived_seed(seed, "lesion-inner-folds", &[outer as u64]);
    let folds = split::patient_folds(
        &fold_records(films, train),
        Labelling::OFFICIAL,
        k,
        inner_seed,
    )
    .with_context(|| format!("inner folds of outer fold {outer}"))?;
    Ok(folds.into_iter().map(|f| (f.train, f.test)).collect())
}

/// AUC of real-valued scores (any scale, ties 1/2); `None` unless both classes are present.
pub fn auc_unbounded(y: &[bool], scores: &[f64]) -> Option<f64> {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for (&t, &s) in y.iter().zip(scores) {
        if t { pos.push(s) } else { neg.push(s) }
    }
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for p in &pos {
        for n in &neg {
            sum += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(sum / (pos.len() * neg.len()) as f64)
}

/// A strictly increasing map of real scores into (0, 1) (the logistic function), for drawing
/// ROC curves with routines that take probabilities.
pub fn to_unit(scores: &[f64]) -> Vec<f64> {
    scores.iter().map(|&s| 1.0 / (1.0 + (-s).exp())).collect()
}

impl Film {
    /// What the cells of this film are read with: its id and the record it carries.
    fn labelled(&self) -> Labelled<'_> {
        Labelled {
            id: self.id,
            name: self.name.clone(),
            record: &self.record,
            abnormal: self.abnormal,
        }
    }
}

impl Inputs<'_> {
    /// Where and how the dense maps are made.
    fn extraction(&self) -> Extraction<'_> {
        Extraction {
            dataset: self.dataset,
            cache: self.cache,
            side: self.config.side,
            device: self.device,
        }
    }
}

/// Computes into the cache the dense maps of `shard`'s films (`--shard I/N`) and nothing else;
/// returns each member's map statistics.
pub fn warm_cache(
    inputs: &Inputs<'_>,
    shard: Shard,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<(BackboneKind, MapStats)>> {
    let cfg = inputs.config;
    let films = films(
        inputs.dataset,
        inputs.dataset.labelling(cfg.labels),
        inputs.permute_labels,
    );
    let all: Vec<Labelled<'_>> = films.values().map(Film::labelled).collect();
    let mine: Vec<Labelled<'_>> = shard.select(&all, |l| l.id).into_iter().cloned().collect();
    let ex = inputs.extraction();
    let mut stats = Vec::new();
    let ids: Vec<ImageId> = mine.iter().map(|l| l.id).collect();
    for member in inputs.members {
        progress.begin(
            &format!(
                "{} dense maps at {} px, shard {shard}",
                member.kind, cfg.side
            ),
            mine.len() * maps::VIEWS.len(),
        );
        let also = women_maps_of(cfg, inputs.dataset, member, &ids)?;
        let got = maps::member_cells(&ex, member, &mine, also.as_ref(), |n| progress.advance(n));
        progress.finish();
        stats.push((member.kind, got?.1));
    }
    // The women model's maps of the shard's films (each turned chest wall left); the cell
    // classifier's `last` maps of both views are already among the member's.
    if let Some(wcfg) = &cfg.women {
        let kind = wcfg.kind()?;
        if let Some(member) = inputs.members.iter().find(|m| m.kind == kind) {
            let layers = wcfg.layer_set()?;
            progress.begin(
                &format!("{kind} women model maps, shard {shard}"),
                ids.len() * layers.len(),
            );
            let got = women::extract(&ex, member, wcfg, &ids, |n| progress.advance(n));
            progress.finish();
            let (_, layer_maps) = got?;
            stats.push((
                kind,
                MapStats {
                    maps: layer_maps.iter().map(|m| m.maps).sum(),
                    computed: layer_maps.iter().map(|m| m.computed).sum(),
                    replaced: layer_maps.iter().map(|m| m.replaced).sum(),
                    seconds: layer_maps.iter().map(|m| m.seconds).sum(),
                },
            ));
        }
    }
    Ok(stats)
}

/// The whole lesion experiment.
pub fn run(inputs: &Inputs<'_>, progress: &mut dyn Progress) -> anyhow::Result<Outcome> {
    let cfg = inputs.config;
    let films = films(
        inputs.dataset,
        inputs.dataset.labelling(cfg.labels),
        inputs.permute_labels,
    );
    let seed = cfg.seed;
    let folds = split::patient_folds(
        &fold_records(&films, &films.keys().copied().collect::<Vec<_>>()),
        Labelling::OFFICIAL,
        cfg.evaluation.folds,
        seed,
    )
    .context("outer folds")?;
    let all: Vec<ImageId> = films.keys().copied().collect();
    // The women model needs one right and one left film per woman: said before any map.
    if cfg.women.is_some() {
        women::pair_women(inputs.dataset, &films)?;
    }
    let inner: Vec<Vec<(Vec<ImageId>, Vec<ImageId>)>> = folds
        .iter()
        .map(|f| inner_folds(&films, &f.train, cfg.classifier.inner_folds, seed, f.index))
        .collect::<anyhow::Result<_>>()?;
    let recipe = Recipe {
        c_grid: cfg.classifier.c_grid.clone(),
        top_k_grid: cfg.classifier.top_k_grid.clone(),
        inner_folds: cfg.classifier.inner_folds,
        negatives_per_view: cfg.cells.negatives_per_view,
        solver: (cfg.classifier.tol, cfg.classifier.max_iter),
        seed,
        bilateral: cfg.classifier.bilateral,
    };
    let labelled: Vec<Labelled<'_>> = films.values().map(Film::labelled).collect();
    let ex = inputs.extraction();
    let mut members = Vec::new();
    for member in inputs.members {
        progress.begin(
            &format!(
                "{} dense maps at {} px ({} films x {} views)",
                member.kind,
                cfg.side,
                labelled.len(),
                maps::VIEWS.len()
            ),
            labelled.len() * maps::VIEWS.len(),
        );
        let ids: Vec<ImageId> = labelled.iter().map(|l| l.id).collect();
        let also = women_maps_of(cfg, inputs.dataset, member, &ids)?;
        let (cells, map_stats) = maps::member_cells(&ex, member, &labelled, also.as_ref(), |n| {
            progress.advance(n)
        })?;
        progress.finish();
        let start = std::time::Instant::now();
        progress.begin(
            &format!("{} cell classifiers (nested cross-validation)", member.kind),
            folds.len() + 1,
        );
        let mut results = Vec::with_capacity(folds.len());
        for (fold, inner) in folds.iter().zip(&inner) {
            results.push(cv::run_fold(
                &cells,
                fold.index,
                &fold.train,
                &fold.test,
                inner,
                &recipe,
            )?);
            progress.advance(1);
        }
        let outer: Vec<(Vec<ImageId>, Vec<ImageId>)> = folds
            .iter()
            .map(|f| (f.train.clone(), f.test.clone()))
            .collect();
        let final_model = model::FinalMember::train(&cells, &all, &outer, &recipe)?;
        progress.advance(1);
        progress.finish();
        members.push(MemberOutcome {
            member: member.clone(),
            grid: cells.grid,
            cells: view0(&cells, |v| v.cells.clone()),
            lesion_cells: view0(&cells, |v| v.positive.clone()),
            folds: results,
            final_model,
            maps: map_stats,
            cv_seconds: start.elapsed().as_secs_f64(),
        });
    }
    if members.is_empty() {
        bail!("no backbone to run the lesion method with");
    }
    refuse_unconverged(&members, &cfg.classifier)?;
    let labels: BTreeMap<ImageId, bool> = films.iter().map(|(&id, f)| (id, f.abnormal)).collect();
    let mut models = Vec::new();
    for m in &members {
        for &variant in recipe.variants() {
            models.push(member_scores(m, variant, &labels)?);
        }
    }
    for &variant in recipe.variants() {
        models.push(ensemble_scores(&members, variant, &labels)?);
    }
    let women = match &cfg.women {
        Some(wcfg) => {
            let w = run_women(inputs, wcfg, &films, &folds, &inner, progress)?;
            models.push(w.scores());
            Some(w)
        }
        None => None,
    };
    let headline = match cfg.headline() {
        config::Headline::Women => women.as_ref().map(|w| w.name.clone()),
        config::Headline::Ensemble => {
            let named = format!("Ensemble {}", recipe.selection().name());
            models
                .iter()
                .find(|m| m.name == named)
                .map(|m| m.name.clone())
        }
    };
    let final_ensemble = model::FinalEnsemble::from_members(&members)?;
    Ok(Outcome {
        films,
        folds,
        members,
        models,
        final_ensemble,
        permute_labels: inputs.permute_labels,
        women,
        headline,
    })
}

/// The women model's further maps (its `previous_stage` map) for `member`'s pass over `films`,
/// when the run has a women model on `member`'s backbone: one forward pass gives both.
fn women_maps_of(
    cfg: &LesionConfig,
    dataset: &Dataset,
    member: &Member,
    films: &[ImageId],
) -> anyhow::Result<Option<maps::AlsoMaps>> {
    match &cfg.women {
        Some(w) if w.kind()? == member.kind => Ok(Some(women::also_maps(w, dataset, films)?)),
        _ => Ok(None),
    }
}

/// The women model ([`women`]): its backbone's maps turned chest wall left, region means,
/// the mean of the candidate models over the outer folds. Refuses a run whose fits stopped at
/// the iteration cap.
fn run_women(
    inputs: &Inputs<'_>,
    wcfg: &women::WomenConfig,
    films: &BTreeMap<ImageId, Film>,
    folds: &[Fold],
    inner: &[Vec<(Vec<ImageId>, Vec<ImageId>)>],
    progress: &mut dyn Progress,
) -> anyhow::Result<women::WomenOutcome> {
    let kind = wcfg.kind()?;
    let member = inputs
        .members
        .iter()
        .find(|m| m.kind == kind)
        .with_context(|| {
            format!(
                "the women model's backbone {kind} did not run (its weights are missing?): \
                 the configured headline cannot be computed"
            )
        })?;
    let pairs = women::pair_women(inputs.dataset, films)?;
    let order: Vec<ImageId> = pairs.iter().flat_map(|(_, r, l)| [*r, *l]).collect();
    let layers = wcfg.layer_set()?;
    progress.begin(
        &format!(
            "{} women model: {} maps at {} px ({} films turned chest wall left)",
            kind,
            layers
                .iter()
                .map(|l| l.name())
                .collect::<Vec<_>>()
                .join(" and "),
            inputs.config.side,
            order.len()
        ),
        order.len() * layers.len(),
    );
    let (store, maps) = women::extract(&inputs.extraction(), member, wcfg, &order, |n| {
        progress.advance(n)
    })?;
    progress.finish();
    let name = format!("{} women regional asymmetry", kind.display_name());
    let tests: Vec<Vec<ImageId>> = folds.iter().map(|f| f.test.clone()).collect();
    let abnormal: BTreeMap<ImageId, bool> = films.iter().map(|(&id, f)| (id, f.abnormal)).collect();
    let out = women::run(wcfg, &store, &pairs, &abnormal, &tests, inner, name, maps)?;
    if !out.unconverged.is_empty() {
        bail!(
            "the women model's logistic regressions did not converge within women.max_iter = {} \
             iterations (tolerance {}) for {}; raise `max_iter` in the lesion config",
            wcfg.max_iter,
            wcfg.tol,
            out.unconverged.join(", ")
        );
    }
    Ok(out)
}

impl women::WomenOutcome {
    /// Its scores as a model of the tables: each film and each woman called abnormal at its
    /// outer fold's threshold (Youden's J on the training women's inner out-of-fold woman
    /// scores), women scored by the women model itself.
    pub fn scores(&self) -> ModelScores {
        ModelScores {
            name: self.name.clone(),
            scores: self.film_scores.clone(),
            predicted: self
                .film_scores
                .iter()
                .map(|(&id, &s)| (id, s >= self.threshold_of[&id]))
                .collect(),
            threshold_of: self.threshold_of.clone(),
            thresholds: self.thresholds.clone(),
            women: Some(self.woman_scores.clone()),
        }
    }
}

/// The headline's classifiers (every outer fold's and the final one of every member) must
/// have converged: a run whose reported scores come from a fit stopped at the iteration cap
/// is refused, naming the fits. Inner fits that did not converge are counted in run.json.
fn refuse_unconverged(
    members: &[MemberOutcome],
    classifier: &config::ClassifierConfig,
) -> anyhow::Result<()> {
    let mut stopped = Vec::new();
    for m in members {
        for f in m.folds.iter().filter(|f| !f.converged) {
            stopped.push(format!(
                "{} outer fold {} (C = {})",
                m.member.kind,
                f.fold + 1,
                f.c
            ));
        }
        if !m.final_model.converged {
            stopped.push(format!(
                "{} final model (C = {})",
                m.member.kind, m.final_model.c
            ));
        }
    }
    if !stopped.is_empty() {
        bail!(
            "the cell classifier did not converge within classifier.max_iter = {} iterations \
             (tolerance {}) for {}; raise `max_iter` in the lesion config",
            classifier.max_iter,
            classifier.tol,
            stopped.join(", ")
        );
    }
    Ok(())
}

fn view0<T: Default>(cells: &MemberCells, f: impl Fn(&cv::ViewCells) -> T) -> BTreeMap<ImageId, T> {
    cells
        .images
        .iter()
        .map(|(&id, img)| (id, img.views.first().map(&f).unwrap_or_default()))
        .collect()
}

/// The threshold a fold's training women choose: Youden's J on their inner out-of-fold scores.
fn threshold(
    inner: &BTreeMap<ImageId, f64>,
    labels: &BTreeMap<ImageId, bool>,
) -> anyhow::Result<f64> {
    let (y, s): (Vec<bool>, Vec<f64>) = inner.iter().map(|(id, &s)| (labels[id], s)).unzip();
    Ok(mias_eval::youden_threshold(&y, &s)
        .context("choosing a threshold on inner scores")?
        .threshold)
}

fn member_scores(
    m: &MemberOutcome,
    variant: Variant,
    labels: &BTreeMap<ImageId, bool>,
) -> anyhow::Result<ModelScores> {
    let mut out = ModelScores {
        name: format!("{} {}", m.member.kind.display_name(), variant.name()),
        scores: BTreeMap::new(),
        predicted: BTreeMap::new(),
        threshold_of: BTreeMap::new(),
        thresholds: Vec::new(),
        women: None,
    };
    for f in &m.folds {
        let t = threshold(&f.inner_scores[&variant], labels)?;
        for (&id, &s) in &f.test_scores[&variant] {
            out.scores.insert(id, s);
            out.predicted.insert(id, s >= t);
            out.threshold_of.insert(id, t);
        }
        out.thresholds.push(t);
    }
    Ok(out)
}

/// Mean and standard deviation (n - 1) of a member's inner scores: the standardisation of its
/// scores in the ensemble, from training women only.
pub fn standardisation(inner: &BTreeMap<ImageId, f64>) -> (f64, f64) {
    let n = inner.len() as f64;
    let mean = inner.values().sum::<f64>() / n;
    let var = inner.values().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt().max(1e-12))
}

/// The ensemble of a variant: per fold, each member's scores standardised by the mean and
/// standard deviation of its inner out-of-fold scores, then averaged; the threshold is chosen
/// on the averaged inner scores.
fn ensemble_scores(
    members: &[MemberOutcome],
    variant: Variant,
    labels: &BTreeMap<ImageId, bool>,
) -> anyhow::Result<ModelScores> {
    let mut out = ModelScores {
        name: format!("Ensemble {}", variant.name()),
        scores: BTreeMap::new(),
        predicted: BTreeMap::new(),
        threshold_of: BTreeMap::new(),
        thresholds: Vec::new(),
        women: None,
    };
    let folds = members[0].folds.len();
    for f in 0..folds {
        let mut inner: BTreeMap<ImageId, f64> = BTreeMap::new();
        let mut test: BTreeMap<ImageId, f64> = BTreeMap::new();
        for m in members {
            let r = &m.folds[f];
            let (mu, sd) = standardisation(&r.inner_scores[&variant]);
            for (&id, &s) in &r.inner_scores[&variant] {
                *inner.entry(id).or_default() += (s - mu) / sd / members.len() as f64;
            }
            for (&id, &s) in &r.test_scores[&variant] {
                *test.entry(id).or_default() += (s - mu) / sd / members.len() as f64;
            }
        }
        let t = threshold(&inner, labels)?;
        for (id, s) in test {
            out.scores.insert(id, s);
            out.predicted.insert(id, s >= t);
            out.threshold_of.insert(id, t);
        }
        out.thresholds.push(t);
    }
    Ok(out)
}
