//! The three populations a screening figure can be about, and every figure on them with
//! intervals from the bootstrap over women.
//!
//! A mammography collection holds two (or more) films per woman, and a woman's films are not
//! independent cases: the same breast tissue, the same scanner, and for a score that compares a
//! film with the other breast, scores that depend on each other by construction. So:
//!
//! - [`Population::Films`]: every film;
//! - [`Population::FilmsVsNormalWomen`]: the abnormal films against the films of women with no
//!   abnormal film (the normal breast of a woman with a lesion on the other side is left out:
//!   telling the two breasts of one woman apart is laterality, not detection);
//! - [`Population::Women`]: one case per woman, abnormal when any of her films is, scored by a
//!   [`WomanScore`] rule fixed before the figures are seen (the largest of her films' scores by
//!   default) or by scores the caller gives (a woman-level model).
//!
//! Every interval here is a percentile interval of the bootstrap over women
//! ([`crate::cluster_bootstrap_draws`]): the women of a population (those with at least one
//! case in it), numbered in ascending id order, drawn with replacement, each bringing all her
//! cases; a draw without both classes is redrawn and counted. Every figure of a population,
//! and both models of a [`compare_paired`], are computed on the same draws. The films
//! population's AUC interval is the one [`crate::auc_cluster_bootstrap`] gives with the same
//! seed.
//!
//! Scores may be any finite numbers (logits, standardised scores, probabilities): the AUC
//! only ranks them, and a case is called abnormal when `score >= threshold`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::cluster::{Clusters, cluster_bootstrap_draws};
use crate::confusion::ConfusionMatrix;
use crate::cv::{CvSummary, summarize_folds};
use crate::error::{Error, Result};
use crate::interval::{Bootstrap, Estimate, IntervalMethod};
use crate::metrics::{Metric, Metrics};
use crate::roc::{DeLongComparison, auc_of};
use crate::table::Table;
use polars::prelude::{Column, DataFrame};

/// Which cases a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Population {
    /// Every film.
    Films,
    /// Abnormal films against the films of women with no abnormal film.
    FilmsVsNormalWomen,
    /// One case per woman, abnormal when any of her films is.
    Women,
}

impl Population {
    /// The three, in table order.
    pub const ALL: [Population; 3] = [
        Population::Films,
        Population::FilmsVsNormalWomen,
        Population::Women,
    ];

    /// Machine name (the `population` column): `films`, `films_vs_normal_women`, `women`.
    pub fn name(self) -> &'static str {
        match self {
            Population::Films => "films",
            Population::FilmsVsNormalWomen => "films_vs_normal_women",
            Population::Women => "women",
        }
    }

    /// Heading in tables: `films`, `films vs normal women`, `women`.
    pub fn label(self) -> &'static str {
        match self {
            Population::Films => "films",
            Population::FilmsVsNormalWomen => "films vs normal women",
            Population::Women => "women",
        }
    }
}

impl fmt::Display for Population {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Population {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Population::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::InvalidParameter {
                name: "population",
                value: s.to_string(),
                expected: "one of films, films_vs_normal_women, women",
            })
    }
}

/// One film's out-of-fold outcome: the input row of every population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilmScore {
    /// The film (any number unique among the rows, e.g. its position in the dataset).
    pub film: u64,
    /// Its woman.
    pub woman: u64,
    /// Abnormal (the film's own label).
    pub abnormal: bool,
    /// The model's score (any finite number).
    pub score: f64,
    /// The outer fold the film was scored in, if cross-validated.
    pub fold: Option<usize>,
    /// The threshold the film is judged against (called abnormal when `score >= threshold`),
    /// e.g. its fold's, chosen on training women; `None` when only the AUC is wanted.
    pub threshold: Option<f64>,
}

/// How a woman's films make her one score, fixed before the figures are seen.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum WomanScore {
    /// The largest of her films' scores (called abnormal when any film is).
    #[default]
    Max,
    /// The mean of her films' scores.
    Mean,
    /// A score per woman from elsewhere (a woman-level model), keyed by woman id; every woman
    /// of the rows needs one, and no other woman may appear.
    Given(BTreeMap<u64, f64>),
}

/// The cases of one population, sorted by [`ids`](Self::ids) (films by film number, women by
/// woman id), so two models' cases line up.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationCases {
    /// Which population.
    pub population: Population,
    /// The film numbers, or (women population) the woman ids.
    pub ids: Vec<u64>,
    /// The woman of each case (the cluster of the bootstrap).
    pub women: Vec<u64>,
    /// Abnormal.
    pub abnormal: Vec<bool>,
    /// Scores.
    pub scores: Vec<f64>,
    /// Folds, when every film has one.
    pub folds: Option<Vec<usize>>,
    /// Thresholds, when every film has one.
    pub thresholds: Option<Vec<f64>>,
}

