//! From the paper method's predictions to the files a reader looks at: metrics per protocol,
//! model and population (mias-eval), Table 2, Table 3 beside the literature, the leakage report
//! ([`super::leakage`]), ROC and confusion figures, the per-item predictions, and the final
//! heads that `predict` applies.
//!
//! Every figure of the written files is given on three populations
//! ([`mias_eval::Population`]: every test item; abnormal items against the items of women with
//! no abnormal item; one case per woman, the largest of her items' probabilities, abnormal when
//! any item is), each interval a percentile bootstrap over women ([`evaluate_populations`]);
//! under the honest protocol the pooled out-of-fold figures stand beside the fold means. Table 2,
//! Table 3 and the leakage report show the first population (every item).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mias_backbones::BackboneKind;
use mias_data::Dataset;
use mias_eval::polars::prelude::DataFrame;
use mias_eval::{
    AucInterval, ConfusionPanel, CvSummary, EvalConfig, Evaluation, Figure, FilmScore,
    FoldPredictions, Metrics, Population, RocCurve, RocPanel, RocSeries, WomanScore,
};

use super::experiment::{Outcome, ProtocolOutcome};
use crate::labels::LabelSource;
use crate::members::{Model, NotRun};
use crate::paper::config::{Pooling, Protocol};

/// The literature's figures that Table 3 sets ours beside (committed in `data/literature.csv`).
pub const LITERATURE_CSV: &str = include_str!("../../data/literature.csv");

/// One model's evaluation under one protocol.
#[derive(Debug)]
pub struct ModelEval {
    /// A member, or the ensemble.
    pub model: Model,
    /// Metrics (single test set, or cross-validated).
    pub evaluation: Evaluation,
    /// ROC curve over every test item (pooled out-of-fold for cross-validation).
    pub roc: RocCurve,
}

/// Every model's evaluation under one protocol and one set of labels.
#[derive(Debug)]
pub struct ProtocolEval {
    /// Which protocol.
    pub protocol: Protocol,
    /// Which labels the heads learnt and are judged by.
    pub labels: LabelSource,
    /// The members in order, then the ensemble.
    pub models: Vec<ModelEval>,
}

/// The evaluation settings of a run: the config's threshold, 95% intervals, DeLong for the
/// AUC, and a bootstrap (F1) seeded from the experiment's seed.
pub fn eval_config(threshold: f64, seed: u64) -> EvalConfig {
    let mut cfg = EvalConfig {
        threshold,
        ..EvalConfig::default()
    };
    cfg.bootstrap.seed = seed;
    cfg
}

