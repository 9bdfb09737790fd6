//! The logistic regression against scikit-learn (tests/data/logistic_reference.json, made by
//! make_logistic_reference.py beside it), standardisation from training rows only, save and
//! load, determinism and bad input.

use mias_train::{ClassWeight, Error, LogisticConfig, LogisticRegression, META_LOGISTIC};
use serde_json::Value;

use crate::common::{f32s, fixture, u32s};

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// `|a - b| <= rel * max(|b|, floor)` for every pair, with a message naming the quantity.
fn assert_close(what: &str, actual: &[f64], expected: &[f64], rel: f64, floor: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= rel * e.abs().max(floor),
            "{what}[{i}]: {a} vs sklearn {e}"
        );
    }
}

struct Reference {
    d: usize,
    train_x: Vec<f32>,
    train_y: Vec<u32>,
    weights: Vec<f32>,
    test_x: Vec<f32>,
    cases: Vec<Value>,
}

fn reference() -> Reference {
    let r = fixture("logistic_reference.json");
    Reference {
        d: r["d"].as_u64().unwrap() as usize,
        train_x: f32s(&r["train_x"]),
        train_y: u32s(&r["train_y"]),
        weights: f32s(&r["sample_weight"]),
        test_x: f32s(&r["test_x"]),
        cases: r["cases"].as_array().unwrap().clone(),
    }
}

fn config(case: &Value) -> LogisticConfig {
    LogisticConfig {
        c: case["C"].as_f64().unwrap(),
        class_weight: if case["balanced"].as_bool().unwrap() {
            ClassWeight::Balanced
        } else {
            ClassWeight::Uniform
        },
        tol: 1e-10,
        max_iter: 10_000,
    }
}

fn fit_case(r: &Reference, case: &Value) -> LogisticRegression {
    let weights = case["weighted"]
        .as_bool()
        .unwrap()
        .then_some(&r.weights[..]);
    LogisticRegression::fit(&r.train_x, r.d, &r.train_y, weights, &config(case)).unwrap()
}

#[test]
fn matches_sklearn_coefficients_and_scores() {
    let r = reference();
    assert_eq!(r.cases.len(), 3);
    for case in &r.cases {
        let name = case["name"].as_str().unwrap();
        let model = fit_case(&r, case);
        let report = model.report();
        eprintln!(
            "{name}: {} iterations, {} evaluations, converged {}, gradient {:.2e}",
            report.iterations, report.evaluations, report.converged, report.gradient_max
        );
        assert!(report.converged, "{name}: {report:?}");
        let coef = f64s(&case["coef"]);
        let biggest = coef.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // Within 1e-4 of each coefficient, or of the largest one for coefficients near zero
        // (feature 7 is constant: its coefficient is exactly 0 in both).
        assert_close(&format!("{name} coef"), model.coef(), &coef, 1e-4, biggest);
        assert_eq!(model.coef()[7], 0.0, "{name}: constant feature");
        let intercept = case["intercept"].as_f64().unwrap();
        assert_close(
            &format!("{name} intercept"),
            &[model.intercept()],
            &[intercept],
            1e-4,
            biggest,
        );
        assert_close(
            &format!("{name} train decision"),
            &model.decision_function(&r.train_x).unwrap(),
            &f64s(&case["train_decision"]),
            1e-4,
            1.0,
        );
        assert_close(
            &format!("{name} test decision"),
            &model.decision_function(&r.test_x).unwrap(),
            &f64s(&case["test_decision"]),
            1e-4,
            1.0,
        );
        assert_close(
            &format!("{name} test probability"),
            &model.predict_proba(&r.test_x).unwrap(),
            &f64s(&case["test_proba"]),
            1e-4,
            1e-2,
        );
    }
}

/// The stored statistics are the training rows' (numpy's mean and std, ddof 0, via sklearn's
/// StandardScaler), not those of the rows being scored: the test rows come from a shifted,
/// wider distribution, and their scores match sklearn's pipeline, which standardises them
/// with the training statistics.
#[test]
fn standardisation_comes_from_training_rows_only() {
    let r = reference();
    let case = &r.cases[0];
    let model = fit_case(&r, case);
    assert_close("mean", model.mean(), &f64s(&case["mean"]), 1e-12, 1e-12);
    assert_close("scale", model.scale(), &f64s(&case["scale"]), 1e-12, 1e-12);
    assert_eq!(model.scale()[7], 1.0, "a constant feature has scale 1");
    // The test rows' own mean differs from the stored one by far more than the tolerance.
    let n_test = r.test_x.len() / r.d;
    let own_mean: f64 = (0..n_test).map(|i| r.test_x[i * r.d] as f64).sum::<f64>() / n_test as f64;
    assert!((own_mean - model.mean()[0]).abs() > 1.0, "{own_mean}");
    // Scoring rows one at a time or all together gives the same numbers: nothing is
    // estimated from the scored rows.
    let together = model.decision_function(&r.test_x).unwrap();
    for (i, row) in r.test_x.chunks(r.d).enumerate() {
        assert_eq!(model.decision_function(row).unwrap(), [together[i]]);
    }
}

