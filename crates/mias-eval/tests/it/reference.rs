//! Figures checked against `tests/data/reference.json`, made by `make_reference.py` with
//! scikit-learn, statsmodels, scipy and an independent O(mn) DeLong in numpy.

use mias_eval::numeric::{normal_ppf, student_t_ppf};
use mias_eval::{
    AucInterval, Bootstrap, ConfusionMatrix, CvSummary, DeLong, DeLongComparison, EvalConfig,
    FoldPredictions, IntervalMethod, Metric, Metrics, RocCurve, auc, auc_bootstrap, wilson,
};
use serde_json::Value;

use crate::{assert_close, data_dir};

fn reference() -> Value {
    let text = std::fs::read_to_string(data_dir().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn labels(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap() == 1)
        .collect()
}

fn cases() -> Vec<Value> {
    reference()["cases"].as_array().unwrap().clone()
}

#[test]
fn confusion_and_point_figures_match_sklearn() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let y = labels(&c["y_true"]);
        let s = floats(&c["scores"]);
        let t = c["threshold"].as_f64().unwrap();
        let cm = ConfusionMatrix::from_scores(&y, &s, t).unwrap();
        let e = &c["confusion"];
        assert_eq!(
            (cm.tn, cm.fp, cm.fn_, cm.tp),
            (
                e["tn"].as_u64().unwrap(),
                e["fp"].as_u64().unwrap(),
                e["fn"].as_u64().unwrap(),
                e["tp"].as_u64().unwrap()
            ),
            "{name}"
        );
        let cfg = EvalConfig {
            threshold: t,
            ..EvalConfig::default()
        };
        let m = Metrics::from_scores(&y, &s, &cfg).unwrap();
        for (metric, key) in [
            (Metric::Accuracy, "accuracy"),
            (Metric::Precision, "precision"),
            (Metric::Recall, "recall"),
            (Metric::F1, "f1"),
            (Metric::Specificity, "specificity"),
        ] {
            match c[key].as_f64() {
                // sklearn's zero_division=nan: undefined there, None here.
                None => assert_eq!(m.get(metric), None, "{name} {key}"),
                Some(expected) => assert_close(
                    m.get(metric).unwrap().value,
                    expected,
                    1e-12,
                    &format!("{name} {key}"),
                ),
            }
        }
    }
}

#[test]
fn wilson_intervals_match_statsmodels() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let y = labels(&c["y_true"]);
        let s = floats(&c["scores"]);
        let cfg = EvalConfig {
            threshold: c["threshold"].as_f64().unwrap(),
            ..EvalConfig::default()
        };
        let m = Metrics::from_scores(&y, &s, &cfg).unwrap();
        for (metric, key) in [
            (Metric::Accuracy, "accuracy"),
            (Metric::Precision, "precision"),
            (Metric::Recall, "recall"),
            (Metric::Specificity, "specificity"),
        ] {
            let expected = &c["wilson"][key];
            match m.get(metric) {
                None => assert!(expected.is_null(), "{name} {key}"),
                Some(e) => {
                    let ci = floats(expected);
                    assert_eq!(e.method, IntervalMethod::Wilson);
                    assert_close(e.low, ci[0], 1e-12, &format!("{name} {key} low"));
                    assert_close(e.high, ci[1], 1e-12, &format!("{name} {key} high"));
                }
            }
        }
    }
}

#[test]
fn wilson_direct_matches_statsmodels() {
    // statsmodels proportion_confint(8, 10, method="wilson") = (0.4901624715, 0.9433178485).
    let e = wilson(8, 10, 0.95).unwrap().unwrap();
    assert_close(e.low, 0.490_162_471_536_641_8, 1e-12, "low");
    assert_close(e.high, 0.943_317_848_545_624_7, 1e-12, "high");
}

#[test]
fn roc_curves_match_sklearn_with_every_threshold() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let y = labels(&c["y_true"]);
        let s = floats(&c["scores"]);
        let roc = RocCurve::from_scores(&y, &s).unwrap();
        let fpr = floats(&c["roc"]["fpr"]);
        let tpr = floats(&c["roc"]["tpr"]);
        let thr = floats(&c["roc"]["thresholds_after_first"]);
        assert_eq!(roc.fpr.len(), fpr.len(), "{name} points");
        for i in 0..fpr.len() {
            assert_close(roc.fpr[i], fpr[i], 1e-12, &format!("{name} fpr[{i}]"));
            assert_close(roc.tpr[i], tpr[i], 1e-12, &format!("{name} tpr[{i}]"));
        }
        assert_eq!(roc.thresholds[0], f64::INFINITY);
        assert_eq!(&roc.thresholds[1..], &thr[..], "{name} thresholds");
        let expected = c["auc"].as_f64().unwrap();
        assert_close(roc.area(), expected, 1e-12, &format!("{name} trapezoid"));
        assert_close(
            auc(&y, &s).unwrap(),
            expected,
            1e-12,
            &format!("{name} auc"),
        );
    }
}

