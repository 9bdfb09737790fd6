//! From predictions to the files a reader looks at: metrics per protocol and model (mias-eval),
//! Table 2, Table 3 beside the literature, the leakage report, ROC and confusion figures, and
//! the per-item predictions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use mias_data::split::Item;
use mias_data::{ImageId, PatientId};
use mias_eval::{
    AucInterval, ConfusionPanel, CvSummary, EvalConfig, Evaluation, Figure, FoldPredictions,
    Metrics, RocCurve, RocSeries,
};

use crate::experiment::{Outcome, ProtocolOutcome};
use crate::members::{Member, NotRun};
use crate::protocol::{Part, Protocol};

/// The literature's figures that Table 3 sets ours beside (committed in `data/literature.csv`).
pub const LITERATURE_CSV: &str = include_str!("../data/literature.csv");

/// The name of the ensemble in every table and figure.
pub const ENSEMBLE: &str = "Ensemble";

/// One model's evaluation under one protocol.
#[derive(Debug)]
pub struct ModelEval {
    /// `VGG16`, ..., or [`ENSEMBLE`].
    pub name: String,
    /// Metrics (single test set, or cross-validated).
    pub evaluation: Evaluation,
    /// ROC curve over every test item (pooled out-of-fold for cross-validation).
    pub roc: RocCurve,
}