#[test]
fn fits_are_deterministic_and_survive_save_and_load() {
    let r = reference();
    let case = &r.cases[1];
    let a = fit_case(&r, case);
    let b = fit_case(&r, case);
    assert_eq!(a, b);
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    a.save(&pa).unwrap();
    b.save(&pb).unwrap();
    let bytes = std::fs::read(&pa).unwrap();
    assert_eq!(bytes, std::fs::read(&pb).unwrap(), "same model, same bytes");
    let loaded = LogisticRegression::load(&pa).unwrap();
    assert_eq!(loaded, a);
    assert_eq!(
        loaded.decision_function(&r.test_x).unwrap(),
        a.decision_function(&r.test_x).unwrap()
    );
    // The header carries the config and the fit report.
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let json: Value =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()[META_LOGISTIC]).unwrap();
    assert_eq!(json["format"], "mias-logistic/1");
    assert_eq!(json["dim"], 8);
    assert_eq!(json["config"]["class_weight"], "balanced");
    assert_eq!(json["report"]["rows"], 200);
}

/// Several blocks of 1,024 rows, fitted in pools of 1, 2 and 3 threads: the same bits.
#[test]
fn fits_do_not_depend_on_the_thread_count() {
    use mias_core::rng::{derived, unit_f32};
    let (n, d) = (5_000, 16);
    let mut r = derived(11, "test", &[]);
    let rows: Vec<f32> = (0..n * d).map(|_| unit_f32(&mut r)).collect();
    let labels: Vec<u32> = rows
        .chunks(d)
        .map(|row| u32::from(row[0] + row[1] - row[2] + 0.5 * unit_f32(&mut r) > 1.2))
        .collect();
    let weights: Vec<f32> = (0..n).map(|_| 0.5 + unit_f32(&mut r)).collect();
    let cfg = LogisticConfig::default();
    let fit_in = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| LogisticRegression::fit(&rows, d, &labels, Some(&weights), &cfg).unwrap())
    };
    let one = fit_in(1);
    assert!(one.report().converged, "{:?}", one.report());
    for threads in [2, 3] {
        assert_eq!(fit_in(threads), one, "{threads} threads");
    }
    let scores = one.decision_function(&rows).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    assert_eq!(
        pool.install(|| one.decision_function(&rows).unwrap()),
        scores
    );
}

#[test]
fn balanced_weights_follow_sklearn() {
    let r = reference();
    let model = fit_case(&r, &r.cases[0]);
    let n = r.train_y.len() as f64;
    let positives = r.train_y.iter().filter(|&&y| y == 1).count() as f64;
    let expected = [n / (2.0 * (n - positives)), n / (2.0 * positives)];
    assert_eq!(model.report().class_weights, expected);
    assert_eq!(model.report().positives, 83);
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let rows = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    let labels = [0u32, 1, 0];
    let cfg = LogisticConfig::default();
    let fit = |rows: &[f32], labels: &[u32], w: Option<&[f32]>, cfg: &LogisticConfig| {
        LogisticRegression::fit(rows, 2, labels, w, cfg)
            .unwrap_err()
            .to_string()
    };
    assert!(fit(&rows[..5], &labels, None, &cfg).contains("5 values do not make 3 rows"));
    assert!(fit(&rows, &[0, 2, 1], None, &cfg).contains("label 2 of row 1"));
    let mut nan = rows;
    nan[3] = f32::NAN;
    assert!(fit(&nan, &labels, None, &cfg).contains("feature 1 of row 1 is NaN"));
    assert!(fit(&rows, &[0, 0, 0], None, &cfg).contains("both classes"));
    assert!(fit(&rows, &labels, Some(&[1.0, 0.0, 1.0]), &cfg).contains("both classes"));
    assert!(
        fit(&rows, &labels, Some(&[1.0, -1.0, 1.0]), &cfg).contains("sample weight -1 of row 1")
    );
    assert!(fit(&rows, &labels, Some(&[1.0]), &cfg).contains("1 sample weights for 3 rows"));
    let zero_c = LogisticConfig {
        c: 0.0,
        ..cfg.clone()
    };
    let err = LogisticRegression::fit(&rows, 2, &labels, None, &zero_c).unwrap_err();
    assert!(
        matches!(err, Error::InvalidConfig { field: "c", .. }),
        "{err}"
    );
    // Loading: a missing file, and a head checkpoint that is not a logistic model.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.safetensors");
    let err = LogisticRegression::load(&missing).unwrap_err().to_string();
    assert!(err.contains("none.safetensors"), "{err}");
    let other = dir.path().join("other.safetensors");
    let bytes = 1.5f32.to_le_bytes();
    let view =
        safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, vec![1], &bytes)
            .unwrap();
    std::fs::write(&other, safetensors::serialize([("x", view)], None).unwrap()).unwrap();
    let err = LogisticRegression::load(&other).unwrap_err().to_string();
    assert!(err.contains("metadata `mias_logistic`: absent"), "{err}");
    // A model with a scale tensor of the wrong length.
    let good = dir.path().join("good.safetensors");
    let model = LogisticRegression::fit(&rows, 2, &labels, None, &cfg).unwrap();
    model.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let short = 1.0f64.to_le_bytes();
    let mut views = vec![(
        "scale".to_string(),
        safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F64, vec![1], &short)
            .unwrap(),
    )];
    for (k, v) in st.tensors() {
        if k != "scale" {
            views.push((k, v));
        }
    }
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(
        &bad,
        safetensors::serialize(views, meta.metadata().clone()).unwrap(),
    )
    .unwrap();
    let err = LogisticRegression::load(&bad).unwrap_err().to_string();
    assert!(
        err.contains("tensor `scale` has shape [1], expected [2]"),
        "{err}"
    );
}
