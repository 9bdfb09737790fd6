//! Paired comparisons of two named columns of out-of-fold film scores on the same films (two
//! methods, or two versions of one): on each population, both AUCs and their difference with
//! the bootstrap over women on the same draws, and DeLong's paired test where every woman
//! contributes one case (mias-eval's [`mias_eval::compare_paired`]). Written as
//! `comparisons.csv`.
//!
//! A column is plain data (film, woman, label, score, fold), so any method can hand one in
//! without this module knowing it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use mias_eval::{Bootstrap, FilmScore, PairedComparison, Population, WomanScore};

/// One film of a [`ScoreColumn`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredFilm {
    /// Its woman.
    pub woman: u64,
    /// Abnormal under the labels the column was judged by.
    pub abnormal: bool,
    /// Out-of-fold score (any finite number).
    pub score: f64,
    /// The outer fold it was scored in.
    pub fold: usize,
}

/// A named column of out-of-fold film scores.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreColumn {
    /// Name in the table (`lesion: Ensemble lesion+bilateral`, `paper: Ensemble`).
    pub name: String,
    /// Every film it scored, by the name the dataset gives it (`mdbNNN`, a collection's
    /// path).
    pub films: BTreeMap<String, ScoredFilm>,
    /// A woman-level model's own score of every woman (keyed as [`ScoredFilm::woman`]), which
    /// the women population then uses instead of the comparison's rule.
    pub women: Option<BTreeMap<u64, f64>>,
}

/// The comparisons of one pair of columns.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Model A's name.
    pub a: String,
    /// Model B's name.
    pub b: String,
    /// Whether every film lay in the same outer fold in both columns.
    pub same_folds: bool,
    /// One per population (in [`Population::ALL`] order; one with a single class is left
    /// out).
    pub populations: Vec<PairedComparison>,
}

/// Compares column B with column A on their films (the same films with the same labels and
/// women are required), each woman scored by `rule` in the women population (or by the
/// column's own woman scores, where it has them).
///
/// Errors when the columns hold different films, or a film a different label or woman, and on
/// mias-eval's errors.
pub fn compare(
    a: &ScoreColumn,
    b: &ScoreColumn,
    rule: &WomanScore,
    level: f64,
    bootstrap: &Bootstrap,
) -> anyhow::Result<Comparison> {
    if a.films.len() != b.films.len() || a.films.keys().ne(b.films.keys()) {
        bail!(
            "{} scores {} films and {} {}: a paired comparison needs the same films",
            a.name,
            a.films.len(),
            b.name,
            b.films.len()
        );
    }
    for ((k, fa), fb) in a.films.iter().zip(b.films.values()) {
        if fa.abnormal != fb.abnormal || fa.woman != fb.woman {
            bail!(
                "film {k}: {} has woman {} and label {}, {} woman {} and label {}: a paired \
                 comparison needs the same labels",
                a.name,
                fa.woman,
                u8::from(fa.abnormal),
                b.name,
                fb.woman,
                u8::from(fb.abnormal)
            );
        }
    }
    let rows = |c: &ScoreColumn| -> Vec<FilmScore> {
        c.films
            .values()
            .enumerate()
            .map(|(k, f)| FilmScore {
                film: k as u64,
                woman: f.woman,
                abnormal: f.abnormal,
                score: f.score,
                fold: Some(f.fold),
                threshold: None,
            })
            .collect()
    };
    let (rows_a, rows_b) = (rows(a), rows(b));
    let rule_of = |c: &ScoreColumn| match &c.women {
        Some(w) => WomanScore::Given(w.clone()),
        None => rule.clone(),
    };
    let (rule_a, rule_b) = (rule_of(a), rule_of(b));
    let mut populations = Vec::new();
    for p in Population::ALL {
        let ca = mias_eval::population(&rows_a, p, &rule_a)
            .with_context(|| format!("{} on the {} population", a.name, p.label()))?;
        let (pos, neg) = ca.class_counts();
        if pos == 0 || neg == 0 {
            continue;
        }
        let cb = mias_eval::population(&rows_b, p, &rule_b)
            .with_context(|| format!("{} on the {} population", b.name, p.label()))?;
        populations.push(
            mias_eval::compare_paired(&ca, &cb, level, bootstrap)
                .with_context(|| format!("{} against {} on {}", b.name, a.name, p.label()))?,
        );
    }
    Ok(Comparison {
        a: a.name.clone(),
        b: b.name.clone(),
        same_folds: a
            .films
            .values()
            .zip(b.films.values())
            .all(|(x, y)| x.fold == y.fold),
        populations,
    })
}