#[test]
fn delong_matches_the_slow_numpy_reference() {
    let level = reference()["level"].as_f64().unwrap();
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let y = labels(&c["y_true"]);
        let s = floats(&c["scores"]);
        let d = DeLong::from_scores(&y, &s).unwrap();
        let r = &c["delong"];
        assert_close(
            d.auc,
            r["auc"].as_f64().unwrap(),
            1e-12,
            &format!("{name} auc"),
        );
        assert_close(
            d.variance,
            r["variance"].as_f64().unwrap(),
            1e-12,
            &format!("{name} variance"),
        );
        let e = d.estimate(level).unwrap();
        let ci = floats(&r["ci"]);
        assert_close(e.low, ci[0], 1e-9, &format!("{name} ci low"));
        assert_close(e.high, ci[1], 1e-9, &format!("{name} ci high"));
    }
}

#[test]
fn paired_delong_matches_the_slow_numpy_reference() {
    let r = &reference()["paired"];
    let y = labels(&r["y_true"]);
    let a = floats(&r["scores_a"]);
    let b = floats(&r["scores_b"]);
    let c = DeLongComparison::from_scores(&y, &a, &b, 0.95).unwrap();
    assert_close(c.auc_a, r["auc_a"].as_f64().unwrap(), 1e-12, "auc a");
    assert_close(c.auc_b, r["auc_b"].as_f64().unwrap(), 1e-12, "auc b");
    assert_close(
        c.variance,
        r["variance"].as_f64().unwrap(),
        1e-12,
        "variance",
    );
    assert_close(c.z.unwrap(), r["z"].as_f64().unwrap(), 1e-8, "z");
    assert_close(
        c.p_value.unwrap(),
        r["p_value"].as_f64().unwrap(),
        1e-9,
        "p",
    );
    let ci = floats(&r["ci"]);
    assert_close(c.low, ci[0], 1e-9, "ci low");
    assert_close(c.high, ci[1], 1e-9, "ci high");
    // A model compared with itself: difference and variance 0, no test statistic.
    let same = DeLongComparison::from_scores(&y, &a, &a, 0.95).unwrap();
    assert_eq!((same.difference, same.z, same.p_value), (0.0, None, None));
    // Score vectors of different lengths: an error, not a panic.
    assert!(DeLongComparison::from_scores(&y, &a, &b[1..], 0.95).is_err());
}

#[test]
fn bootstrap_intervals_agree_with_numpy_within_monte_carlo_error() {
    // numpy used 20000 replicates and another generator; the interval ends of a 10000-replicate
    // bootstrap differ from it by Monte Carlo error only (about 0.002 here), so 0.01 is a safe,
    // still meaningful tolerance (the intervals are about 0.13 wide).
    let c = cases()
        .into_iter()
        .find(|c| c["name"] == "beta_n200")
        .unwrap();
    let y = labels(&c["y_true"]);
    let s = floats(&c["scores"]);
    let b = Bootstrap {
        replicates: 10_000,
        seed: 17,
    };
    let cfg = EvalConfig {
        threshold: c["threshold"].as_f64().unwrap(),
        bootstrap: b,
        auc_interval: AucInterval::Bootstrap,
        ..EvalConfig::default()
    };
    let m = Metrics::from_scores(&y, &s, &cfg).unwrap();
    let auc_ci = floats(&c["bootstrap"]["auc_ci"]);
    let f1_ci = floats(&c["bootstrap"]["f1_ci"]);
    let a = m.auc.unwrap();
    let f = m.f1.unwrap();
    assert_close(a.low, auc_ci[0], 0.01, "auc low");
    assert_close(a.high, auc_ci[1], 0.01, "auc high");
    assert_close(f.low, f1_ci[0], 0.01, "f1 low");
    assert_close(f.high, f1_ci[1], 0.01, "f1 high");
    assert_eq!(
        f.method,
        IntervalMethod::StratifiedBootstrap {
            replicates: 10_000,
            seed: 17
        }
    );
    // Same seed, same interval; another seed, another one.
    let again = auc_bootstrap(&y, &s, 0.95, &b).unwrap();
    assert_eq!((again.low, again.high), (a.low, a.high));
    let other = auc_bootstrap(&y, &s, 0.95, &Bootstrap { seed: 18, ..b }).unwrap();
    assert_ne!((other.low, other.high), (a.low, a.high));
}

