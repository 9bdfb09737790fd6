//! What the lesion method writes into `results/lesion/`: `metrics.csv` (the long format of the
//! paper method's `metrics.csv`, protocol `honest`, with `population` and `labels` columns),
//! `per_class.csv`, `localisation.csv`, `table.md`, `predictions.csv` (one row per film, with
//! the headline model's `score`), `women.csv` (one row per woman), `roc.png`/`roc.svg` and
//! `heatmaps/*.png`.
//!
//! Every figure is given on three populations ([`mias_eval::Population`]: every film; abnormal
//! films against the films of women with no abnormal film; one case per woman, the largest of
//! her films' scores, abnormal when any film is), pooled out of fold with fold means beside.
//! Every interval (AUC, sensitivity, specificity, accuracy, precision, F1) is a percentile
//! bootstrap over women (a woman's films are drawn together); a film is called abnormal at its
//! fold's threshold (chosen on its training women's inner scores), a woman when any of her
//! films is.
//!
//! The **headline** is the configured method, fixed before the run (`headline` in the lesion
//! config, [`headline_model`]): the women model ([`super::women`], whose women population uses
//! its own woman scores), or the ensemble of the configured backbones scored by the variant
//! that chooses C and k (`lesion+bilateral`, or `lesion` when `classifier.bilateral = false`;
//! with one backbone the ensemble of one, which ranks and calls films as that backbone does);
//! every other row is an ablation. With a women model, `comparisons.csv` sets it against that
//! ensemble (v1's method) on the same films and folds, paired, on every population.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use image::{GrayImage, Rgb, RgbImage};
use mias_data::{AbnormalityClass, ImageId};
use mias_eval::polars::prelude::{Column, DataFrame};
use mias_eval::{
    Evaluation, FilmScore, Metrics, Population, RocCurve, RocSeries, Table, WomanScore,
    metrics_table, write_roc,
};
use serde::Serialize;

use super::{Film, ModelScores, Outcome, Variant, to_unit};

/// How a woman's films make her score in the women population: the largest of them (she is
/// called abnormal when any of her films is).
pub const WOMAN_SCORE: WomanScore = WomanScore::Max;

/// Settings of the evaluation.
#[derive(Clone, Copy, Debug)]
pub struct ReportConfig {
    /// Bootstrap replicates over women.
    pub replicates: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Heatmaps per class.
    pub heatmaps_per_class: usize,
}

/// One model's figures.
#[derive(Clone, Debug)]
pub struct ModelEval {
    /// Model name.
    pub name: String,
    /// Whether this is the configured method ([`headline_model`]); the others are ablations.
    pub headline: bool,
    /// Per population (in [`Population::ALL`] order; a population with one class only is
    /// left out): pooled out-of-fold figures and their fold means, every interval from the
    /// bootstrap over women.
    pub populations: Vec<(Population, Evaluation)>,
}

impl ModelEval {
    /// The pooled out-of-fold figures on `population`, if it was evaluated.
    pub fn pooled(&self, population: Population) -> Option<&Metrics> {
        self.populations
            .iter()
            .find(|(p, _)| *p == population)
            .map(|(_, e)| e.pooled())
    }
}

/// The configured method (the configuration's `headline`, resolved by [`super::run`]).
pub fn headline_model(outcome: &Outcome) -> Option<&ModelScores> {
    let name = outcome.headline.as_ref()?;
    outcome.models.iter().find(|m| &m.name == name)
}

/// v1's configured method: the ensemble scored by the variant that chooses C and k
/// (`lesion+bilateral` when the run computed it, else `lesion`).
pub fn ensemble_model(outcome: &Outcome) -> Option<&ModelScores> {
    let named = |v: Variant| format!("Ensemble {}", v.name());
    let bilateral = named(Variant::Bilateral);
    let lesion = named(Variant::Lesion);
    outcome
        .models
        .iter()
        .find(|m| m.name == bilateral)
        .or_else(|| outcome.models.iter().find(|m| m.name == lesion))
}

/// How `model` scores a woman: its own woman scores (a woman-level model), else
/// [`WOMAN_SCORE`].
pub fn woman_rule(model: &ModelScores) -> WomanScore {
    match &model.women {
        Some(w) => WomanScore::Given(w.iter().map(|(p, &s)| (u64::from(p.0), s)).collect()),
        None => WOMAN_SCORE,
    }
}