/// Writes `comparisons.csv` (mias-eval's [`mias_eval::comparison_table`] with a `same_folds`
/// column) into `path`.
pub fn write(path: &Path, comparisons: &[Comparison]) -> anyhow::Result<()> {
    let rows: Vec<(&str, &str, &PairedComparison)> = comparisons
        .iter()
        .flat_map(|c| {
            c.populations
                .iter()
                .map(move |p| (c.a.as_str(), c.b.as_str(), p))
        })
        .collect();
    let mut table = mias_eval::comparison_table(&rows)?;
    let same: Vec<bool> = comparisons
        .iter()
        .flat_map(|c| c.populations.iter().map(move |_| c.same_folds))
        .collect();
    table
        .frame
        .with_column(mias_eval::polars::prelude::Column::new(
            "same_folds".into(),
            same,
        ))?;
    table.write_csv(path)?;
    Ok(())
}

/// The comparison of two methods on the same films: `comparisons.csv` in the run's directory
/// `dir`, column `b` against column `a` with 95% intervals (see [`compare`]), when both methods
/// offer a column; nothing otherwise (a method offers none where a comparison would mean
/// nothing: under the negative control, whose labels differ between methods, or without the
/// protocol it is compared under). Returns whether it wrote the file.
pub fn compare_methods(
    dir: &Path,
    a: Option<ScoreColumn>,
    b: Option<ScoreColumn>,
    rule: &WomanScore,
    bootstrap: &Bootstrap,
) -> anyhow::Result<bool> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(false);
    };
    let c = compare(&a, &b, rule, 0.95, bootstrap)?;
    write(&dir.join("comparisons.csv"), &[c])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, scores: &[f64], labels: &[bool]) -> ScoreColumn {
        ScoreColumn {
            name: name.into(),
            films: scores
                .iter()
                .zip(labels)
                .enumerate()
                .map(|(k, (&score, &abnormal))| {
                    (
                        format!("f{k}"),
                        ScoredFilm {
                            woman: k as u64 / 2,
                            abnormal,
                            score,
                            fold: (k / 2) % 2,
                        },
                    )
                })
                .collect(),
            women: None,
        }
    }

    #[test]
    fn different_labels_or_films_are_refused() {
        let b = Bootstrap {
            replicates: 100,
            seed: 0,
        };
        let labels = [true, false, false, false, true, true];
        let a = column("a", &[0.9, 0.1, 0.2, 0.3, 0.8, 0.4], &labels);
        let c = compare(&a, &a, &WomanScore::Max, 0.95, &b).unwrap();
        assert_eq!(c.populations.len(), 3);
        assert!(c.same_folds);
        assert!(c.populations.iter().all(|p| p.difference == 0.0));
        let mut other = labels;
        other[1] = true;
        let relabelled = column("b", &[0.9, 0.1, 0.2, 0.3, 0.8, 0.4], &other);
        let err = compare(&a, &relabelled, &WomanScore::Max, 0.95, &b).unwrap_err();
        assert!(err.to_string().contains("film f1"), "{err}");
        let fewer = column("b", &[0.9, 0.1, 0.2], &labels[..3]);
        assert!(compare(&a, &fewer, &WomanScore::Max, 0.95, &b).is_err());
    }

    #[test]
    fn two_methods_are_compared_only_when_both_offer_a_column() {
        let tmp = tempfile::tempdir().unwrap();
        let b = Bootstrap {
            replicates: 100,
            seed: 0,
        };
        let labels = [true, false, false, false, true, true];
        let a = column("a", &[0.9, 0.1, 0.2, 0.3, 0.8, 0.4], &labels);
        let c = column("c", &[0.7, 0.3, 0.1, 0.2, 0.9, 0.6], &labels);
        let rule = WomanScore::Max;
        let path = tmp.path().join("comparisons.csv");
        assert!(!compare_methods(tmp.path(), Some(a.clone()), None, &rule, &b).unwrap());
        assert!(!compare_methods(tmp.path(), None, Some(c.clone()), &rule, &b).unwrap());
        assert!(!path.exists());
        assert!(compare_methods(tmp.path(), Some(a), Some(c), &rule, &b).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        // A header and one row per population, each naming A then C.
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.lines().skip(1).all(|l| l.contains(",a,c,")), "{text}");
    }
}
