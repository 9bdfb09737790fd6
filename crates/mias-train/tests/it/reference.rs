//! mias-train against independent references: a numpy forward/backward with textbook
//! Adam (tests/data/make_reference.py) and Keras 3's own `fit` (make_keras_reference.py),
//! both from the same initial weights and data.

use candle_core::{Device, Tensor};
use mias_train::{History, TrainConfig, Trainer};
use serde_json::Value;

use crate::common::{
    assert_close, assert_close1, f32s, fixture, reference_data, reference_head, tensors,
};

fn config(scenario: &Value, reference: &Value) -> TrainConfig {
    TrainConfig {
        hidden: reference["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as usize)
            .collect(),
        dropout: scenario
            .get("dropout")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        learning_rate: scenario["learning_rate"].as_f64().unwrap(),
        epochs: scenario["epochs"].as_u64().unwrap() as usize,
        batch_size: scenario["batch_size"].as_u64().unwrap() as usize,
        shuffle: false,
        ..TrainConfig::paper()
    }
}

fn assert_weights(what: &str, trainer: &Trainer, want: &Value, tol: f64) {
    let want = tensors(want);
    for (key, t) in trainer.head().tensors() {
        let got = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let w = want[&key].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_close(&format!("{what} {key}"), &got, &w, tol);
    }
}

fn assert_history(what: &str, got: &History, want: &Value, loss_tol: f64, acc_tol: f64) {
    let want = want.as_array().unwrap();
    assert_eq!(got.epochs.len(), want.len(), "{what}: epochs");
    for (g, w) in got.epochs.iter().zip(want) {
        let e = g.epoch;
        assert_eq!(e as u64, w["epoch"].as_u64().unwrap());
        assert_close1(
            &format!("{what} epoch {e} loss"),
            g.train_loss,
            w["train_loss"].as_f64().unwrap(),
            loss_tol,
        );
        assert_close1(
            &format!("{what} epoch {e} accuracy"),
            g.train_accuracy,
            w["train_accuracy"].as_f64().unwrap(),
            acc_tol,
        );
        match (g.val_loss, g.val_accuracy, w.get("val_loss")) {
            (Some(l), Some(a), Some(wl)) => {
                assert_close1(
                    &format!("{what} epoch {e} val loss"),
                    l,
                    wl.as_f64().unwrap(),
                    loss_tol,
                );
                assert_close1(
                    &format!("{what} epoch {e} val accuracy"),
                    a,
                    w["val_accuracy"].as_f64().unwrap(),
                    acc_tol,
                );
            }
            (None, None, None) => {}
            other => panic!("{what} epoch {e}: validation entries differ: {other:?}"),
        }
    }
}

/// Replays a scenario step by step (batches in order, masks from the fixture) and
/// compares each step's loss and correct count.
fn replay_steps(name: &str, loss_tol: f64, weight_tol: f64) {
    let reference = fixture("reference.json");
    let s = &reference["scenarios"][name];
    let cfg = config(s, &reference);
    let (train, _) = reference_data(&reference);
    let mut trainer = Trainer::new(reference_head(&reference, &cfg)).unwrap();
    let width = *cfg.hidden.last().unwrap();
    let masks = s.get("masks").map(|m| m.as_array().unwrap().clone());
    let mut k = 0;
    for _ in 0..cfg.epochs {
        for start in (0..train.len()).step_by(cfg.batch_size) {
            let len = cfg.batch_size.min(train.len() - start);
            let x = train.features().narrow(0, start, len).unwrap();
            let y = &train.labels()[start..start + len];
            let mask = masks
                .as_ref()
                .map(|m| Tensor::from_vec(f32s(&m[k]), (len, width), &Device::Cpu).unwrap());
            let stats = trainer.step_with_mask(&x, y, mask.as_ref()).unwrap();
            let want = &s["steps"][k];
            assert_close1(
                &format!("{name} step {k} loss"),
                stats.loss,
                want["loss"].as_f64().unwrap(),
                loss_tol,
            );
            assert_eq!(
                stats.correct as u64,
                want["correct"].as_u64().unwrap(),
                "{name} step {k} correct"
            );
            assert_eq!(stats.len as u64, want["len"].as_u64().unwrap());
            k += 1;
        }
    }
    assert_eq!(k, s["steps"].as_array().unwrap().len());
    assert_eq!(trainer.adam().iterations(), k as u64);
    assert_weights(name, &trainer, &s["final"], weight_tol);
}

#[test]
fn numpy_full_batch_steps_at_the_paper_learning_rate() {
    // Weights move by ~1.5e-4 in 3 steps; 2e-7 is a few f32 ulps of weights ~0.5.
    replay_steps("full_batch", 1e-6, 2e-7);
}

#[test]
fn numpy_mini_batch_steps_with_fixed_dropout_masks() {
    replay_steps("masked", 2e-6, 3e-6);
}

#[test]
fn numpy_fit_history_and_final_weights() {
    let reference = fixture("reference.json");
    let s = &reference["scenarios"]["fit"];
    let cfg = config(s, &reference);
    let (train, val) = reference_data(&reference);
    let mut trainer = Trainer::new(reference_head(&reference, &cfg)).unwrap();
    let history = trainer.fit(&train, Some(&val)).unwrap();
    assert_history("numpy fit", &history, &s["history"], 2e-6, 1e-12);
    assert_weights("numpy fit", &trainer, &s["final"], 3e-6);
}

#[test]
fn keras_fit_history_and_final_weights() {
    let reference = fixture("reference.json");
    let keras = fixture("keras_reference.json");
    let (train, val) = reference_data(&reference);
    for (name, weight_tol) in [("full_batch", 2e-7), ("fit", 3e-6)] {
        let run = &keras["runs"][name];
        let cfg = config(run, &reference);
        let mut trainer = Trainer::new(reference_head(&reference, &cfg)).unwrap();
        let val = (name == "fit").then_some(&val);
        let history = trainer.fit(&train, val).unwrap();
        // Keras reports float32 figures: accuracies are k/12 or k/5 rounded to f32.
        assert_history(
            &format!("keras {name}"),
            &history,
            &run["history"],
            2e-6,
            1e-7,
        );
        assert_weights(
            &format!("keras {name}"),
            &trainer,
            &run["final"],
            weight_tol,
        );
    }
}