/// The outer fold of every film.
fn fold_of(outcome: &Outcome) -> BTreeMap<ImageId, usize> {
    outcome
        .folds
        .iter()
        .flat_map(|f| f.test.iter().map(move |&id| (id, f.index)))
        .collect()
}

/// One model's out-of-fold rows for mias-eval's populations: each film numbered by its place
/// among the run's films, its woman, label, score, outer fold and that fold's threshold.
pub fn film_rows(model: &ModelScores, outcome: &Outcome) -> anyhow::Result<Vec<FilmScore>> {
    let folds = fold_of(outcome);
    outcome
        .films
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| model.scores.contains_key(*id))
        .map(|(k, (id, film))| {
            Ok(FilmScore {
                film: k as u64,
                woman: u64::from(film.record.patient.0),
                abnormal: film.abnormal,
                score: model.scores[id],
                fold: Some(
                    *folds
                        .get(id)
                        .with_context(|| format!("{}: a scored film in no fold", model.name))?,
                ),
                threshold: Some(model.threshold_of[id]),
            })
        })
        .collect()
}

/// Localisation of one backbone: how often the hottest breast cell of an abnormal film with
/// coordinates lies on a lesion cell.
#[derive(Clone, Debug, Serialize)]
pub struct Localisation {
    /// Model (a backbone; localisation needs a grid).
    pub model: String,
    /// Abnormal films with coordinates.
    pub images: usize,
    /// Of those, films whose hottest breast cell is a lesion cell.
    pub hits: usize,
    /// `hits / images`.
    pub share: f64,
    /// Wilson interval.
    pub ci_low: f64,
    /// Wilson interval.
    pub ci_high: f64,
    /// The share a breast cell drawn at random would hit (the mean share of lesion cells among
    /// breast cells of those films): the chance level.
    pub chance: f64,
}

/// The woman of each of `ids`, for the bootstrap; a film the run does not hold is an error
/// (it would otherwise fall into a made-up woman and bend every interval).
fn women(films: &BTreeMap<ImageId, Film>, ids: &[ImageId]) -> anyhow::Result<Vec<u64>> {
    ids.iter()
        .map(|id| {
            films
                .get(id)
                .map(|f| u64::from(f.record.patient.0))
                .with_context(|| format!("film #{} is not among the run's films", id.ordinal()))
        })
        .collect()
}

impl ReportConfig {
    fn bootstrap(&self) -> mias_eval::Bootstrap {
        mias_eval::Bootstrap {
            replicates: self.replicates,
            seed: self.seed,
        }
    }
}

/// Figures of one model on every population: pooled out of fold with fold means, every
/// interval from the bootstrap over women. A population with one class only (a collection
/// without normal women) is left out.
pub fn evaluate(
    model: &ModelScores,
    outcome: &Outcome,
    cfg: &ReportConfig,
) -> anyhow::Result<ModelEval> {
    let rows = film_rows(model, outcome)?;
    let rule = woman_rule(model);
    let mut populations = Vec::new();
    for p in Population::ALL {
        let cases = mias_eval::population(&rows, p, &rule)
            .with_context(|| format!("{} on the {} population", model.name, p.label()))?;
        let (pos, neg) = cases.class_counts();
        if pos == 0 || neg == 0 {
            continue;
        }
        let cv = cases
            .cross_validated(0.95, &cfg.bootstrap())
            .with_context(|| {
                format!("figures of {} on the {} population", model.name, p.label())
            })?;
        populations.push((p, Evaluation::CrossValidated(cv)));
    }
    Ok(ModelEval {
        name: model.name.clone(),
        headline: headline_model(outcome).is_some_and(|h| h.name == model.name),
        populations,
    })
}

/// The abnormality classes in Info.txt's order of the README.
pub const CLASSES: [AbnormalityClass; 6] = [
    AbnormalityClass::Calc,
    AbnormalityClass::Circ,
    AbnormalityClass::Spic,
    AbnormalityClass::Arch,
    AbnormalityClass::Asym,
    AbnormalityClass::Misc,
];