/// Checks the rows: non-empty, films unique, scores and thresholds finite, folds and
/// thresholds given for all rows or none.
fn check_rows(rows: &[FilmScore]) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::Empty { what: "no films" });
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        if !seen.insert(r.film) {
            return Err(Error::InvalidParameter {
                name: "film",
                value: format!("film {} appears twice (row {i})", r.film),
                expected: "one row per film",
            });
        }
        if !r.score.is_finite() {
            return Err(Error::NonFiniteScore {
                index: i,
                value: r.score,
            });
        }
        if let Some(t) = r.threshold.filter(|t| !t.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "threshold",
                value: format!("{t} (film {})", r.film),
                expected: "a finite number",
            });
        }
    }
    let all_or_none = |has: &dyn Fn(&FilmScore) -> bool, name: &'static str| {
        let n = rows.iter().filter(|r| has(r)).count();
        if n == 0 || n == rows.len() {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name,
                value: format!("given for {n} of {} films", rows.len()),
                expected: "given for every film or for none",
            })
        }
    };
    all_or_none(&|r| r.fold.is_some(), "fold")?;
    all_or_none(&|r| r.threshold.is_some(), "threshold")
}

/// The cases of `population` from one model's film rows; women scored by `rule` (used by the
/// women population only).
///
/// Errors on empty rows, a film listed twice, a non-finite score or threshold, folds or
/// thresholds given for some films only; for the women population also on a woman whose
/// films lie in different folds or carry different thresholds (folds must be grouped by
/// woman), and on [`WomanScore::Given`] scores that miss a woman of the rows, name another,
/// or are not finite.
pub fn population(
    rows: &[FilmScore],
    population: Population,
    rule: &WomanScore,
) -> Result<PopulationCases> {
    check_rows(rows)?;
    let mut sorted: Vec<&FilmScore> = rows.iter().collect();
    sorted.sort_by_key(|r| r.film);
    let has_folds = rows[0].fold.is_some();
    let has_thresholds = rows[0].threshold.is_some();
    let mut cases = PopulationCases {
        population,
        ids: Vec::new(),
        women: Vec::new(),
        abnormal: Vec::new(),
        scores: Vec::new(),
        folds: has_folds.then(Vec::new),
        thresholds: has_thresholds.then(Vec::new),
    };
    let mut push = |id: u64,
                    woman: u64,
                    abnormal: bool,
                    score: f64,
                    fold: Option<usize>,
                    threshold: Option<f64>| {
        cases.ids.push(id);
        cases.women.push(woman);
        cases.abnormal.push(abnormal);
        cases.scores.push(score);
        if let (Some(f), Some(fold)) = (cases.folds.as_mut(), fold) {
            f.push(fold);
        }
        if let (Some(t), Some(threshold)) = (cases.thresholds.as_mut(), threshold) {
            t.push(threshold);
        }
    };
    match population {
        Population::Films => {
            for r in sorted {
                push(r.film, r.woman, r.abnormal, r.score, r.fold, r.threshold);
            }
        }
        Population::FilmsVsNormalWomen => {
            let abnormal_women: std::collections::BTreeSet<u64> = rows
                .iter()
                .filter(|r| r.abnormal)
                .map(|r| r.woman)
                .collect();
            for r in sorted {
                if r.abnormal || !abnormal_women.contains(&r.woman) {
                    push(r.film, r.woman, r.abnormal, r.score, r.fold, r.threshold);
                }
            }
        }
        Population::Women => {
            let mut by_woman: BTreeMap<u64, Vec<&FilmScore>> = BTreeMap::new();
            for r in sorted {
                by_woman.entry(r.woman).or_default().push(r);
            }
            if let WomanScore::Given(given) = rule {
                if let Some(w) = by_woman.keys().find(|w| !given.contains_key(w)) {
                    return Err(Error::InvalidParameter {
                        name: "woman scores",
                        value: format!("no score for woman {w}"),
                        expected: "a score for every woman of the films",
                    });
                }
                if let Some(w) = given.keys().find(|w| !by_woman.contains_key(w)) {
                    return Err(Error::InvalidParameter {
                        name: "woman scores",
                        value: format!("a score for woman {w}, who has no film"),
                        expected: "scores of the films' women only",
                    });
                }
                if let Some((w, s)) = given.iter().find(|(_, s)| !s.is_finite()) {
                    return Err(Error::InvalidParameter {
                        name: "woman scores",
                        value: format!("{s} for woman {w}"),
                        expected: "finite numbers",
                    });
                }
            }
            for (&woman, films) in &by_woman {
                let first = films[0];
                if let Some(r) = films.iter().find(|r| r.fold != first.fold) {
                    return Err(Error::InvalidParameter {
                        name: "fold",
                        value: format!(
                            "woman {woman}: film {} in fold {:?}, film {} in fold {:?}",
                            first.film, first.fold, r.film, r.fold
                        ),
                        expected: "all films of a woman in one fold (folds grouped by woman)",
                    });
                }
                if let Some(r) = films.iter().find(|r| r.threshold != first.threshold) {
                    return Err(Error::InvalidParameter {
                        name: "threshold",
                        value: format!(
                            "woman {woman}: film {} judged against {:?}, film {} against {:?}",
                            first.film, first.threshold, r.film, r.threshold
                        ),
                        expected: "one threshold for all films of a woman",
                    });
                }
                let score = match rule {
                    WomanScore::Max => films
                        .iter()
                        .map(|r| r.score)
                        .fold(f64::NEG_INFINITY, f64::max),
                    WomanScore::Mean => {
                        films.iter().map(|r| r.score).sum::<f64>() / films.len() as f64
                    }
                    WomanScore::Given(given) => given[&woman],
                };
                let abnormal = films.iter().any(|r| r.abnormal);
                push(woman, woman, abnormal, score, first.fold, first.threshold);
            }
        }
    }
    Ok(cases)
}

