//! The leakage report of the paper's method: the same method under the three protocols (which
//! leak makes which points), beside the permutation control, and, part by part, what each
//! test item shares with the training data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mias_data::split::Item;
use mias_data::{ImageId, ImageRecord, PatientId};
use mias_eval::polars::prelude::DataFrame;
use mias_eval::{Evaluation, Figure, Metric};

use super::experiment::Outcome;
use super::protocol::Part;
use crate::labels::LabelSource;
use crate::members::Model;
use crate::paper::config::Protocol;

/// What the train (and validation) items of a part share with its test items.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestLeak {
    /// Test items.
    pub test_items: usize,
    /// Test items with another view (a copy) of their own image in training or validation.
    pub own_image: usize,
    /// Test items whose woman's other breast is in training or validation.
    pub other_breast: usize,
    /// Test items with both.
    pub both: usize,
    /// Test items with neither.
    pub clean: usize,
}

/// Counts, item by item, how the test set of `part` leaks into its training data; `records`
/// say whose each image is (another image of the same woman counts as her other breast: in a
/// collection with CC and MLO views, the same breast's other view counts too).
pub fn test_leak(part: &Part, records: &[ImageRecord]) -> TestLeak {
    let patient_of: BTreeMap<ImageId, PatientId> =
        records.iter().map(|r| (r.id, r.patient)).collect();
    let patient = |id: &ImageId| patient_of.get(id).copied();
    let seen: Vec<&Item> = part.train.iter().chain(&part.val).collect();
    let images: BTreeSet<ImageId> = seen.iter().map(|i| i.image).collect();
    let mut women: BTreeMap<PatientId, BTreeSet<ImageId>> = BTreeMap::new();
    for i in &seen {
        if let Some(p) = patient(&i.image) {
            women.entry(p).or_default().insert(i.image);
        }
    }
    let mut leak = TestLeak {
        test_items: part.test.len(),
        ..TestLeak::default()
    };
    for item in &part.test {
        let own = images.contains(&item.image);
        let other = patient(&item.image)
            .and_then(|p| women.get(&p))
            .is_some_and(|ids| ids.iter().any(|&id| id != item.image));
        leak.own_image += usize::from(own);
        leak.other_breast += usize::from(other);
        leak.both += usize::from(own && other);
        leak.clean += usize::from(!own && !other);
    }
    leak
}

/// A model's AUC as the tables show it (mean over folds for cross-validation, else over the
/// test items), in percent with its interval.
fn auc_text(evaluation: &Evaluation) -> String {
    let shown = match evaluation.over_folds(Metric::Auc) {
        Some(f) => Some((f.mean, f.interval.low, f.interval.high)),
        None => evaluation
            .pooled()
            .auc
            .as_ref()
            .map(|a| (a.value, a.low, a.high)),
    };
    shown.map_or("n/a".into(), |(v, l, h)| {
        mias_eval::percent_with_interval(v, l, h)
    })
}

/// One model's evaluation under one protocol and set of labels: what the report reads of the
/// run's evaluations.
#[derive(Clone, Copy)]
pub struct Evaluated<'a> {
    /// The protocol.
    pub protocol: Protocol,
    /// Real or permuted labels.
    pub labels: LabelSource,
    /// A member or the ensemble.
    pub model: Model,
    /// Its figures.
    pub evaluation: &'a Evaluation,
}