/// AUC per abnormality class: films with a lesion of that class against every normal film.
pub fn per_class(outcome: &Outcome, cfg: &ReportConfig) -> anyhow::Result<DataFrame> {
    let (mut model, mut class, mut n_abn, mut n_norm) = (vec![], vec![], vec![], vec![]);
    let (mut auc, mut low, mut high, mut method) = (vec![], vec![], vec![], vec![]);
    for m in &outcome.models {
        for c in CLASSES {
            let ids: Vec<ImageId> = m.scores.keys().copied().collect();
            let y: Vec<bool> = ids.iter().map(|id| outcome.films[id].abnormal).collect();
            let in_class: Vec<bool> = ids
                .iter()
                .map(|id| {
                    let f = &outcome.films[id];
                    f.abnormal && f.classes.contains(&c)
                })
                .collect();
            let s: Vec<f64> = ids.iter().map(|id| m.scores[id]).collect();
            let pos = in_class.iter().filter(|&&v| v).count();
            model.push(m.name.clone());
            class.push(c.code().to_string());
            n_abn.push(pos as u64);
            n_norm.push(y.iter().filter(|&&v| !v).count() as u64);
            let e = mias_eval::class_auc(
                &y,
                &in_class,
                &s,
                &women(&outcome.films, &ids)?,
                0.95,
                &cfg.bootstrap(),
            )
            .with_context(|| format!("AUC of class {} for {}", c.code(), m.name))?;
            match e {
                Some(e) => {
                    auc.push(Some(e.value));
                    low.push(Some(e.low));
                    high.push(Some(e.high));
                    method.push(e.method.to_string());
                }
                None => {
                    auc.push(None);
                    low.push(None);
                    high.push(None);
                    method.push("undefined (fewer than 2 films)".to_string());
                }
            }
        }
    }
    let height = model.len();
    Ok(DataFrame::new(
        height,
        vec![
            Column::new("model".into(), model),
            Column::new("class".into(), class),
            Column::new("abnormal".into(), n_abn),
            Column::new("normal".into(), n_norm),
            Column::new("auc".into(), auc),
            Column::new("ci_low".into(), low),
            Column::new("ci_high".into(), high),
            Column::new("method".into(), method),
        ],
    )?)
}

/// Localisation of every backbone, from the out-of-fold logits.
pub fn localisation(outcome: &Outcome) -> anyhow::Result<Vec<Localisation>> {
    let mut out = Vec::new();
    for m in &outcome.members {
        let (mut images, mut hits, mut chance) = (0usize, 0usize, 0.0f64);
        for fold in &m.folds {
            for (id, logits) in &fold.test_logits {
                let film = &outcome.films[id];
                if !film.abnormal {
                    continue;
                }
                let Some(Some(lesion)) = m.lesion_cells.get(id) else {
                    continue;
                };
                let Some(best) = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                else {
                    continue;
                };
                images += 1;
                hits += usize::from(lesion[best]);
                let on = lesion.iter().filter(|&&p| p).count();
                chance += on as f64 / lesion.len() as f64;
            }
        }
        let w = mias_eval::wilson(hits as u64, images as u64, 0.95)?;
        out.push(Localisation {
            model: m.member.kind.display_name().to_string(),
            images,
            hits,
            share: w.map_or(f64::NAN, |e| e.value),
            ci_low: w.map_or(f64::NAN, |e| e.low),
            ci_high: w.map_or(f64::NAN, |e| e.high),
            chance: if images > 0 {
                chance / images as f64
            } else {
                f64::NAN
            },
        });
    }
    Ok(out)
}

