//! The bootstrap over clusters (women) against numpy and scikit-learn fed with the crate's own
//! draws (`tests/data/make_cluster_bootstrap.py`): the same draws must give the same AUC,
//! interval and count of redrawn replicates, overall and per class.

use mias_eval::{Bootstrap, Clusters, IntervalMethod, auc_cluster_bootstrap, class_auc};
use serde_json::Value;

use crate::{assert_close, data_dir};

fn fixture() -> Value {
    let path = data_dir().join("cluster_bootstrap.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

struct Case {
    ids: Vec<u64>,
    classes: Vec<String>,
    scores: Vec<f64>,
    bootstrap: Bootstrap,
    level: f64,
}

fn case(f: &Value) -> Case {
    let ids = f["cluster_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let classes = f["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let scores = f["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    Case {
        ids,
        classes,
        scores,
        bootstrap: Bootstrap {
            replicates: f["replicates"].as_u64().unwrap() as usize,
            seed: f["seed"].as_u64().unwrap(),
        },
        level: f["level"].as_f64().unwrap(),
    }
}

/// The crate's draws for these cluster ids equal those the reference used.
fn assert_same_draws(ids: &[u64], seed: u64, expected: &Value, what: &str) {
    let expected: Vec<Vec<usize>> = serde_json::from_value(expected.clone()).unwrap();
    let ours: Vec<Vec<usize>> = Clusters::new(ids)
        .unwrap()
        .draws(seed)
        .take(expected.len())
        .collect();
    assert!(
        ours == expected,
        "{what}: the RNG's draws changed; rerun tests/data/make_cluster_bootstrap.py"
    );
}

/// AUC, interval and method against the reference's figures.
fn assert_matches(got: &mias_eval::Estimate, expected: &Value, c: &Case, what: &str) {
    assert_close(got.value, expected["auc"].as_f64().unwrap(), 1e-12, what);
    assert_close(got.low, expected["low"].as_f64().unwrap(), 1e-12, what);
    assert_close(got.high, expected["high"].as_f64().unwrap(), 1e-12, what);
    assert_eq!(
        got.method,
        IntervalMethod::ClusterBootstrap {
            replicates: c.bootstrap.replicates,
            seed: c.bootstrap.seed,
            clusters: expected["clusters"].as_u64().unwrap() as usize,
            redrawn: expected["redrawn"].as_u64().unwrap() as usize,
        },
        "{what}"
    );
}

#[test]
fn pooled_auc_matches_numpy_on_the_same_draws() {
    let f = fixture();
    let c = case(&f);
    let y: Vec<bool> = c.classes.iter().map(|k| k != "N").collect();
    let expected = &f["pooled"];
    assert_same_draws(&c.ids, c.bootstrap.seed, &expected["draws"], "pooled");
    let got = auc_cluster_bootstrap(&y, &c.scores, &c.ids, c.level, &c.bootstrap).unwrap();
    assert_matches(&got, expected, &c, "pooled");
    assert_eq!(got.n, y.len() as u64);
    // The same cases in another order (ids, labels and scores permuted together): cluster
    // numbers follow the ids, not the input order, so the figures are the same.
    let order: Vec<usize> = (0..y.len()).rev().collect();
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let ids_r: Vec<u64> = order.iter().map(|&i| c.ids[i]).collect();
    let y_r: Vec<bool> = order.iter().map(|&i| y[i]).collect();
    let again = auc_cluster_bootstrap(&y_r, &pick(&c.scores), &ids_r, c.level, &c.bootstrap);
    assert_matches(&again.unwrap(), expected, &c, "pooled, reversed input");
}

#[test]
fn per_class_auc_matches_numpy_on_the_same_draws() {
    let f = fixture();
    let c = case(&f);
    let y: Vec<bool> = c.classes.iter().map(|k| k != "N").collect();
    let per_class = f["per_class"].as_object().unwrap();
    assert_eq!(per_class.len(), 3, "classes A, B, C");
    for (class, expected) in per_class {
        let in_class: Vec<bool> = c.classes.iter().map(|k| k == class).collect();
        let got = class_auc(&y, &in_class, &c.scores, &c.ids, c.level, &c.bootstrap).unwrap();
        if expected.is_null() {
            assert_eq!(got, None, "class {class} has one case: no figure");
            continue;
        }
        let kept: Vec<u64> = (0..y.len())
            .filter(|&i| in_class[i] || !y[i])
            .map(|i| c.ids[i])
            .collect();
        assert_same_draws(&kept, c.bootstrap.seed, &expected["draws"], class);
        assert_matches(&got.unwrap(), expected, &c, class);
    }
    // Both B cases are one woman's: about a third of the draws miss her, and are redrawn.
    let redrawn_b = per_class["B"]["redrawn"].as_u64().unwrap();
    assert!(redrawn_b > 20, "class B redrew only {redrawn_b}");
}

#[test]
fn the_method_names_clusters_replicates_seed_and_redraws() {
    let m = IntervalMethod::ClusterBootstrap {
        replicates: 2000,
        seed: 3,
        clusters: 161,
        redrawn: 4,
    };
    assert_eq!(
        m.to_string(),
        "bootstrap over 161 clusters, percentile (2000 replicates, seed 3, 4 draws without \
         both classes redrawn)"
    );
}