/// Every model's evaluation under one protocol.
#[derive(Debug)]
pub struct ProtocolEval {
    /// Which protocol.
    pub protocol: Protocol,
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
    members: &[Member],
    cfg: &EvalConfig,
) -> anyhow::Result<ProtocolEval> {
    let rows = &outcome.output.rows;
    let y: Vec<bool> = rows.iter().map(|r| r.label == 1).collect();
    let mut models = Vec::new();
    for k in 0..=members.len() {
        let name = match members.get(k) {
            Some(m) => m.display_name().to_string(),
            None => ENSEMBLE.to_string(),
        };
        let score = |r: &crate::protocol::PredictionRow| -> f64 {
            f64::from(if k < members.len() {
                r.members[k]
            } else {
                r.ensemble
            })
        };
        let p: Vec<f64> = rows.iter().map(score).collect();
        let context = || format!("{name} under the {} protocol", outcome.protocol.name());
        let evaluate = |cfg: &EvalConfig| -> mias_eval::Result<Evaluation> {
            Ok(match outcome.protocol {
                Protocol::Paper => Evaluation::Single(Metrics::from_scores(&y, &p, cfg)?),
                Protocol::Honest => {
                    let folds = outcome
                        .parts
                        .iter()
                        .map(|part| {
                            let (y, p): (Vec<bool>, Vec<f64>) = rows
                                .iter()
                                .filter(|r| r.part == part.name)
                                .map(|r| (r.label == 1, score(r)))
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
        }
        .with_context(context)?;
        let roc = RocCurve::from_scores(&y, &p).with_context(context)?;
        models.push(ModelEval {
            name,
            evaluation,
            roc,
        });
    }
    Ok(ProtocolEval {
        protocol: outcome.protocol,
        models,
    })
}

/// What the train (and validation) items of a part share with its test items.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestLeak {
    /// Test items.
    pub test_items: usize,
    /// Test items whose image (another view of it, or itself) is also in training or
    /// validation.
    pub same_image: usize,
    /// Test items whose image is not, but whose woman's other breast is.
    pub same_woman_only: usize,
    /// Test items with neither.
    pub clean: usize,
}

/// Counts, item by item, how the test set of `part` leaks into its training data.
pub fn test_leak(part: &Part) -> TestLeak {
    let seen: Vec<&Item> = part.train.iter().chain(&part.val).collect();
    let images: BTreeSet<ImageId> = seen.iter().map(|i| i.image).collect();
    let women: BTreeSet<PatientId> = seen.iter().map(|i| i.image.patient()).collect();
    let mut leak = TestLeak {
        test_items: part.test.len(),
        ..TestLeak::default()
    };
    for item in &part.test {
        if images.contains(&item.image) {
            leak.same_image += 1;
        } else if women.contains(&item.image.patient()) {
            leak.same_woman_only += 1;
        } else {
            leak.clean += 1;
        }
    }
    leak
}

/// Writes every result file into `dir` (which exists): metrics.csv, table2.md, table3.md,
/// leakage.md, roc.png, roc.svg, confusion.png, confusion.svg, predictions.csv.
pub fn write_results(
    dir: &Path,
    outcome: &Outcome,
    evals: &[ProtocolEval],
    members: &[Member],
    not_run: &[NotRun],
) -> anyhow::Result<()> {
    let mut frames = Vec::new();
    for e in evals {
        let models: Vec<(&str, &Evaluation)> = e
            .models
            .iter()
            .map(|m| (m.name.as_str(), &m.evaluation))
            .collect();
        frames.push(mias_eval::metrics_table(e.protocol.name(), &models)?.frame);
    }
    let all = mias_eval::stack(&frames.iter().collect::<Vec<_>>())?;
    mias_eval::write_csv(&all, &dir.join("metrics.csv"))?;

    let ensemble_note = format!(
        "{ENSEMBLE}: the mean of the softmax outputs of {} (model averaging). Each head sees {}.",
        members
            .iter()
            .map(Member::display_name)
            .collect::<Vec<_>>()
            .join(", "),
        match outcome.pooling {
            crate::config::Pooling::Avg => {
                "its backbone's last feature map averaged over space (pooling = avg)"
            }
            crate::config::Pooling::Flatten => {
                "every value of its backbone's last feature map (pooling = flatten)"
            }
        }
    );
    let not_run_note = (!not_run.is_empty()).then(|| {
        format!(
            "Not run (no weights; never replaced by random ones): {}.",
            not_run
                .iter()
                .map(|n| n.backbone.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });

    // Table 2: one table per protocol.
    let mut md = String::from("# Table 2: each backbone and the ensemble\n\n");
    for e in evals {
        let mut t = mias_eval::table2(&all, Some(e.protocol.name()), Figure::Auto)?;
        t.title = protocol_title(e.protocol, outcome);
        t.notes.insert(0, ensemble_note.clone());
        if let Some(o) = outcome.protocols.iter().find(|o| o.protocol == e.protocol) {
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
        if let Some(n) = &not_run_note {
            t.notes.insert(2, n.clone());
        }
        md.push_str(&t.to_markdown()?);
        md.push('\n');
    }
    mias_core::fs::write_atomic(&dir.join("table2.md"), md.as_bytes())?;

    // Table 3: the ensemble of each protocol beside the literature.
    let literature =
        mias_eval::parse_literature(LITERATURE_CSV.as_bytes(), Path::new("data/literature.csv"))?;
    let ours: Vec<(&str, &str)> = evals
        .iter()
        .map(|e| (e.protocol.name(), ENSEMBLE))
        .collect();
    let mut t3 = mias_eval::table3(&literature, &all, &ours, Figure::Auto)?;
    t3.title = "Table 3: this work beside the figures the paper quotes".into();
    t3.notes.insert(0, ensemble_note.clone());
    let md3 = format!("# Table 3\n\n{}\n", t3.to_markdown()?);
    mias_core::fs::write_atomic(&dir.join("table3.md"), md3.as_bytes())?;

    mias_core::fs::write_atomic(
        &dir.join("leakage.md"),
        leakage_markdown(outcome, &all)?.as_bytes(),
    )?;

    // Figures: every protocol's members and ensemble on one ROC chart.
    let names: Vec<String> = evals
        .iter()
        .flat_map(|e| {
            e.models
                .iter()
                .map(move |m| format!("{} ({})", m.name, e.protocol.name()))
        })
        .collect();
    let models: Vec<&ModelEval> = evals.iter().flat_map(|e| &e.models).collect();
    let series: Vec<RocSeries<'_>> = models
        .iter()
        .zip(&names)
        .map(|(m, name)| RocSeries {
            name,
            curve: &m.roc,
            auc: m.evaluation.pooled().auc.as_ref(),
        })
        .collect();
    let title = "ROC on the test items (honest: pooled out-of-fold)";
    mias_eval::write_roc(&dir.join("roc.png"), title, &series)?;
    mias_eval::write_roc(&dir.join("roc.svg"), title, &series)?;
    let panels: Vec<ConfusionPanel<'_>> = models
        .iter()
        .zip(&names)
        .map(|(m, name)| ConfusionPanel {
            name,
            matrix: &m.evaluation.pooled().confusion,
        })
        .collect();
    let title = "Confusion matrices (honest: pooled out-of-fold)";
    mias_eval::write_confusion(&dir.join("confusion.png"), title, &panels)?;
    mias_eval::write_confusion(&dir.join("confusion.svg"), title, &panels)?;

    mias_core::fs::write_atomic(
        &dir.join("predictions.csv"),
        predictions_csv(outcome, members).as_bytes(),
    )?;
    Ok(())
}

fn protocol_title(protocol: Protocol, outcome: &Outcome) -> String {
    let parts = outcome
        .protocols
        .iter()
        .find(|p| p.protocol == protocol)
        .map_or(0, |p| p.parts.len());
    match protocol {
        Protocol::Paper => {
            "paper protocol: augment first, one random split by item (leaks)".to_string()
        }
        Protocol::Honest => format!(
            "honest protocol: {parts}-fold cross-validation grouped by woman, mean over folds \
             [Student t interval]"
        ),
    }
}

fn leakage_markdown(
    outcome: &Outcome,
    all: &mias_eval::polars::prelude::DataFrame,
) -> anyhow::Result<String> {
    let mut md = String::from("# Leakage report\n\n");
    let has = |p: Protocol| outcome.protocols.iter().any(|o| o.protocol == p);
    if has(Protocol::Paper) && has(Protocol::Honest) {
        let mut t = mias_eval::compare_protocols(all, "paper", "honest", Figure::Auto)?;
        t.title = "The same method under both protocols".into();
        md.push_str(&t.to_markdown()?);
        md.push('\n');
    }
    md.push_str("## What training shared with the test set\n\n");
    md.push_str(
        "| protocol | part | test items | same image in training | other breast of the same \
         woman only | clean |\n|---|---|---:|---:|---:|---:|\n",
    );
    let mut audits = String::new();
    for o in &outcome.protocols {
        for part in &o.parts {
            let l = test_leak(part);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                o.protocol.name(),
                part.name,
                l.test_items,
                l.same_image,
                l.same_woman_only,
                l.clean
            );
            let a = part.audit();
            let _ = writeln!(
                audits,
                "- {} {}: {}; {} source image(s) and {} woman/women in more than one part{}",
                o.protocol.name(),
                part.name,
                a.sizes
                    .iter()
                    .map(|(p, n)| format!("{p} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                a.shared_images.len(),
                a.shared_women.len(),
                if a.is_clean() { " (clean)" } else { "" }
            );
        }
    }
    md.push_str(
        "\nThe paper's protocol augments before it splits, so other views of a test image are \
         in training, and it splits by image, so a woman's other breast can be too. The honest \
         protocol splits by woman and augments training folds only.\n\n## Audit of every part\n\n",
    );
    md.push_str(&audits);
    Ok(md)
}

/// Every test item's label and probabilities, one row per protocol, part and item.
pub fn predictions_csv(outcome: &Outcome, members: &[Member]) -> String {
    let mut out = String::from("protocol,part,image,view,label");
    for m in members {
        let _ = write!(out, ",p_{}", m.kind.name());
    }
    out.push_str(",p_ensemble\n");
    for o in &outcome.protocols {
        for r in &o.output.rows {
            let _ = write!(
                out,
                "{},{},{},{},{}",
                o.protocol.name(),
                r.part,
                r.image,
                r.view,
                r.label
            );
            for p in &r.members {
                let _ = write!(out, ",{p:.6}");
            }
            let _ = writeln!(out, ",{:.6}", r.ensemble);
        }
    }
    out
}

/// Figures of one model for a console summary: `(protocol, model) -> (accuracy, auc)`, the
/// fold mean for cross-validation.
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
            out.insert((e.protocol.name().to_string(), m.name.clone()), (acc, auc));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u16, view: u32) -> Item {
        Item {
            image: ImageId::new(n).unwrap(),
            view,
        }
    }

    #[test]
    fn test_leak_counts_copies_and_other_breasts_separately() {
        // Woman 1 = mdb001/mdb002, woman 2 = mdb003/mdb004, woman 3 = mdb005/mdb006.
        let part = Part {
            name: "split".into(),
            train: vec![item(1, 0), item(3, 1)],
            val: vec![item(6, 2)],
            test: vec![item(1, 1), item(4, 0), item(5, 0), item(7, 0)],
        };
        assert_eq!(
            test_leak(&part),
            TestLeak {
                test_items: 4,
                same_image: 1,
                same_woman_only: 2,
                clean: 1,
            }
        );
    }
}
