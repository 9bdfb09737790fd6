//! The three populations and every figure on them against numpy and scikit-learn fed with the
//! crate's own draws (`tests/data/make_populations.py`): cases, values, the bootstrap-over-women
//! intervals of accuracy, precision, sensitivity, F1, specificity and AUC, the fold means, and the
//! paired comparison of two score columns with DeLong's test (fast DeLong, written in the script
//! from Sun and Xu 2014) on the women population.

use mias_eval::{
    Bootstrap, Clusters, DeLongUse, FilmScore, Metric, Population, WomanScore, compare_paired,
    population,
};
use serde_json::Value;

use crate::{assert_close, data_dir};

const TOL: f64 = 1e-12;

fn fixture() -> Value {
    let path = data_dir().join("populations.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The fixture's rows with column `a` or `b` as the score, each judged against its fold's
/// threshold.
fn rows(f: &Value, column: &str) -> Vec<FilmScore> {
    f["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let fold = r["fold"].as_u64().unwrap() as usize;
            FilmScore {
                film: r["film"].as_u64().unwrap(),
                woman: r["woman"].as_u64().unwrap(),
                abnormal: r["abnormal"].as_bool().unwrap(),
                score: r[column].as_f64().unwrap(),
                fold: Some(fold),
                threshold: Some(f["thresholds"][fold.to_string()].as_f64().unwrap()),
            }
        })
        .collect()
}

fn bootstrap(f: &Value) -> (Bootstrap, f64) {
    (
        Bootstrap {
            replicates: f["replicates"].as_u64().unwrap() as usize,
            seed: f["seed"].as_u64().unwrap(),
        },
        f["level"].as_f64().unwrap(),
    )
}

fn interval(v: &Value) -> (f64, f64) {
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

#[test]
fn every_figure_of_every_population_matches_numpy_on_the_same_draws() {
    let f = fixture();
    let (b, level) = bootstrap(&f);
    let rows = rows(&f, "a");
    for p in Population::ALL {
        let expected = &f["populations"][p.name()];
        let cases = population(&rows, p, &WomanScore::Max).unwrap();
        let ids: Vec<u64> = serde_json::from_value(expected["ids"].clone()).unwrap();
        assert_eq!(cases.ids, ids, "{p}: the cases");
        // The crate's draws over this population's women are those the reference used.
        let draws: Vec<Vec<usize>> = serde_json::from_value(expected["draws"].clone()).unwrap();
        let clusters = Clusters::new(&cases.women).unwrap();
        assert_eq!(clusters.len() as u64, expected["women"].as_u64().unwrap());
        let ours: Vec<Vec<usize>> = clusters.draws(b.seed).take(draws.len()).collect();
        assert!(
            ours == draws,
            "{p}: the RNG's draws changed; rerun make_populations.py"
        );
        let m = cases.metrics(level, &b).unwrap();
        let redrawn = expected["redrawn"].as_u64().unwrap() as usize;
        for (k, metric) in Metric::ALL.into_iter().enumerate() {
            let what = format!("{p} {metric}");
            let e = m.get(metric).unwrap();
            assert_close(e.value, expected["values"][k].as_f64().unwrap(), TOL, &what);
            let (low, high) = interval(&expected["intervals"][k]);
            assert_close(e.low, low, TOL, &what);
            assert_close(e.high, high, TOL, &what);
            assert_eq!(
                e.method,
                mias_eval::IntervalMethod::ClusterBootstrap {
                    replicates: b.replicates,
                    seed: b.seed,
                    clusters: clusters.len(),
                    redrawn,
                },
                "{what}"
            );
        }
        // Fold means: the same figures on each fold's cases.
        let cv = cases.cross_validated(level, &b).unwrap();
        for (k, metric) in Metric::ALL.into_iter().enumerate() {
            let want = &expected["over_folds"][k];
            let got = cv.over_folds(metric);
            if want.is_null() {
                assert!(got.is_none(), "{p} {metric}: defined in fewer than 2 folds");
                continue;
            }
            let got = got.unwrap();
            let values: Vec<f64> = serde_json::from_value(want["values"].clone()).unwrap();
            assert_eq!(got.values.len(), values.len(), "{p} {metric}");
            for (g, w) in got.values.iter().zip(&values) {
                assert_close(*g, *w, TOL, &format!("{p} {metric} per fold"));
            }
            assert_close(got.mean, want["mean"].as_f64().unwrap(), TOL, "fold mean");
            assert_close(got.sd, want["sd"].as_f64().unwrap(), TOL, "fold sd");
        }
        assert_eq!(cv.pooled, m, "{p}: pooled out of fold = all cases at once");
    }
    // The women population: 14 women, one case each; 8 abnormal (6 one-sided, 1 both sides, 1
    // single film), 6 normal.
    let women = &f["populations"]["women"];
    assert_eq!(
        (women["abnormal"].as_u64(), women["normal"].as_u64()),
        (Some(8), Some(6))
    );
}

#[test]
fn paired_comparison_matches_numpy_and_fast_delong() {
    let f = fixture();
    let (b, level) = bootstrap(&f);
    let (rows_a, rows_b) = (rows(&f, "a"), rows(&f, "b"));
    for p in Population::ALL {
        let expected = &f["populations"][p.name()]["comparison"];
        let a = population(&rows_a, p, &WomanScore::Max).unwrap();
        let bb = population(&rows_b, p, &WomanScore::Max).unwrap();
        let c = compare_paired(&a, &bb, level, &b).unwrap();
        let what = p.name();
        assert_close(
            c.auc_a.value,
            expected["auc_a"].as_f64().unwrap(),
            TOL,
            what,
        );
        assert_close(
            c.auc_b.value,
            expected["auc_b"].as_f64().unwrap(),
            TOL,
            what,
        );
        assert_close(
            c.difference,
            expected["difference"].as_f64().unwrap(),
            TOL,
            what,
        );
        let (la, ha) = interval(&expected["intervals"][0]);
        let (lb, hb) = interval(&expected["intervals"][1]);
        let (ld, hd) = interval(&expected["intervals"][2]);
        assert_close(c.auc_a.low, la, TOL, what);
        assert_close(c.auc_a.high, ha, TOL, what);
        assert_close(c.auc_b.low, lb, TOL, what);
        assert_close(c.auc_b.high, hb, TOL, what);
        assert_close(c.low, ld, TOL, what);
        assert_close(c.high, hd, TOL, what);
        match (&c.delong, &expected["delong"]) {
            (DeLongUse::Applies(d), want) if !want.is_null() => {
                assert_eq!(p, Population::Women);
                assert_close(d.auc_a, want["auc_a"].as_f64().unwrap(), TOL, "DeLong A");
                assert_close(d.auc_b, want["auc_b"].as_f64().unwrap(), TOL, "DeLong B");
                assert_close(d.variance, want["variance"].as_f64().unwrap(), 1e-14, "var");
                assert_close(d.z.unwrap(), want["z"].as_f64().unwrap(), 1e-9, "z");
                assert_close(
                    d.p_value.unwrap(),
                    want["p_value"].as_f64().unwrap(),
                    1e-9,
                    "p",
                );
            }
            (DeLongUse::Clustered { women, cases }, want) if want.is_null() => {
                assert!(cases > women, "{what}: {women} women, {cases} cases");
                assert!(c.delong.to_string().contains("independent"));
            }
            (got, want) => panic!("{what}: DeLong {got} against the reference's {want}"),
        }
    }
}
