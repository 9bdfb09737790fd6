//! Model averaging checked by hand.

use candle_core::Device;
use mias_train::rng::{Stream, rng};
use mias_train::{Ensemble, Head, TrainConfig, average};

use crate::common::{assert_close, separable};

#[test]
fn averages_by_hand() {
    let a = [0.1f32, 0.8, 0.5];
    let b = [0.3f32, 0.6, 0.5];
    let c = [0.8f32, 0.1, 0.2];
    // (0.1 + 0.3 + 0.8) / 3 = 0.4; (0.8 + 0.6 + 0.1) / 3 = 0.5; (0.5 + 0.5 + 0.2) / 3 = 0.4.
    assert_close("all", &average(&[a, b, c]).unwrap(), &[0.4, 0.5, 0.4], 1e-7);
    assert_eq!(average(&[a]).unwrap(), a);

    let mut e = Ensemble::new();
    e.add("vgg16", a.to_vec()).unwrap();
    e.add("mobilenet_v2", b.to_vec()).unwrap();
    e.add("xception", c.to_vec()).unwrap();
    assert_close("mean", &e.mean().unwrap(), &[0.4, 0.5, 0.4], 1e-7);
    // vgg16 and xception: (0.1 + 0.8) / 2, (0.8 + 0.1) / 2, (0.5 + 0.2) / 2.
    assert_close(
        "subset",
        &e.mean_of(&["xception", "vgg16"]).unwrap(),
        &[0.45, 0.45, 0.35],
        1e-7,
    );
    assert_eq!(e.subsets().len(), 7);
    for s in e.subsets() {
        assert_eq!(e.mean_of(&s).unwrap().len(), 3);
    }
}

#[test]
fn bad_ensembles_are_errors() {
    let empty: [Vec<f32>; 0] = [];
    assert!(
        average(&empty)
            .unwrap_err()
            .to_string()
            .contains("at least one member")
    );
    let err = average(&[vec![0.5, 0.5], vec![0.5]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid data: ensemble member 1 has 1 probabilities, member 0 has 2"
    );

    let mut e = Ensemble::new();
    e.add("a", vec![0.5, 0.5]).unwrap();
    assert!(
        e.add("b", vec![0.5])
            .unwrap_err()
            .to_string()
            .contains("\"b\" has 1 probabilities")
    );
    assert!(
        e.add("a", vec![0.1, 0.2])
            .unwrap_err()
            .to_string()
            .contains("added twice")
    );
    assert!(
        e.mean_of(&[])
            .unwrap_err()
            .to_string()
            .contains("at least one member")
    );
    assert!(
        e.mean_of(&["c"])
            .unwrap_err()
            .to_string()
            .contains("no ensemble member \"c\"")
    );
    assert!(
        e.mean_of(&["a", "a"])
            .unwrap_err()
            .to_string()
            .contains("named twice")
    );
    assert!(Ensemble::new().mean().is_err());
}

#[test]
fn averaging_probabilities_is_averaging_softmax_outputs() {
    let cfg = TrainConfig {
        hidden: vec![8, 4],
        ..TrainConfig::paper()
    };
    let x = separable(9, 5, 2);
    let heads: Vec<Head> = (0..3)
        .map(|s| Head::new(5, &cfg, &mut rng(s, Stream::Init), &Device::Cpu).unwrap())
        .collect();
    let probs: Vec<Vec<f32>> = heads
        .iter()
        .map(|h| h.predict_proba(x.features()).unwrap())
        .collect();
    let softmax: Vec<Vec<Vec<f32>>> = heads
        .iter()
        .map(|h| {
            h.predict_softmax(x.features())
                .unwrap()
                .to_vec2::<f32>()
                .unwrap()
        })
        .collect();
    let mean = average(&probs).unwrap();
    for i in 0..9 {
        let col0: f32 = softmax.iter().map(|s| s[i][0]).sum::<f32>() / 3.0;
        let col1: f32 = softmax.iter().map(|s| s[i][1]).sum::<f32>() / 3.0;
        assert!((col1 - mean[i]).abs() < 1e-6);
        assert!((col0 - (1.0 - mean[i])).abs() < 1e-6);
    }
}