fn localisation_frame(rows: &[Localisation]) -> anyhow::Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "model".into(),
                rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "images".into(),
                rows.iter().map(|r| r.images as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "hits".into(),
                rows.iter().map(|r| r.hits as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "share".into(),
                rows.iter().map(|r| r.share).collect::<Vec<_>>(),
            ),
            Column::new(
                "ci_low".into(),
                rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
            ),
            Column::new(
                "ci_high".into(),
                rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
            ),
            Column::new(
                "chance".into(),
                rows.iter().map(|r| r.chance).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Writes every file of `results/lesion/` into `dir`; returns the figures for the headline.
pub fn write(
    dir: &Path,
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
    cfg: &ReportConfig,
) -> anyhow::Result<Vec<ModelEval>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let evals: Vec<ModelEval> = outcome
        .models
        .iter()
        .map(|m| evaluate(m, outcome, cfg))
        .collect::<anyhow::Result<_>>()?;
    metrics_table_of(&evals, outcome.permute_labels.is_some())?
        .write_csv(&dir.join("metrics.csv"))?;
    Table {
        frame: per_class(outcome, cfg)?,
        display: None,
        title: "AUC per abnormality class".into(),
        notes: vec![],
    }
    .write_csv(&dir.join("per_class.csv"))?;
    let loc = localisation(outcome)?;
    Table {
        frame: localisation_frame(&loc)?,
        display: None,
        title: "Localisation".into(),
        notes: vec![],
    }
    .write_csv(&dir.join("localisation.csv"))?;
    mias_core::fs::write_atomic(
        &dir.join("table.md"),
        markdown(outcome, &evals, &loc).as_bytes(),
    )?;
    mias_core::fs::write_atomic(
        &dir.join("predictions.csv"),
        predictions_csv(outcome, dataset).as_bytes(),
    )?;
    mias_core::fs::write_atomic(
        &dir.join("women.csv"),
        women_csv(outcome, dataset)?.as_bytes(),
    )?;
    roc(dir, outcome, &evals)?;
    heatmaps(&dir.join("heatmaps"), outcome, dataset, cfg)?;
    let comparisons = women_against_ensemble(outcome, dataset, cfg)?;
    if !comparisons.is_empty() {
        crate::compare::write(&dir.join("comparisons.csv"), &comparisons)?;
    }
    Ok(evals)
}

/// A model's out-of-fold film scores (and its own woman scores) as a named column for a
/// paired comparison ([`crate::compare`]).
pub fn column(
    model: &ModelScores,
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
) -> anyhow::Result<crate::compare::ScoreColumn> {
    let folds = fold_of(outcome);
    let mut films = BTreeMap::new();
    for (id, &score) in &model.scores {
        let film = &outcome.films[id];
        films.insert(
            dataset.name(*id),
            crate::compare::ScoredFilm {
                woman: u64::from(film.record.patient.0),
                abnormal: film.abnormal,
                score,
                fold: *folds
                    .get(id)
                    .with_context(|| format!("{}: a scored film in no fold", model.name))?,
            },
        );
    }
    Ok(crate::compare::ScoreColumn {
        name: format!("lesion: {}", model.name),
        films,
        women: model
            .women
            .as_ref()
            .map(|w| w.iter().map(|(p, &s)| (u64::from(p.0), s)).collect()),
    })
}

/// The women model against v1's configured ensemble ([`ensemble_model`]) on the same films and
/// folds, paired on every population; empty without a women model.
pub fn women_against_ensemble(
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
    cfg: &ReportConfig,
) -> anyhow::Result<Vec<crate::compare::Comparison>> {
    let (Some(w), Some(e)) = (
        outcome
            .women
            .as_ref()
            .and_then(|w| outcome.models.iter().find(|m| m.name == w.name)),
        ensemble_model(outcome),
    ) else {
        return Ok(Vec::new());
    };
    let c = crate::compare::compare(
        &column(e, outcome, dataset)?,
        &column(w, outcome, dataset)?,
        &WOMAN_SCORE,
        0.95,
        &cfg.bootstrap(),
    )?;
    Ok(vec![c])
}

/// The headline model's out-of-fold film scores (and its own woman scores, for a woman-level
/// model) as a named column for a paired comparison ([`crate::compare`]); `None` without a
/// headline model.
pub fn headline_column(
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
) -> anyhow::Result<Option<crate::compare::ScoreColumn>> {
    headline_model(outcome)
        .map(|m| column(m, outcome, dataset))
        .transpose()
}

/// metrics.csv: every model's rows on each population (a `population` column), then the
/// `labels` column (`real`, or `permuted` under the negative control).
pub fn metrics_table_of(evals: &[ModelEval], permuted: bool) -> anyhow::Result<Table> {
    let mut frames = Vec::new();
    for p in Population::ALL {
        let models: Vec<(&str, &Evaluation)> = evals
            .iter()
            .filter_map(|e| {
                e.populations
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map(|(_, ev)| (e.name.as_str(), ev))
            })
            .collect();
        if models.is_empty() {
            continue;
        }
        let mut frame = metrics_table("honest", &models)?.frame;
        mias_eval::tag_rows(&mut frame, "population", p.name())?;
        frames.push(frame);
    }
    let mut frame = mias_eval::stack(&frames.iter().collect::<Vec<_>>())?;
    mias_eval::tag_rows(
        &mut frame,
        "labels",
        if permuted { "permuted" } else { "real" },
    )?;
    Ok(Table {
        frame,
        display: None,
        title: "Lesion method, every population".into(),
        notes: vec![],
    })
}

/// How `dataset` names a woman in the CSV files (Mini-MIAS: her number; a collection: its
/// patient id).
fn woman_name(dataset: &mias_data::Dataset, p: mias_data::PatientId) -> String {
    if dataset.is_mini_mias() {
        p.0.to_string()
    } else {
        dataset.patient_name(p)
    }
}

/// women.csv: one row per woman, `woman,label,score,fold`: abnormal (1) when any of her films
/// is, the headline model's out-of-fold woman score ([`woman_rule`]: a women model's own, else
/// the largest of her films'), and the outer fold her films were scored in.
pub fn women_csv(outcome: &Outcome, dataset: &mias_data::Dataset) -> anyhow::Result<String> {
    let mut s = String::from("woman,label,score,fold\n");
    let Some(model) = headline_model(outcome) else {
        return Ok(s);
    };
    let rows = film_rows(model, outcome)?;
    let women = mias_eval::population(&rows, Population::Women, &woman_rule(model))
        .context("the women of the headline model")?;
    let patient: BTreeMap<u64, mias_data::PatientId> = outcome
        .films
        .values()
        .map(|f| (u64::from(f.record.patient.0), f.record.patient))
        .collect();
    let folds = women.folds.as_deref().unwrap_or(&[]);
    for (i, w) in women.ids.iter().enumerate() {
        s.push_str(&format!(
            "{},{},{},{}\n",
            woman_name(dataset, patient[w]),
            u8::from(women.abnormal[i]),
            women.scores[i],
            folds.get(i).map_or(String::new(), |f| f.to_string())
        ));
    }
    Ok(s)
}

/// One row per film: its woman, outer fold, label (and whose label it carries), `score` (the
/// headline model's out-of-fold score, [`headline_model`]), every model's out-of-fold score and
/// call, and each backbone's hottest breast cell (grid row and column).
/// Films and women are named as `dataset` names them (Mini-MIAS: `mdbNNN` and the woman's
/// number; a collection: the manifest's path and patient).
pub fn predictions_csv(outcome: &Outcome, dataset: &mias_data::Dataset) -> String {
    let woman = |p: mias_data::PatientId| woman_name(dataset, p);
    let headline = headline_model(outcome);
    let mut s = String::from("image,woman,fold,label,label_from,score");
    for m in &outcome.models {
        let key = m.name.replace(' ', "_").to_ascii_lowercase();
        s.push_str(&format!(",score_{key},call_{key}"));
    }
    for m in &outcome.members {
        let b = m.member.kind.name();
        s.push_str(&format!(",{b}_grid,{b}_hottest_row,{b}_hottest_col"));
    }
    s.push('\n');
    for (id, film) in &outcome.films {
        let fold = outcome
            .folds
            .iter()
            .find(|f| f.test.contains(id))
            .map_or(String::new(), |f| f.index.to_string());
        s.push_str(&format!(
            "{},{},{fold},{},{}",
            dataset.name(*id),
            woman(film.record.patient),
            u8::from(film.abnormal),
            dataset.name(film.from)
        ));
        match headline.and_then(|m| m.scores.get(id)) {
            Some(v) => s.push_str(&format!(",{v}")),
            None => s.push(','),
        }
        for m in &outcome.models {
            match (m.scores.get(id), m.predicted.get(id)) {
                (Some(v), Some(c)) => s.push_str(&format!(",{v},{}", u8::from(*c))),
                _ => s.push_str(",,"),
            }
        }
        for m in &outcome.members {
            let hottest = m
                .folds
                .iter()
                .find_map(|f| f.test_logits.get(id))
                .and_then(|l| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])))
                .map(|i| m.cells[id][i] as usize);
            match hottest {
                Some(c) => s.push_str(&format!(",{},{},{}", m.grid, c / m.grid, c % m.grid)),
                None => s.push_str(&format!(",{},,", m.grid)),
            }
        }
        s.push('\n');
    }
    s
}