/// The ensemble's AUC (as shown) under `protocol` with the run's labels.
fn ensemble_auc(evals: &[Evaluated<'_>], protocol: Protocol, labels: LabelSource) -> Option<f64> {
    let m = evals
        .iter()
        .find(|e| e.protocol == protocol && e.labels == labels && e.model == Model::Ensemble)?;
    match m.evaluation.over_folds(Metric::Auc) {
        Some(f) => Some(f.mean),
        None => m.evaluation.pooled().auc.as_ref().map(|a| a.value),
    }
}

/// The leakage report (leakage.md): the protocols side by side on `main` (the metrics of the
/// run's own labels), what each leak adds, the permutation control, what training shared
/// with each part's test set, and each part's audit (`records` say whose each image is).
pub fn leakage_markdown(
    outcome: &Outcome,
    records: &[ImageRecord],
    evals: &[Evaluated<'_>],
    main: &DataFrame,
) -> anyhow::Result<String> {
    let mut md = String::from("# Leakage report\n\n");
    let names: Vec<&str> = outcome.main().map(|o| o.protocol.name()).collect();
    let mut t =
        mias_eval::side_by_side(main, &names, &[Metric::Auc, Metric::Accuracy], Figure::Auto)?;
    t.title = "Which leak makes which points: the same method under each protocol".into();
    md.push_str(&t.to_markdown()?);
    md.push('\n');
    md.push_str(
        "What leaks into a test item's training data: paper: copies of its own image (augmented \
         before the split) and the other breast of its woman; image: the other breast only \
         (split by image, training images augmented after the split); honest: nothing (split \
         by woman).\n\n",
    );
    if outcome.main().any(|o| o.protocol == Protocol::Official) {
        md.push_str(
            "official: the collection's own train/test split; what it shares between its parts \
             (a woman in both, say) is in its audit at the end.\n\n",
        );
    }
    md.push_str(&what_each_leak_adds(outcome, evals));
    md.push_str(&control_section(outcome, evals));
    md.push_str(&shared_section(outcome, records));
    Ok(md)
}

/// The ensemble's AUC differences between neighbouring protocols, in words.
fn what_each_leak_adds(outcome: &Outcome, evals: &[Evaluated<'_>]) -> String {
    let auc = |p| ensemble_auc(evals, p, outcome.labels);
    let (Some(paper), Some(image), Some(honest)) = (
        auc(Protocol::Paper),
        auc(Protocol::Image),
        auc(Protocol::Honest),
    ) else {
        return String::new();
    };
    format!(
        "The ensemble's AUC: {:.1} under the paper protocol, {:.1} under the split by image, \
         {:.1} under the honest one. Copies of the test image add {:+.1} points (paper against \
         image), the other breast {:+.1} (image against honest). Single splits are noisy (see \
         the intervals): read these as directions, not exact shares.\n\n",
        100.0 * paper,
        100.0 * image,
        100.0 * honest,
        100.0 * (paper - image),
        100.0 * (image - honest),
    )
}

/// Every model's AUC with the real labels and with the labels permuted over women.
fn control_section(outcome: &Outcome, evals: &[Evaluated<'_>]) -> String {
    let Some(seed) = outcome.control_seed() else {
        return match outcome.labels {
            LabelSource::Permuted { seed } => format!(
                "## The permutation control\n\nThis whole run learnt labels permuted over women \
                 (seed {seed}): every figure above is the control.\n\n"
            ),
            LabelSource::Real => String::new(),
        };
    };
    let mut md = format!(
        "## The permutation control\n\nThe same protocols, splits, features and head seeds, \
         with the labels permuted over women (seed {seed}, derived from the run's seed; a \
         woman's pair of labels moves whole to another woman). Nothing about mammograms can be \
         learnt from these labels: an AUC away from 50 means the protocol lets a head recall \
         labels it has seen, not read the film.\n\n| Protocol | What leaks | Model | AUC, \
         real labels | AUC, permuted labels |\n|---|---|---|---|---|\n"
    );
    for real in evals.iter().filter(|e| e.labels == LabelSource::Real) {
        let control = evals
            .iter()
            .find(|e| {
                e.protocol == real.protocol
                    && e.model == real.model
                    && e.labels != LabelSource::Real
            })
            .map_or("n/a".into(), |c| auc_text(c.evaluation));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            real.protocol.name(),
            real.protocol.leaks(),
            real.model.display_name(),
            auc_text(real.evaluation),
            control
        );
    }
    md.push_str(
        "\nAUC in percent with its 95% interval (mean over folds for the honest protocol).\n\n",
    );
    md
}

/// Per protocol and part, what training shared with the test items; then each part's audit.
fn shared_section(outcome: &Outcome, records: &[ImageRecord]) -> String {
    let mut md = String::from(
        "## What training shared with the test set\n\n| protocol | part | test items | a copy \
         of its own image in training | its other breast in training | both | neither \
         |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut audits = String::new();
    for o in outcome.main() {
        for part in &o.parts {
            let l = test_leak(part, records);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                o.protocol.name(),
                part.name,
                l.test_items,
                l.own_image,
                l.other_breast,
                l.both,
                l.clean
            );
            let a = part.audit(records);
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
         in training, and it splits by image, so a woman's other breast can be too. The image \
         protocol splits by image too but augments training images only: no copy crosses the \
         split. The honest protocol splits by woman and augments training folds only.\n\n\
         ## Audit of every part\n\n",
    );
    md.push_str(&audits);
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u16, view: u32) -> Item {
        Item {
            image: mias_data::info::mdb(n).unwrap(),
            view,
        }
    }

    #[test]
    fn test_leak_counts_copies_and_other_breasts_separately() {
        // Woman 1 = mdb001/mdb002, woman 2 = mdb003/mdb004, woman 3 = mdb005/mdb006. mdb001's
        // view 1 has both leaks, mdb004 and mdb005 their other breast only, mdb007 none.
        let part = Part {
            name: "split".into(),
            train: vec![item(1, 0), item(2, 0), item(3, 1)],
            val: vec![item(6, 2)],
            test: vec![item(1, 1), item(4, 0), item(5, 0), item(7, 0)],
        };
        let records: Vec<ImageRecord> = (1..=8)
            .map(|n| {
                ImageRecord::numbered(
                    mias_data::info::mdb(n).unwrap(),
                    mias_data::Tissue::Fatty,
                    Vec::new(),
                )
            })
            .collect();
        assert_eq!(
            test_leak(&part, &records),
            TestLeak {
                test_items: 4,
                own_image: 1,
                other_breast: 3,
                both: 1,
                clean: 1,
            }
        );
    }
}