/// The three populations of one model's rows, in [`Population::ALL`] order.
pub fn populations(rows: &[FilmScore], rule: &WomanScore) -> Result<Vec<PopulationCases>> {
    Population::ALL
        .into_iter()
        .map(|p| population(rows, p, rule))
        .collect()
}

impl PopulationCases {
    /// Number of cases.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always `false`: [`population`] refuses empty rows, and every population of non-empty
    /// rows has a case.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The women of the bootstrap: the distinct women of the cases, in ascending id order
    /// (draw number `c` is the `c`-th).
    pub fn clusters(&self) -> Result<Clusters> {
        Clusters::new(&self.women)
    }

    /// `(abnormal, normal)` case counts.
    pub fn class_counts(&self) -> (usize, usize) {
        let pos = self.abnormal.iter().filter(|&&a| a).count();
        (pos, self.len() - pos)
    }

    fn both_classes(&self, what: &'static str) -> Result<()> {
        let (positives, negatives) = self.class_counts();
        if positives == 0 || negatives == 0 {
            return Err(Error::SingleClass {
                what,
                positives,
                negatives,
            });
        }
        Ok(())
    }

    /// The cases of one fold (`None` without folds).
    fn fold(&self, fold: usize) -> Option<PopulationCases> {
        let folds = self.folds.as_ref()?;
        let keep: Vec<usize> = (0..self.len()).filter(|&i| folds[i] == fold).collect();
        Some(self.subset(&keep))
    }

    fn subset(&self, keep: &[usize]) -> PopulationCases {
        let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
        PopulationCases {
            population: self.population,
            ids: keep.iter().map(|&i| self.ids[i]).collect(),
            women: keep.iter().map(|&i| self.women[i]).collect(),
            abnormal: keep.iter().map(|&i| self.abnormal[i]).collect(),
            scores: pick(&self.scores),
            folds: self
                .folds
                .as_ref()
                .map(|f| keep.iter().map(|&i| f[i]).collect()),
            thresholds: self.thresholds.as_ref().map(|t| pick(t)),
        }
    }

    /// The pooled AUC (Mann-Whitney, ties 1/2) with the percentile interval of the bootstrap
    /// over women. Errors when a class is absent or on bad settings.
    pub fn auc(&self, level: f64, bootstrap: &Bootstrap) -> Result<Estimate> {
        self.both_classes("the AUC")?;
        let clusters = self.clusters()?;
        let (mut cases, mut pos, mut neg) = (Vec::new(), Vec::new(), Vec::new());
        let intervals = cluster_bootstrap_draws(&clusters, bootstrap, level, "the AUC", 1, |d| {
            clusters.expand(d, &mut cases).ok()?;
            split(&cases, &self.abnormal, &self.scores, &mut pos, &mut neg);
            (!pos.is_empty() && !neg.is_empty()).then(|| vec![Some(auc_of(&pos, &neg))])
        })?;
        let all: Vec<usize> = (0..self.len()).collect();
        split(&all, &self.abnormal, &self.scores, &mut pos, &mut neg);
        let interval = intervals[0].ok_or(Error::Empty {
            what: "no bootstrap figure",
        })?;
        Ok(Estimate {
            value: auc_of(&pos, &neg),
            low: interval.low,
            high: interval.high,
            n: self.len() as u64,
            level,
            method: method(bootstrap, &clusters, interval.redrawn),
        })
    }