#[test]
fn quantiles_match_scipy() {
    let r = reference();
    for pair in r["norm_ppf"].as_array().unwrap() {
        let (p, x) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap());
        assert_close(
            normal_ppf(p),
            x,
            1e-9 * x.abs().max(1.0),
            &format!("norm.ppf({p})"),
        );
    }
    for triple in r["t_ppf"].as_array().unwrap() {
        let p = triple[0].as_f64().unwrap();
        let df = triple[1].as_u64().unwrap() as usize;
        let x = triple[2].as_f64().unwrap();
        assert_close(
            student_t_ppf(p, df),
            x,
            1e-9 * x.abs().max(1.0),
            &format!("t.ppf({p}, {df})"),
        );
    }
}

#[test]
fn fold_summary_and_pooled_figures_match_sklearn_and_scipy() {
    let r = &reference()["folds"];
    let folds: Vec<FoldPredictions> = r["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| FoldPredictions::new(labels(&f["y_true"]), floats(&f["scores"])).unwrap())
        .collect();
    let cv = CvSummary::from_folds(&folds, &EvalConfig::default()).unwrap();
    let fold_auc = floats(&r["fold_auc"]);
    for (m, expected) in cv.folds.iter().zip(&fold_auc) {
        assert_close(m.auc.unwrap().value, *expected, 1e-12, "fold auc");
    }
    let s = cv.over_folds(Metric::Auc).unwrap();
    assert_close(s.mean, r["auc_mean"].as_f64().unwrap(), 1e-12, "mean");
    assert_close(s.sd, r["auc_sd"].as_f64().unwrap(), 1e-12, "sd");
    let ci = floats(&r["auc_t_interval"]);
    assert_close(s.interval.low, ci[0], 1e-9, "t low");
    assert_close(s.interval.high, ci[1], 1e-9, "t high");
    assert_eq!(s.interval.method, IntervalMethod::StudentT { folds: 3 });
    assert_close(
        cv.pooled.auc.unwrap().value,
        r["pooled_auc"].as_f64().unwrap(),
        1e-12,
        "pooled auc",
    );
    assert_close(
        cv.pooled.accuracy.value,
        r["pooled_accuracy_at_0_5"].as_f64().unwrap(),
        1e-12,
        "pooled accuracy",
    );
}

#[test]
fn degenerate_inputs_are_errors_not_panics() {
    use mias_eval::Error;
    let cfg = EvalConfig::default();
    let err = |r: mias_eval::Result<Metrics>| r.unwrap_err();
    assert!(matches!(
        err(Metrics::from_scores(&[], &[], &cfg)),
        Error::Empty { .. }
    ));
    assert!(matches!(
        err(Metrics::from_scores(&[true, false], &[0.5], &cfg)),
        Error::LengthMismatch {
            labels: 2,
            other: 1,
            ..
        }
    ));
    assert!(matches!(
        err(Metrics::from_scores(&[true, false], &[0.5, f64::NAN], &cfg)),
        Error::InvalidScore { index: 1, .. }
    ));
    assert!(matches!(
        err(Metrics::from_scores(&[true, false], &[-0.1, 0.5], &cfg)),
        Error::InvalidScore { index: 0, .. }
    ));
    assert!(matches!(
        err(Metrics::from_scores(&[true, true], &[0.2, 0.9], &cfg)),
        Error::SingleClass {
            positives: 2,
            negatives: 0,
            ..
        }
    ));
    assert!(matches!(
        err(Metrics::from_scores(&[false, false], &[0.2, 0.9], &cfg)),
        Error::SingleClass {
            positives: 0,
            negatives: 2,
            ..
        }
    ));
    // One abnormal case: DeLong cannot estimate a variance, the bootstrap can.
    let y = [true, false, false, false];
    let s = [0.9, 0.1, 0.4, 0.3];
    assert!(matches!(
        err(Metrics::from_scores(&y, &s, &cfg)),
        Error::TooFewForDelong {
            positives: 1,
            negatives: 3
        }
    ));
    let boot = EvalConfig {
        auc_interval: AucInterval::Bootstrap,
        ..cfg
    };
    let m = Metrics::from_scores(&y, &s, &boot).unwrap();
    assert_eq!(m.auc.unwrap().value, 1.0);
    let bad_level = EvalConfig { level: 0.0, ..cfg };
    assert!(matches!(
        err(Metrics::from_scores(
            &[true, false],
            &[0.9, 0.1],
            &bad_level
        )),
        Error::InvalidParameter { .. }
    ));
    // Messages are lowercase without a trailing period.
    let msg = err(Metrics::from_scores(&[true, false], &[0.5, 7.0], &cfg)).to_string();
    assert_eq!(
        msg,
        "score at index 1 is 7, expected a probability in [0, 1]"
    );
}