fn pct(e: Option<&mias_eval::Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:.1} [{:.1}, {:.1}]",
            100.0 * e.value,
            100.0 * e.low,
            100.0 * e.high
        ),
        None => "n/a".into(),
    }
}

/// The Markdown summary: every model's AUC, sensitivity, specificity and accuracy, the chosen
/// parameters per fold, localisation.
pub fn markdown(outcome: &Outcome, evals: &[ModelEval], loc: &[Localisation]) -> String {
    let mut s = String::new();
    let control = match outcome.permute_labels {
        Some(seed) => format!(
            " **Negative control: labels and lesions permuted over women, each woman's films \
             taking another woman's (seed {seed}); the AUC should sit near 50.**"
        ),
        None => String::new(),
    };
    let women = outcome
        .films
        .values()
        .map(|f| f.record.patient)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    s.push_str(&format!(
        "# Lesion method, leakage-free protocol\n\nPooled out-of-fold figures over {} films of \
         {women} women in {} folds grouped by woman, on three populations: **films** (every \
         film), **films vs normal women** (abnormal films against the films of women with no \
         abnormal film) and **women** (one case per woman, abnormal when any film is: the women \
         model's own woman score, for the other models the largest of her films' scores). Percent with 95% intervals, every one a percentile \
         bootstrap over women; a film is called abnormal at its fold's threshold (Youden's J on \
         its training women's inner out-of-fold scores; the women model's on its woman scores), \
         a woman when any of her films is (the women model: when her own score reaches it). \
         The headline (**bold**) is \
         the configured method, fixed before the run; the other rows are ablations.{control}\n\n",
        outcome.films.len(),
        outcome.folds.len()
    ));
    s.push_str(
        "| Model | Population | AUC | AUC, fold mean | Sensitivity | Specificity | Accuracy \
         |\n|---|---|---|---|---|---|---|\n",
    );
    let mut ordered: Vec<&ModelEval> = evals.iter().filter(|e| e.headline).collect();
    ordered.extend(evals.iter().filter(|e| !e.headline));
    for e in ordered {
        for (p, ev) in &e.populations {
            let m = ev.pooled();
            let fold_mean = ev
                .over_folds(mias_eval::Metric::Auc)
                .map_or("n/a".into(), |f| {
                    format!(
                        "{:.1} [{:.1}, {:.1}]",
                        100.0 * f.mean,
                        100.0 * f.interval.low,
                        100.0 * f.interval.high
                    )
                });
            let name = if e.headline {
                format!("**{} (method)**", e.name)
            } else {
                format!("{} (ablation)", e.name)
            };
            s.push_str(&format!(
                "| {name} | {} | {} | {fold_mean} | {} | {} | {} |\n",
                p.label(),
                pct(m.auc.as_ref()),
                pct(m.recall.as_ref()),
                pct(m.specificity.as_ref()),
                pct(Some(&m.accuracy))
            ));
        }
    }
    s.push_str(
        "\nAUC, fold mean: the mean of the folds' AUCs with a Student t interval over the \
         folds, beside the pooled figure.\n",
    );
    // The score that chose C and k: the bilateral one when the run computed it.
    let bilateral = outcome
        .members
        .iter()
        .any(|m| m.final_model.calibration.contains_key(&Variant::Bilateral));
    let selection = if bilateral {
        Variant::Bilateral
    } else {
        Variant::Lesion
    };
    s.push_str(&format!(
        "\n## Chosen in each fold by the inner cross-validation\n\n| Backbone | fold | C | k | \
         inner AUC ({}) | training cells (pos / neg) |\n|---|---|---|---|---|---|\n",
        selection.name()
    ));
    for m in &outcome.members {
        for f in &m.folds {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} | {} / {} |\n",
                m.member.kind.display_name(),
                f.fold + 1,
                f.c,
                f.k,
                f.inner_auc,
                f.train_cells.0,
                f.train_cells.1
            ));
        }
    }
    s.push_str("\n## Localisation\n\nShare of abnormal films with coordinates whose hottest breast cell (out of fold) lies on a lesion cell, beside the share a random breast cell would reach.\n\n| Backbone | films | hits | share | chance |\n|---|---|---|---|---|\n");
    for l in loc {
        s.push_str(&format!(
            "| {} | {} | {} | {:.1} [{:.1}, {:.1}] | {:.1} |\n",
            l.model,
            l.images,
            l.hits,
            100.0 * l.share,
            100.0 * l.ci_low,
            100.0 * l.ci_high,
            100.0 * l.chance
        ));
    }
    if let Some(w) = &outcome.women {
        s.push_str(&format!(
            "\n## The women model\n\n{}: the mean probability of {} logistic models \
             (nothing chosen among them), {} fits over the outer folds, {} not converged; {} \
             fits in the inner cross-validations that set each fold's threshold (Youden's J on \
             the training women's inner out-of-fold woman scores: {}), {} not converged; {:.1} s \
             after the maps.\n\n\
             | Layer | grid | maps | computed | backbone s | layer s (cache, regions) | peak RSS \
             MiB |\n|---|---|---|---|---|---|---|\n",
            w.name,
            w.candidates,
            w.fits.fits,
            w.fits.unconverged,
            w.inner_fits.fits,
            w.thresholds
                .iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            w.inner_fits.unconverged,
            w.model_seconds
        ));
        for m in &w.maps {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {} |\n",
                m.layer,
                m.grid,
                m.maps,
                m.computed,
                m.compute_seconds,
                m.seconds,
                m.peak_rss_mib.map_or("n/a".into(), |v| format!("{v:.0}"))
            ));
        }
    }
    s
}