    /// Every figure of [`Metrics`] on these cases, each case called abnormal when its score
    /// is at least its threshold, every interval from the bootstrap over women (the same draws
    /// for all six; precision's interval rests on the draws where some case is called
    /// abnormal). `n` as in [`Metrics`]: the proportion's denominator, all cases for F1 and
    /// the AUC.
    ///
    /// Errors without thresholds, when a class is absent, or on bad settings.
    pub fn metrics(&self, level: f64, bootstrap: &Bootstrap) -> Result<Metrics> {
        let thresholds = self.thresholds.as_ref().ok_or(Error::InvalidParameter {
            name: "thresholds",
            value: "none".into(),
            expected: "a threshold for every film (the AUC alone needs none)",
        })?;
        self.both_classes("the figures of a population")?;
        let called: Vec<bool> = self
            .scores
            .iter()
            .zip(thresholds)
            .map(|(s, t)| s >= t)
            .collect();
        let clusters = self.clusters()?;
        let (mut cases, mut pos, mut neg) = (Vec::new(), Vec::new(), Vec::new());
        let figures = |cases: &[usize], pos: &mut Vec<f64>, neg: &mut Vec<f64>| {
            split(cases, &self.abnormal, &self.scores, pos, neg);
            if pos.is_empty() || neg.is_empty() {
                return None;
            }
            let c = confusion(cases, &self.abnormal, &called);
            Some(figures_of(&c, auc_of(pos, neg)))
        };
        let intervals = cluster_bootstrap_draws(
            &clusters,
            bootstrap,
            level,
            "the figures of a population",
            Metric::ALL.len(),
            |d| {
                clusters.expand(d, &mut cases).ok()?;
                figures(&cases, &mut pos, &mut neg)
            },
        )?;
        let all: Vec<usize> = (0..self.len()).collect();
        let c = confusion(&all, &self.abnormal, &called);
        let values =
            figures(&all, &mut pos, &mut neg).ok_or(Error::Empty { what: "no figures" })?;
        let estimate = |k: usize, n: u64| -> Result<Option<Estimate>> {
            let Some(value) = values[k] else {
                return Ok(None);
            };
            let interval = intervals[k].ok_or(Error::BootstrapExhausted {
                what: "a figure defined on the cases but on no draw",
                valid: 0,
                attempts: bootstrap.replicates,
                needed: bootstrap.replicates,
            })?;
            Ok(Some(Estimate {
                value,
                low: interval.low,
                high: interval.high,
                n,
                level,
                method: method(bootstrap, &clusters, interval.redrawn),
            }))
        };
        let n = c.total();
        let accuracy = estimate(0, n)?.ok_or(Error::Empty { what: "no cases" })?;
        let thresholds_equal = thresholds.iter().all(|&t| t == thresholds[0]);
        Ok(Metrics {
            confusion: c,
            threshold: thresholds_equal.then_some(thresholds[0]),
            accuracy,
            precision: estimate(1, c.predicted_positives())?,
            recall: estimate(2, c.positives())?,
            f1: estimate(3, n)?,
            specificity: estimate(4, c.negatives())?,
            auc: estimate(5, n)?,
        })
    }

    /// The out-of-fold evaluation: [`metrics`](Self::metrics) of all cases pooled (the
    /// pooled out-of-fold figures, intervals by the bootstrap over women), the same figures
    /// in each fold (folds without both classes left out), and each figure's mean, standard
    /// deviation and Student-t interval over the folds where it is defined (none for a figure
    /// defined in fewer than 2 folds: [`CvSummary::over_folds`] is then `None`).
    ///
    /// Errors without folds or thresholds, and on the errors of [`metrics`](Self::metrics).
    pub fn cross_validated(&self, level: f64, bootstrap: &Bootstrap) -> Result<CvSummary> {
        let folds = self.folds.as_ref().ok_or(Error::InvalidParameter {
            name: "folds",
            value: "none".into(),
            expected: "a fold for every film",
        })?;
        let mut indices: Vec<usize> = folds.clone();
        indices.sort_unstable();
        indices.dedup();
        let mut per_fold = Vec::new();
        for f in indices {
            let cases = self.fold(f).unwrap_or_else(|| self.subset(&[]));
            let (pos, neg) = cases.class_counts();
            if pos > 0 && neg > 0 {
                per_fold.push(cases.metrics(level, bootstrap)?);
            }
        }
        let pooled = self.metrics(level, bootstrap)?;
        let mut over_folds = Vec::new();
        for metric in Metric::ALL {
            let values: Vec<f64> = per_fold
                .iter()
                .filter_map(|m| m.get(metric).map(|e| e.value))
                .collect();
            if values.len() >= 2 {
                over_folds.push(summarize_folds(metric, &values, level)?);
            }
        }
        Ok(CvSummary {
            folds: per_fold,
            pooled,
            over_folds,
        })
    }
}

fn method(bootstrap: &Bootstrap, clusters: &Clusters, redrawn: usize) -> IntervalMethod {
    IntervalMethod::ClusterBootstrap {
        replicates: bootstrap.replicates,
        seed: bootstrap.seed,
        clusters: clusters.len(),
        redrawn,
    }
}

fn split(cases: &[usize], y: &[bool], s: &[f64], pos: &mut Vec<f64>, neg: &mut Vec<f64>) {
    pos.clear();
    neg.clear();
    for &i in cases {
        if y[i] { pos.push(s[i]) } else { neg.push(s[i]) }
    }
}

fn confusion(cases: &[usize], y: &[bool], called: &[bool]) -> ConfusionMatrix {
    let mut c = ConfusionMatrix {
        tp: 0,
        fp: 0,
        tn: 0,
        fn_: 0,
    };
    for &i in cases {
        match (y[i], called[i]) {
            (true, true) => c.tp += 1,
            (true, false) => c.fn_ += 1,
            (false, true) => c.fp += 1,
            (false, false) => c.tn += 1,
        }
    }
    c
}