/// Evaluates every member and the ensemble of one protocol's predictions.
pub fn evaluate(
    outcome: &ProtocolOutcome,
    members: &[BackboneKind],
    cfg: &EvalConfig,
) -> anyhow::Result<ProtocolEval> {
    let models = Model::all(members)
        .into_iter()
        .map(|model| {
            evaluate_model(outcome, model, cfg).with_context(|| {
                format!(
                    "{} under the {} protocol",
                    model.display_name(),
                    outcome.protocol.name()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(ProtocolEval {
        protocol: outcome.protocol,
        labels: outcome.labels,
        models,
    })
}

fn evaluate_model(
    outcome: &ProtocolOutcome,
    model: Model,
    cfg: &EvalConfig,
) -> anyhow::Result<ModelEval> {
    let rows = &outcome.output.rows;
    let y: Vec<bool> = rows.iter().map(|r| r.label == 1).collect();
    let p: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.score(model).map(f64::from).with_context(|| {
                format!(
                    "{} has no prediction for film #{}",
                    model.name(),
                    r.image.ordinal()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let evaluate = |cfg: &EvalConfig| -> mias_eval::Result<Evaluation> {
        Ok(match outcome.protocol {
            Protocol::Paper | Protocol::Image | Protocol::Official => {
                Evaluation::Single(Metrics::from_scores(&y, &p, cfg)?)
            }
            Protocol::Honest => {
                let folds = outcome
                    .parts
                    .iter()
                    .map(|part| {
                        let (y, p): (Vec<bool>, Vec<f64>) = rows
                            .iter()
                            .zip(&p)
                            .filter(|(r, _)| r.part == part.name)
                            .map(|(r, &p)| (r.label == 1, p))
                            .unzip();
                        FoldPredictions::new(y, p)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Evaluation::CrossValidated(CvSummary::from_folds(&folds, cfg)?)
            }
        })
    };
    // DeLong's interval needs two cases of each class; a smaller test set gets the
    // stratified bootstrap instead, and the method column of every table says so.
    let evaluation = match evaluate(cfg) {
        Err(mias_eval::Error::TooFewForDelong { .. }) => evaluate(&EvalConfig {
            auc_interval: AucInterval::Bootstrap,
            ..*cfg
        }),
        other => other,
    }?;
    let roc = RocCurve::from_scores(&y, &p)?;
    Ok(ModelEval {
        model,
        evaluation,
        roc,
    })
}

/// One model's figures on every population under one protocol and one set of labels.
#[derive(Debug)]
pub struct PopulationEval {
    /// Which protocol.
    pub protocol: Protocol,
    /// Which labels.
    pub labels: LabelSource,
    /// A member, or the ensemble.
    pub model: Model,
    /// Per population (in [`Population::ALL`] order; one with a single class is left out):
    /// the figures with intervals from the bootstrap over women; pooled out of fold with the
    /// fold means beside under the honest protocol.
    pub populations: Vec<(Population, Evaluation)>,
}

/// How a woman's test items make her score in the women population: the largest of their
/// probabilities (she is called abnormal when any item is).
pub const WOMAN_SCORE: WomanScore = WomanScore::Max;

/// One model's test items as mias-eval's film rows: numbered by their row, each with its
/// image's woman, label, probability, fold (the honest protocol's part) and the run's
/// threshold.
pub fn film_rows(
    outcome: &ProtocolOutcome,
    model: Model,
    dataset: &Dataset,
    threshold: f64,
) -> anyhow::Result<Vec<FilmScore>> {
    let women: BTreeMap<_, u64> = dataset
        .records()
        .iter()
        .map(|r| (r.id, u64::from(r.patient.0)))
        .collect();
    let folds = outcome.protocol == Protocol::Honest;
    outcome
        .output
        .rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let woman = *women
                .get(&r.image)
                .with_context(|| format!("{} is not in the dataset", dataset.name(r.image)))?;
            let score = r.score(model).with_context(|| {
                format!(
                    "{} has no prediction for {}",
                    model.name(),
                    dataset.name(r.image)
                )
            })?;
            let fold = if folds {
                Some(
                    outcome
                        .parts
                        .iter()
                        .position(|p| p.name == r.part)
                        .with_context(|| format!("part {} is not a fold", r.part))?,
                )
            } else {
                None
            };
            Ok(FilmScore {
                film: k as u64,
                woman,
                abnormal: r.label == 1,
                score: f64::from(score),
                fold,
                threshold: Some(threshold),
            })
        })
        .collect()
}

/// Every model's figures on every population under one protocol's outcome: the intervals from
/// the bootstrap over women (`cfg.bootstrap`), a case called abnormal at `cfg.threshold`;
/// under the honest protocol the pooled out-of-fold figures with the fold means beside.
pub fn evaluate_populations(
    outcome: &ProtocolOutcome,
    members: &[BackboneKind],
    dataset: &Dataset,
    cfg: &EvalConfig,
) -> anyhow::Result<Vec<PopulationEval>> {
    Model::all(members)
        .into_iter()
        .map(|model| {
            let what = || {
                format!(
                    "{} under the {} protocol",
                    model.display_name(),
                    outcome.protocol.name()
                )
            };
            let rows = film_rows(outcome, model, dataset, cfg.threshold).with_context(what)?;
            let mut populations = Vec::new();
            for p in Population::ALL {
                let cases = mias_eval::population(&rows, p, &WOMAN_SCORE).with_context(what)?;
                let (pos, neg) = cases.class_counts();
                if pos == 0 || neg == 0 {
                    continue;
                }
                let evaluation = if outcome.protocol == Protocol::Honest {
                    Evaluation::CrossValidated(cases.cross_validated(cfg.level, &cfg.bootstrap)?)
                } else {
                    Evaluation::Single(cases.metrics(cfg.level, &cfg.bootstrap)?)
                };
                populations.push((p, evaluation));
            }
            Ok(PopulationEval {
                protocol: outcome.protocol,
                labels: outcome.labels,
                model,
                populations,
            })
        })
        .collect()
}

/// The stacked metrics of `evals` on `populations`: per protocol and labels, each
/// population's rows tagged with it (`population`), then with the labels (`labels`, the last
/// column).
pub fn population_frame(
    evals: &[&PopulationEval],
    populations: &[Population],
) -> anyhow::Result<DataFrame> {
    let mut frames = Vec::new();
    let mut groups: Vec<(Protocol, LabelSource)> = Vec::new();
    for e in evals {
        if !groups.contains(&(e.protocol, e.labels)) {
            groups.push((e.protocol, e.labels));
        }
    }
    for (protocol, labels) in groups {
        for &p in populations {
            let models: Vec<(&str, &Evaluation)> = evals
                .iter()
                .filter(|e| e.protocol == protocol && e.labels == labels)
                .filter_map(|e| {
                    e.populations
                        .iter()
                        .find(|(q, _)| *q == p)
                        .map(|(_, ev)| (e.model.display_name(), ev))
                })
                .collect();
            if models.is_empty() {
                continue;
            }
            let mut frame = mias_eval::metrics_table(protocol.name(), &models)?.frame;
            mias_eval::tag_rows(&mut frame, "population", p.name())?;
            mias_eval::tag_rows(&mut frame, "labels", labels.name())?;
            frames.push(frame);
        }
    }
    Ok(mias_eval::stack(&frames.iter().collect::<Vec<_>>())?)
}

/// The honest protocol's out-of-fold probabilities of `model` as a named column for a paired
/// comparison ([`crate::compare`]), with the run's own labels; `None` when the honest protocol
/// did not run.
pub fn honest_column(
    outcome: &Outcome,
    model: Model,
    dataset: &Dataset,
) -> anyhow::Result<Option<crate::compare::ScoreColumn>> {
    let Some(o) = outcome.main().find(|o| o.protocol == Protocol::Honest) else {
        return Ok(None);
    };
    let rows = film_rows(o, model, dataset, 0.5)?;
    let films = o
        .output
        .rows
        .iter()
        .zip(rows)
        .map(|(r, f)| {
            (
                dataset.name(r.image),
                crate::compare::ScoredFilm {
                    woman: f.woman,
                    abnormal: f.abnormal,
                    score: f.score,
                    fold: f.fold.unwrap_or_default(),
                },
            )
        })
        .collect();
    Ok(Some(crate::compare::ScoreColumn {
        name: format!("paper: {}", model.display_name()),
        films,
        women: None,
    }))
}

/// table2.md's section per protocol: AUC, sensitivity, specificity and accuracy of every model
/// on every population (pooled; under the honest protocol the fold mean of the AUC beside).
fn population_markdown(evals: &[&PopulationEval]) -> String {
    let pct = |e: Option<&mias_eval::Estimate>| {
        e.map_or("n/a".to_string(), |e| {
            format!(
                "{:.1} [{:.1}, {:.1}]",
                100.0 * e.value,
                100.0 * e.low,
                100.0 * e.high
            )
        })
    };
    let mut md = String::from(
        "## Every population\n\nPercent with 95% intervals, each a percentile bootstrap over \
         women. Populations: every test item; abnormal items against the items of women with \
         no abnormal item; women (one case per woman: the largest of her items' \
         probabilities, abnormal when any item is). Under the honest protocol the AUC is \
         given pooled out of fold and as the mean over folds (Student t interval).\n",
    );
    let mut protocols: Vec<Protocol> = Vec::new();
    for e in evals {
        if !protocols.contains(&e.protocol) {
            protocols.push(e.protocol);
        }
    }
    for protocol in protocols {
        let _ = write!(
            md,
            "\n### {} protocol\n\n| Model | Population | AUC | AUC, fold mean | Sensitivity | \
             Specificity | Accuracy |\n|---|---|---|---|---|---|---|\n",
            protocol.name()
        );
        for e in evals.iter().filter(|e| e.protocol == protocol) {
            for (p, ev) in &e.populations {
                let m = ev.pooled();
                let fold_mean = ev
                    .over_folds(mias_eval::Metric::Auc)
                    .map_or("n/a".into(), |f| {
                        pct(Some(&mias_eval::Estimate {
                            value: f.mean,
                            ..f.interval
                        }))
                    });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {fold_mean} | {} | {} | {} |",
                    e.model.display_name(),
                    p.label(),
                    pct(m.auc.as_ref()),
                    pct(m.recall.as_ref()),
                    pct(m.specificity.as_ref()),
                    pct(Some(&m.accuracy))
                );
            }
        }
    }
    md
}

/// Where the final head of `member` is saved, relative to the run's directory.
pub fn head_file(member: BackboneKind) -> PathBuf {
    Path::new("heads").join(format!("{}.safetensors", member.name()))
}

/// Writes every file of the paper's method into `dir` (which exists): metrics.csv (every
/// protocol, real and permuted labels, every population of [`evaluate_populations`] under
/// `eval`), table2.md, table3.md, leakage.md, roc.png, roc.svg,
/// confusion.png, confusion.svg (the run's own labels), predictions.csv, and the final heads
/// (see [`head_file`]).
pub fn write_results(
    dir: &Path,
    outcome: &Outcome,
    dataset: &Dataset,
    evals: &[ProtocolEval],
    eval: &EvalConfig,
    not_run: &[NotRun],
) -> anyhow::Result<()> {
    let output = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        mias_core::fs::write_atomic(&dir.join(name), bytes)?;
        crate::fault::point("output");
        Ok(())
    };
    // Every protocol's outcome (real and permuted labels), each model on every population.
    let mut by_population: Vec<PopulationEval> = Vec::new();
    for o in &outcome.protocols {
        by_population.extend(evaluate_populations(o, &outcome.members, dataset, eval)?);
    }
    let everything: Vec<&PopulationEval> = by_population.iter().collect();
    let all = population_frame(&everything, &Population::ALL)?;
    mias_eval::write_csv(&all, &dir.join("metrics.csv"))?;
    crate::fault::point("output");

    let main: Vec<&ProtocolEval> = evals
        .iter()
        .filter(|e| e.labels == outcome.labels)
        .collect();
    let main_populations: Vec<&PopulationEval> = by_population
        .iter()
        .filter(|e| e.labels == outcome.labels)
        .collect();
    // Table 2, Table 3 and the leakage report: every test item (the first population).
    let main_frame = population_frame(&main_populations, &[Population::Films])?;
    let notes = Notes::new(outcome, not_run);
    let mut t2 = table2(outcome, &main, &main_frame, &notes)?;
    t2.push_str(&population_markdown(&main_populations));
    output("table2.md", t2.as_bytes())?;
    output("table3.md", table3(&main, &main_frame, &notes)?.as_bytes())?;
    fn films_eval(e: &PopulationEval) -> Option<&Evaluation> {
        e.populations
            .iter()
            .find(|(p, _)| *p == Population::Films)
            .map(|(_, ev)| ev)
    }
    let evaluated: Vec<super::leakage::Evaluated<'_>> = by_population
        .iter()
        .filter_map(|e| {
            Some(super::leakage::Evaluated {
                protocol: e.protocol,
                labels: e.labels,
                model: e.model,
                evaluation: films_eval(e)?,
            })
        })
        .collect();
    let leakage =
        super::leakage::leakage_markdown(outcome, dataset.records(), &evaluated, &main_frame)?;
    output("leakage.md", leakage.as_bytes())?;
    write_figures(dir, &main)?;
    output(
        "predictions.csv",
        predictions_csv(outcome, dataset).as_bytes(),
    )?;
    write_heads(dir, outcome)
}

/// The notes every table of a run carries.
struct Notes {
    /// What the ensemble is and what each head sees.
    ensemble: String,
    /// The backbones that did not run, if any.
    not_run: Option<String>,
    /// Said when the whole run learnt permuted labels.
    permuted: Option<String>,
}

impl Notes {
    fn new(outcome: &Outcome, not_run: &[NotRun]) -> Notes {
        let ensemble = format!(
            "{}: the mean of the softmax outputs of {} (model averaging). Each head sees {}.",
            Model::Ensemble.display_name(),
            outcome
                .members
                .iter()
                .map(|k| k.display_name())
                .collect::<Vec<_>>()
                .join(", "),
            match outcome.pooling {
                Pooling::Avg => {
                    "its backbone's last feature map averaged over space (pooling = avg)"
                }
                Pooling::Flatten => {
                    "every value of its backbone's last feature map (pooling = flatten)"
                }
            }
        );
        let not_run = (!not_run.is_empty()).then(|| {
            format!(
                "Not run (no weights; never replaced by random ones): {}.",
                not_run
                    .iter()
                    .map(|n| n.backbone.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        let permuted = outcome.labels.seed().map(|seed| {
            format!(
                "**Negative control**: every figure here comes from labels permuted over women \
                 (seed {seed}, `--permute-labels`); none is a result about the real labels."
            )
        });
        Notes {
            ensemble,
            not_run,
            permuted,
        }
    }
}

/// Table 2: each backbone and the ensemble, one table per protocol.
fn table2(
    outcome: &Outcome,
    evals: &[&ProtocolEval],
    all: &DataFrame,
    notes: &Notes,
) -> anyhow::Result<String> {
    let mut md = String::from("# Table 2: each backbone and the ensemble\n\n");
    for e in evals {
        let mut t = mias_eval::table2(all, Some(e.protocol.name()), Figure::Auto)?;
        t.title = protocol_title(e.protocol, outcome);
        t.notes.insert(0, notes.ensemble.clone());
        if let Some(o) = outcome.main().find(|o| o.protocol == e.protocol) {
            let rows = &o.output.rows;
            let normal = rows.iter().filter(|r| r.label == 0).count();
            t.notes.insert(
                1,
                format!(
                    "Baseline: calling every test item normal would score {:.1}% accuracy \
                     ({normal} of {} test items are normal), 0% recall and an AUC of 50%.",
                    100.0 * normal as f64 / rows.len().max(1) as f64,
                    rows.len()
                ),
            );
        }
        if let Some(n) = &notes.not_run {
            t.notes.insert(2, n.clone());
        }
        if let Some(n) = &notes.permuted {
            t.notes.insert(0, n.clone());
        }
        md.push_str(&t.to_markdown()?);
        md.push('\n');
    }
    Ok(md)
}

/// Table 3: the ensemble of each protocol beside the literature.
fn table3(evals: &[&ProtocolEval], all: &DataFrame, notes: &Notes) -> anyhow::Result<String> {
    let literature =
        mias_eval::parse_literature(LITERATURE_CSV.as_bytes(), Path::new("data/literature.csv"))?;
    let ours: Vec<(&str, &str)> = evals
        .iter()
        .map(|e| (e.protocol.name(), Model::Ensemble.display_name()))
        .collect();
    let mut t3 = mias_eval::table3(&literature, all, &ours, Figure::Auto)?;
    t3.title = "Table 3: this work beside the figures the paper quotes".into();
    t3.notes.insert(0, notes.ensemble.clone());
    if let Some(n) = &notes.permuted {
        t3.notes.insert(0, n.clone());
    }
    Ok(format!("# Table 3\n\n{}\n", t3.to_markdown()?))
}

/// Every protocol's members and ensemble: one ROC chart per protocol (two a row) and one
/// sheet of confusion matrices (a row per protocol), PNG and SVG.
fn write_figures(dir: &Path, evals: &[&ProtocolEval]) -> anyhow::Result<()> {
    let titles: Vec<String> = evals
        .iter()
        .map(|e| format!("{} protocol", e.protocol.name()))
        .collect();
    let series: Vec<Vec<RocSeries<'_>>> = evals
        .iter()
        .map(|e| {
            e.models
                .iter()
                .map(|m| RocSeries {
                    name: m.model.display_name(),
                    curve: &m.roc,
                    auc: m.evaluation.pooled().auc.as_ref(),
                })
                .collect()
        })
        .collect();
    let panels: Vec<RocPanel<'_>> = titles
        .iter()
        .zip(&series)
        .map(|(title, series)| RocPanel { title, series })
        .collect();
    let title = "ROC on the test items (honest: pooled out-of-fold)";
    for file in ["roc.png", "roc.svg"] {
        mias_eval::write_roc_grid(&dir.join(file), title, &panels, 2)?;
        crate::fault::point("output");
    }
    let names: Vec<String> = evals
        .iter()
        .flat_map(|e| {
            e.models
                .iter()
                .map(move |m| format!("{} ({})", m.model.display_name(), e.protocol.name()))
        })
        .collect();
    let models: Vec<&ModelEval> = evals.iter().flat_map(|e| &e.models).collect();
    let panels: Vec<ConfusionPanel<'_>> = models
        .iter()
        .zip(&names)
        .map(|(m, name)| ConfusionPanel {
            name,
            matrix: &m.evaluation.pooled().confusion,
        })
        .collect();
    let per_row = evals.first().map_or(1, |e| e.models.len());
    let title = "Confusion matrices (honest: pooled out-of-fold)";
    for file in ["confusion.png", "confusion.svg"] {
        mias_eval::write_confusion_grid(&dir.join(file), title, &panels, per_row)?;
        crate::fault::point("output");
    }
    Ok(())
}

/// The final heads, one file per member (see [`head_file`]).
fn write_heads(dir: &Path, outcome: &Outcome) -> anyhow::Result<()> {
    let heads_dir = dir.join("heads");
    std::fs::create_dir_all(&heads_dir)
        .with_context(|| format!("creating {}", heads_dir.display()))?;
    for f in &outcome.finals {
        f.head
            .save(dir.join(head_file(f.member)))
            .with_context(|| format!("saving the final {} head", f.member))?;
        crate::fault::point("output");
    }
    Ok(())
}

fn protocol_title(protocol: Protocol, outcome: &Outcome) -> String {
    let parts = outcome
        .main()
        .find(|p| p.protocol == protocol)
        .map_or(0, |p| p.parts.len());
    match protocol {
        Protocol::Paper => {
            "paper protocol: augment first, one random split by item (leaks)".to_string()
        }
        Protocol::Image => "image protocol: one random split by image, training images \
                            augmented (the other breast leaks)"
            .to_string(),
        Protocol::Honest => format!(
            "honest protocol: {parts}-fold cross-validation grouped by woman, mean over folds \
             [Student t interval]"
        ),
        Protocol::Official => "official protocol: the collection's own train/test split, \
                               training images augmented"
            .to_string(),
    }
}

/// Every test item's label and probabilities, one row per protocol, labels, part and item;
/// images named as `dataset` names them (`mdbNNN`, or a collection's path).
pub fn predictions_csv(outcome: &Outcome, dataset: &Dataset) -> String {
    let mut out = String::from("protocol,labels,part,image,view,label");
    for &m in &outcome.members {
        let _ = write!(out, ",p_{}", Model::Backbone(m).name());
    }
    let _ = writeln!(out, ",p_{}", Model::Ensemble.name());
    for o in &outcome.protocols {
        for r in &o.output.rows {
            let _ = write!(
                out,
                "{},{},{},{},{},{}",
                o.protocol.name(),
                o.labels.name(),
                r.part,
                dataset.name(r.image),
                r.view,
                r.label
            );
            for (_, p) in &r.members {
                let _ = write!(out, ",{p:.6}");
            }
            let _ = writeln!(out, ",{:.6}", r.ensemble);
        }
    }
    out
}

/// Figures of one model for a console summary: `(protocol and labels, model) -> (accuracy,
/// auc)`, the fold mean for cross-validation.
pub fn headline(evals: &[ProtocolEval]) -> BTreeMap<(String, String), (f64, Option<f64>)> {
    let mut out = BTreeMap::new();
    for e in evals {
        for m in &e.models {
            let figure = |metric: mias_eval::Metric, pooled: Option<f64>| {
                m.evaluation.over_folds(metric).map(|f| f.mean).or(pooled)
            };
            let pooled = m.evaluation.pooled();
            let acc = figure(mias_eval::Metric::Accuracy, Some(pooled.accuracy.value))
                .unwrap_or(f64::NAN);
            let auc = figure(mias_eval::Metric::Auc, pooled.auc.as_ref().map(|a| a.value));
            let protocol = match e.labels {
                LabelSource::Real => e.protocol.name().to_string(),
                LabelSource::Permuted { .. } => format!("{}, permuted", e.protocol.name()),
            };
            out.insert((protocol, m.model.display_name().to_string()), (acc, auc));
        }
    }
    out
}