/// Every model's out-of-fold ROC curve, its AUC with the bootstrap interval over women
/// (`evals`, in the order of `outcome.models`) in the legend.
fn roc(dir: &Path, outcome: &Outcome, evals: &[ModelEval]) -> anyhow::Result<()> {
    let mut curves = Vec::new();
    for m in &outcome.models {
        let y: Vec<bool> = m
            .scores
            .keys()
            .map(|id| outcome.films[id].abnormal)
            .collect();
        // The ROC curve takes probabilities; the logistic map keeps the order of the scores.
        let s = to_unit(&m.scores.values().copied().collect::<Vec<_>>());
        curves.push((m.name.clone(), RocCurve::from_scores(&y, &s)?));
    }
    let series: Vec<RocSeries<'_>> = curves
        .iter()
        .zip(evals)
        .map(|((name, curve), e)| RocSeries {
            name,
            curve,
            auc: e.pooled(Population::Films).and_then(|m| m.auc.as_ref()),
        })
        .collect();
    for ext in ["png", "svg"] {
        write_roc(
            &dir.join(format!("roc.{ext}")),
            "Lesion method, out of fold",
            &series,
        )?;
    }
    Ok(())
}

/// A colour for a probability: dark blue through red to yellow.
pub fn colour(p: f64) -> [u8; 3] {
    const STOPS: [(f64, [f64; 3]); 4] = [
        (0.0, [20.0, 20.0, 120.0]),
        (0.4, [40.0, 120.0, 220.0]),
        (0.7, [230.0, 40.0, 30.0]),
        (1.0, [255.0, 240.0, 40.0]),
    ];
    let p = p.clamp(0.0, 1.0);
    for w in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if p <= b {
            let t = (p - a) / (b - a);
            return [0, 1, 2].map(|i| (ca[i] + t * (cb[i] - ca[i])).round() as u8);
        }
    }
    [255, 240, 40]
}