/// The six figures in [`Metric::ALL`] order (accuracy, precision, recall, F1, specificity,
/// AUC), `None` where undefined.
fn figures_of(c: &ConfusionMatrix, auc: f64) -> Vec<Option<f64>> {
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    vec![
        ratio(c.tp + c.tn, c.total()),
        ratio(c.tp, c.predicted_positives()),
        ratio(c.tp, c.positives()),
        ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_),
        ratio(c.tn, c.negatives()),
        Some(auc),
    ]
}

/// Whether DeLong's paired test applies to a population's cases, and why not when it does not.
#[derive(Debug, Clone, PartialEq)]
pub enum DeLongUse {
    /// Every woman contributes one case: the cases are independent, as DeLong assumes.
    Applies(DeLongComparison),
    /// Some women contribute several cases (the two breasts of a woman), which DeLong's
    /// variance treats as independent: the test is not reported.
    Clustered {
        /// Women.
        women: usize,
        /// Cases.
        cases: usize,
    },
    /// A class has fewer than 2 cases (DeLong's variances need two).
    TooFew {
        /// Abnormal cases.
        positives: usize,
        /// Normal cases.
        negatives: usize,
    },
}

impl fmt::Display for DeLongUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeLongUse::Applies(_) => f.write_str("DeLong applies (one case per woman)"),
            DeLongUse::Clustered { women, cases } => write!(
                f,
                "DeLong not applicable: {women} women contribute {cases} cases, which DeLong \
                 would take as independent"
            ),
            DeLongUse::TooFew {
                positives,
                negatives,
            } => write!(
                f,
                "DeLong not applicable: {positives} abnormal and {negatives} normal cases (2 of \
                 each needed)"
            ),
        }
    }
}

/// Two models' AUCs on the same cases of one population, and their difference.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedComparison {
    /// The population.
    pub population: Population,
    /// AUC of model A, bootstrap over women.
    pub auc_a: Estimate,
    /// AUC of model B, bootstrap over women (the same draws).
    pub auc_b: Estimate,
    /// `auc_b - auc_a`.
    pub difference: f64,
    /// Percentile interval of the difference over the same draws: lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// DeLong's paired test, where its independence assumption holds.
    pub delong: DeLongUse,
}

/// Compares model B with model A on the same cases of one population (e.g. two score columns
/// of the same films, each made into cases by [`population`] with the same rule): the two
/// AUCs and their difference `B - A`, each with the percentile interval of the bootstrap over
/// women on the **same draws**, and DeLong's paired test where every woman contributes one
/// case (the women population; a films population is clustered and gets
/// [`DeLongUse::Clustered`]).
///
/// Errors when the two sets of cases differ in population, cases, women or labels, when a
/// class is absent, or on bad settings.
pub fn compare_paired(
    a: &PopulationCases,
    b: &PopulationCases,
    level: f64,
    bootstrap: &Bootstrap,
) -> Result<PairedComparison> {
    if a.population != b.population || a.ids != b.ids || a.women != b.women {
        return Err(Error::InvalidParameter {
            name: "paired cases",
            value: format!(
                "{} cases of {} against {} cases of {}",
                a.len(),
                a.population,
                b.len(),
                b.population
            ),
            expected: "the same cases of the same population",
        });
    }
    if let Some(i) = (0..a.len()).find(|&i| a.abnormal[i] != b.abnormal[i]) {
        return Err(Error::InvalidParameter {
            name: "paired cases",
            value: format!("case {} labelled differently", a.ids[i]),
            expected: "the same labels for both models",
        });
    }
    a.both_classes("a paired comparison")?;
    let clusters = a.clusters()?;
    let (mut cases, mut pa, mut na, mut pb, mut nb) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut figures = |cases: &[usize]| {
        split(cases, &a.abnormal, &a.scores, &mut pa, &mut na);
        split(cases, &b.abnormal, &b.scores, &mut pb, &mut nb);
        if pa.is_empty() || na.is_empty() {
            return None;
        }
        let (x, y) = (auc_of(&pa, &na), auc_of(&pb, &nb));
        Some(vec![Some(x), Some(y), Some(y - x)])
    };
    let intervals =
        cluster_bootstrap_draws(&clusters, bootstrap, level, "a paired comparison", 3, |d| {
            clusters.expand(d, &mut cases).ok()?;
            figures(&cases)
        })?;
    let all: Vec<usize> = (0..a.len()).collect();
    let values = figures(&all).ok_or(Error::Empty { what: "no figures" })?;
    let [Some(ia), Some(ib), Some(id)] = [intervals[0], intervals[1], intervals[2]] else {
        return Err(Error::Empty {
            what: "no bootstrap figure",
        });
    };
    let estimate = |value: Option<f64>, low: f64, high: f64, redrawn| Estimate {
        value: value.unwrap_or_default(),
        low,
        high,
        n: a.len() as u64,
        level,
        method: method(bootstrap, &clusters, redrawn),
    };
    let (positives, negatives) = a.class_counts();
    let delong = if clusters.len() != a.len() {
        DeLongUse::Clustered {
            women: clusters.len(),
            cases: a.len(),
        }
    } else if positives < 2 || negatives < 2 {
        DeLongUse::TooFew {
            positives,
            negatives,
        }
    } else {
        DeLongUse::Applies(DeLongComparison::from_finite_scores(
            &a.abnormal,
            &a.scores,
            &b.scores,
            level,
        )?)
    };
    Ok(PairedComparison {
        population: a.population,
        auc_a: estimate(values[0], ia.low, ia.high, ia.redrawn),
        auc_b: estimate(values[1], ib.low, ib.high, ib.redrawn),
        difference: values[2].unwrap_or_default(),
        low: id.low,
        high: id.high,
        delong,
    })
}