/// The film (at half size) with cell probabilities over the breast and the lesion discs drawn.
pub fn heatmap(
    film: &GrayImage,
    grid: usize,
    cells: &[u32],
    probabilities: &[f64],
    discs: &[(f64, f64, f64)],
) -> RgbImage {
    let side = 512u32;
    let small = mias_data::preprocess::resize(
        film,
        side,
        side,
        mias_data::preprocess::Interpolation::Bilinear,
    );
    let mut out = RgbImage::from_fn(side, side, |x, y| {
        let v = small.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    let cell = side as f64 / grid as f64;
    for (&c, &p) in cells.iter().zip(probabilities) {
        let (r, col) = (c as usize / grid, c as usize % grid);
        let colour = colour(p);
        let alpha = 0.55;
        let (y0, y1) = ((r as f64 * cell) as u32, ((r + 1) as f64 * cell) as u32);
        let (x0, x1) = ((col as f64 * cell) as u32, ((col + 1) as f64 * cell) as u32);
        for y in y0..y1.min(side) {
            for x in x0..x1.min(side) {
                let px = out.get_pixel_mut(x, y);
                for i in 0..3 {
                    px[i] = ((1.0 - alpha) * f64::from(px[i]) + alpha * f64::from(colour[i]))
                        .round() as u8;
                }
            }
        }
    }
    let scale = side as f64 / f64::from(film.width());
    for &(row, col, radius) in discs {
        let centre = ((col * scale).round() as i32, (row * scale).round() as i32);
        let r = ((radius * scale).round() as i32).max(2);
        for dr in 0..2 {
            imageproc::drawing::draw_hollow_circle_mut(
                &mut out,
                centre,
                r + dr,
                Rgb([60, 255, 60]),
            );
        }
    }
    out
}

fn heatmaps(
    dir: &Path,
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
    cfg: &ReportConfig,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The first films of each class (and normals) in image order.
    let mut chosen: Vec<(String, ImageId)> = Vec::new();
    let mut take = |name: &str, pred: &dyn Fn(&super::Film) -> bool| {
        for f in outcome
            .films
            .values()
            .filter(|f| pred(f))
            .take(cfg.heatmaps_per_class)
        {
            chosen.push((name.to_string(), f.id));
        }
    };
    take("norm", &|f| !f.abnormal);
    for c in CLASSES {
        let has_coords = |f: &super::Film| f.record.lesions.iter().any(|l| l.centre.is_some());
        take(&c.code().to_ascii_lowercase(), &|f| {
            f.abnormal && f.classes.contains(&c) && has_coords(f)
        });
    }
    for (class, id) in chosen {
        let film = dataset
            .image(id)
            .with_context(|| format!("reading image {}", dataset.name(id)))?;
        let discs: Vec<(f64, f64, f64)> = outcome.films[&id]
            .record
            .lesions
            .iter()
            .filter_map(|l| {
                let c = l.centre?;
                Some((
                    f64::from(c.row),
                    f64::from(c.col),
                    f64::from(l.radius.unwrap_or(0)),
                ))
            })
            .collect();
        for m in &outcome.members {
            let Some(logits) = m.folds.iter().find_map(|f| f.test_logits.get(&id)) else {
                continue;
            };
            let p: Vec<f64> = logits
                .iter()
                .map(|&l| 1.0 / (1.0 + (-f64::from(l)).exp()))
                .collect();
            let img = heatmap(&film, m.grid, &m.cells[&id], &p, &discs);
            let mut bytes = Vec::new();
            image::DynamicImage::ImageRgb8(img)
                .write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .context("encoding a heatmap")?;
            // A collection's image name is a path: its separators become `_` in a file name.
            let image: String = dataset
                .name(id)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let name = format!("{class}_{image}_{}.png", m.member.kind.name());
            mias_core::fs::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}

/// Used by the command to show the figures: `(model and population, AUC estimate)`, the
/// headline model first.
pub fn headline(evals: &[ModelEval]) -> Vec<(String, Option<mias_eval::Estimate>)> {
    let mut ordered: Vec<&ModelEval> = evals.iter().filter(|e| e.headline).collect();
    ordered.extend(evals.iter().filter(|e| !e.headline));
    ordered
        .into_iter()
        .flat_map(|e| {
            e.populations.iter().map(move |(p, ev)| {
                let tag = if e.headline { ", the method" } else { "" };
                (format!("{} ({}{tag})", e.name, p.label()), ev.pooled().auc)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_ends() {
        assert_eq!(colour(0.0), [20, 20, 120]);
        assert_eq!(colour(1.0), [255, 240, 40]);
        assert_eq!(colour(2.0), [255, 240, 40]);
    }

    #[test]
    fn heatmap_paints_only_breast_cells_and_draws_discs() {
        let film = GrayImage::from_pixel(1024, 1024, image::Luma([100]));
        // Grid 4 (cells of 128 px on the 512 output); paint cell 5 = (row 1, col 1) hot.
        let img = heatmap(&film, 4, &[5], &[1.0], &[(900.0, 100.0, 40.0)]);
        assert_eq!(img.get_pixel(10, 10).0, [100, 100, 100]); // not a breast cell
        let hot = img.get_pixel(128 + 64, 128 + 64).0; // inside cell (1, 1)
        assert_eq!(
            hot,
            [0, 1, 2].map(|i| (0.45 * 100.0 + 0.55 * f64::from(colour(1.0)[i])).round() as u8)
        );
        // The disc at film (row 900, col 100), radius 40 -> (450, 50), radius 20 at half size.
        assert_eq!(img.get_pixel(50 + 20, 450).0, [60, 255, 60]);
    }
}