/// Column names of [`comparison_table`], in order.
pub const COMPARISON_COLUMNS: [&str; 18] = [
    "population",
    "model_a",
    "model_b",
    "auc_a",
    "auc_a_low",
    "auc_a_high",
    "auc_b",
    "auc_b_low",
    "auc_b_high",
    "difference",
    "ci_low",
    "ci_high",
    "method",
    "delong_z",
    "delong_p",
    "delong_low",
    "delong_high",
    "delong",
];

/// Paired comparisons as a table, one row per `(model A, model B, comparison)`: the
/// population, both names, both AUCs and the difference `B - A` with their bootstrap-over-women
/// intervals (`method` says how), DeLong's z, two-sided p and interval of the difference where
/// it applies (null elsewhere), and `delong`, the sentence of [`DeLongUse`].
pub fn comparison_table(rows: &[(&str, &str, &PairedComparison)]) -> Result<Table> {
    if rows.is_empty() {
        return Err(Error::Empty {
            what: "no comparisons",
        });
    }
    let f = |g: &dyn Fn(&PairedComparison) -> f64| rows.iter().map(|r| g(r.2)).collect::<Vec<_>>();
    let delong = |g: &dyn Fn(&DeLongComparison) -> Option<f64>| {
        rows.iter()
            .map(|r| match &r.2.delong {
                DeLongUse::Applies(d) => g(d),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let c = COMPARISON_COLUMNS;
    let strings = |g: &dyn Fn(&(&str, &str, &PairedComparison)) -> String| {
        rows.iter().map(g).collect::<Vec<_>>()
    };
    let frame = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                c[0].into(),
                strings(&|r: &(&str, &str, &PairedComparison)| r.2.population.name().to_string()),
            ),
            Column::new(
                c[1].into(),
                strings(&|r: &(&str, &str, &PairedComparison)| r.0.to_string()),
            ),
            Column::new(
                c[2].into(),
                strings(&|r: &(&str, &str, &PairedComparison)| r.1.to_string()),
            ),
            Column::new(c[3].into(), f(&|p: &PairedComparison| p.auc_a.value)),
            Column::new(c[4].into(), f(&|p: &PairedComparison| p.auc_a.low)),
            Column::new(c[5].into(), f(&|p: &PairedComparison| p.auc_a.high)),
            Column::new(c[6].into(), f(&|p: &PairedComparison| p.auc_b.value)),
            Column::new(c[7].into(), f(&|p: &PairedComparison| p.auc_b.low)),
            Column::new(c[8].into(), f(&|p: &PairedComparison| p.auc_b.high)),
            Column::new(c[9].into(), f(&|p: &PairedComparison| p.difference)),
            Column::new(c[10].into(), f(&|p: &PairedComparison| p.low)),
            Column::new(c[11].into(), f(&|p: &PairedComparison| p.high)),
            Column::new(
                c[12].into(),
                strings(&|r: &(&str, &str, &PairedComparison)| r.2.auc_a.method.to_string()),
            ),
            Column::new(c[13].into(), delong(&|d: &DeLongComparison| d.z)),
            Column::new(c[14].into(), delong(&|d: &DeLongComparison| d.p_value)),
            Column::new(c[15].into(), delong(&|d: &DeLongComparison| Some(d.low))),
            Column::new(c[16].into(), delong(&|d: &DeLongComparison| Some(d.high))),
            Column::new(
                c[17].into(),
                strings(&|r: &(&str, &str, &PairedComparison)| r.2.delong.to_string()),
            ),
        ],
    )?;
    Ok(Table {
        frame,
        display: None,
        title: "Paired comparisons (model B - model A, same cases)".into(),
        notes: vec![
            "AUCs and their difference with percentile intervals of the bootstrap over women \
             (the same draws for both models); DeLong's paired test only where every woman \
             contributes one case."
                .to_string(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four women: 1 with a left lesion (films 1, 2), 2 normal (3, 4), 3 with both breasts
    /// abnormal (5, 6), 4 normal with one film only (7).
    fn rows() -> Vec<FilmScore> {
        let r = |film, woman, abnormal, score, fold| FilmScore {
            film,
            woman,
            abnormal,
            score,
            fold: Some(fold),
            threshold: Some(0.5),
        };
        vec![
            r(2, 1, false, 0.3, 0),
            r(1, 1, true, 0.9, 0),
            r(3, 2, false, 0.6, 1),
            r(4, 2, false, 0.1, 1),
            r(5, 3, true, 0.4, 0),
            r(6, 3, true, 0.7, 0),
            r(7, 4, false, 0.2, 1),
        ]
    }

    #[test]
    fn populations_by_hand() {
        let rows = rows();
        let films = population(&rows, Population::Films, &WomanScore::Max).unwrap();
        assert_eq!(films.ids, vec![1, 2, 3, 4, 5, 6, 7], "sorted by film");
        assert_eq!(films.women, vec![1, 1, 2, 2, 3, 3, 4]);
        assert_eq!(films.class_counts(), (3, 4));
        // Film 2 (the normal breast of woman 1) is left out.
        let fvn = population(&rows, Population::FilmsVsNormalWomen, &WomanScore::Max).unwrap();
        assert_eq!(fvn.ids, vec![1, 3, 4, 5, 6, 7]);
        assert_eq!(fvn.abnormal, vec![true, false, false, true, true, false]);
        assert_eq!(fvn.scores, vec![0.9, 0.6, 0.1, 0.4, 0.7, 0.2]);
        // Women: max 0.9, 0.6, 0.7, 0.2; abnormal 1 and 3; folds 0, 1, 0, 1.
        let women = population(&rows, Population::Women, &WomanScore::Max).unwrap();
        assert_eq!(women.ids, vec![1, 2, 3, 4]);
        assert_eq!(women.abnormal, vec![true, false, true, false]);
        assert_eq!(women.scores, vec![0.9, 0.6, 0.7, 0.2]);
        assert_eq!(women.folds, Some(vec![0, 1, 0, 1]));
        assert_eq!(women.thresholds, Some(vec![0.5; 4]));
        // Mean: 0.6, 0.35, 0.55, 0.2.
        let mean = population(&rows, Population::Women, &WomanScore::Mean).unwrap();
        let expected = [0.6, 0.35, 0.55, 0.2];
        for (got, want) in mean.scores.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
        let given: BTreeMap<u64, f64> = [(1, -1.0), (2, 2.0), (3, 0.0), (4, 5.0)].into();
        let g = population(&rows, Population::Women, &WomanScore::Given(given)).unwrap();
        assert_eq!(g.scores, vec![-1.0, 2.0, 0.0, 5.0]);
    }

    #[test]
    fn figures_by_hand() {
        let b = Bootstrap {
            replicates: 200,
            seed: 1,
        };
        let rows = rows();
        // Films: abnormal 0.9, 0.4, 0.7; normal 0.3, 0.6, 0.1, 0.2. Pairs won: 0.9 beats 4,
        // 0.4 beats 3 (0.3, 0.1, 0.2), 0.7 beats 4 -> 11 / 12. At 0.5: tp 2 (0.9, 0.7),
        // fn 1, fp 1 (0.6), tn 3 -> accuracy 5/7, precision 2/3, recall 2/3, spec 3/4.
        let films = population(&rows, Population::Films, &WomanScore::Max).unwrap();
        let m = films.metrics(0.95, &b).unwrap();
        assert!((m.auc.unwrap().value - 11.0 / 12.0).abs() < 1e-15);
        assert!((m.accuracy.value - 5.0 / 7.0).abs() < 1e-15);
        assert!((m.precision.unwrap().value - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.recall.unwrap().value - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(m.specificity.unwrap().value, 0.75);
        assert_eq!(m.specificity.unwrap().n, 4);
        assert_eq!(m.threshold, Some(0.5));
        // The same draws as the cluster bootstrap of the AUC alone.
        let alone =
            crate::auc_cluster_bootstrap(&films.abnormal, &films.scores, &films.women, 0.95, &b)
                .unwrap();
        assert_eq!(m.auc.unwrap(), alone);
        assert_eq!(films.auc(0.95, &b).unwrap(), alone);
        // Films vs normal women: abnormal 0.9, 0.4, 0.7; normal 0.6, 0.1, 0.2 -> 0.9 beats 3,
        // 0.4 beats 2, 0.7 beats 3 -> 8 / 9.
        let fvn = population(&rows, Population::FilmsVsNormalWomen, &WomanScore::Max).unwrap();
        assert!((fvn.auc(0.95, &b).unwrap().value - 8.0 / 9.0).abs() < 1e-15);
        // Women: abnormal 0.9, 0.7; normal 0.6, 0.2 -> 4 / 4; at 0.5 woman 2 (0.6) is a false
        // positive: accuracy 3/4, specificity 1/2.
        let women = population(&rows, Population::Women, &WomanScore::Max).unwrap();
        let w = women.metrics(0.95, &b).unwrap();
        assert_eq!(w.auc.unwrap().value, 1.0);
        assert_eq!(w.accuracy.value, 0.75);
        assert_eq!(w.specificity.unwrap().value, 0.5);
        assert!(matches!(
            w.auc.unwrap().method,
            IntervalMethod::ClusterBootstrap { clusters: 4, .. }
        ));
    }

    #[test]
    fn cross_validated_by_hand() {
        let b = Bootstrap {
            replicates: 200,
            seed: 1,
        };
        // Films, fold 0: abnormal 0.9, 0.4, 0.7, normal 0.3 -> AUC 1; fold 1: no abnormal
        // film, left out -> one fold: no figure over folds.
        let films = population(&rows(), Population::Films, &WomanScore::Max).unwrap();
        let one = films.cross_validated(0.95, &b).unwrap();
        assert_eq!(one.folds.len(), 1);
        assert_eq!(one.folds[0].auc.unwrap().value, 1.0);
        assert_eq!(one.over_folds(Metric::Auc), None);
        let no_folds = PopulationCases {
            folds: None,
            ..films.clone()
        };
        assert!(no_folds.cross_validated(0.95, &b).is_err());
        // Move woman 2 to fold 0 and woman 3 to fold 1: fold 0 = films 1-4 (abnormal 0.9;
        // normal 0.3, 0.6, 0.1) AUC 1; fold 1 = films 5-7 (abnormal 0.4, 0.7; normal 0.2)
        // AUC 1. Mean 1, sd 0.
        let mut moved = rows();
        for r in &mut moved {
            r.fold = Some(match r.woman {
                1 | 2 => 0,
                _ => 1,
            });
        }
        let films = population(&moved, Population::Films, &WomanScore::Max).unwrap();
        let cv = films.cross_validated(0.95, &b).unwrap();
        let auc = cv.over_folds(Metric::Auc).unwrap();
        assert_eq!(auc.values, vec![1.0, 1.0]);
        assert!((cv.pooled.auc.unwrap().value - 11.0 / 12.0).abs() < 1e-15);
    }

    #[test]
    fn paired_comparison_of_a_model_with_itself_is_zero() {
        let b = Bootstrap {
            replicates: 200,
            seed: 1,
        };
        let rows = rows();
        for p in Population::ALL {
            let a = population(&rows, p, &WomanScore::Max).unwrap();
            let c = compare_paired(&a, &a, 0.95, &b).unwrap();
            assert_eq!((c.difference, c.low, c.high), (0.0, 0.0, 0.0), "{p}");
            match (p, &c.delong) {
                (Population::Women, DeLongUse::Applies(d)) => assert_eq!(d.difference, 0.0),
                (Population::Women, other) => panic!("women: {other}"),
                (_, DeLongUse::Clustered { women: 4, .. }) => {}
                (_, other) => panic!("{p}: {other}"),
            }
        }
        // Different cases are refused.
        let films = population(&rows, Population::Films, &WomanScore::Max).unwrap();
        let women = population(&rows, Population::Women, &WomanScore::Max).unwrap();
        assert!(compare_paired(&films, &women, 0.95, &b).is_err());
    }

    #[test]
    fn bad_rows_are_errors() {
        let mut twice = rows();
        twice[1].film = 2;
        assert!(population(&twice, Population::Films, &WomanScore::Max).is_err());
        let mut split_woman = rows();
        split_woman[0].fold = Some(1);
        let err = population(&split_woman, Population::Women, &WomanScore::Max).unwrap_err();
        assert!(err.to_string().contains("woman 1"), "{err}");
        // Films do not need a woman's films in one fold.
        assert!(population(&split_woman, Population::Films, &WomanScore::Max).is_ok());
        let mut some_folds = rows();
        some_folds[3].fold = None;
        assert!(population(&some_folds, Population::Films, &WomanScore::Max).is_err());
        let mut nan = rows();
        nan[2].score = f64::NAN;
        assert!(matches!(
            population(&nan, Population::Films, &WomanScore::Max),
            Err(Error::NonFiniteScore { index: 2, .. })
        ));
        let missing: BTreeMap<u64, f64> = [(1, 0.0), (2, 0.0), (3, 0.0)].into();
        let err = population(&rows(), Population::Women, &WomanScore::Given(missing));
        assert!(err.unwrap_err().to_string().contains("woman 4"));
        let no_thresholds: Vec<FilmScore> = rows()
            .into_iter()
            .map(|r| FilmScore {
                threshold: None,
                ..r
            })
            .collect();
        let films = population(&no_thresholds, Population::Films, &WomanScore::Max).unwrap();
        assert!(films.metrics(0.95, &Bootstrap::default()).is_err());
        assert!(films.auc(0.95, &Bootstrap::default()).is_ok());
        assert!(population(&[], Population::Films, &WomanScore::Max).is_err());
        assert_eq!("women".parse::<Population>().unwrap(), Population::Women);
        assert!("woman".parse::<Population>().is_err());
    }
}
