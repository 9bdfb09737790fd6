//! Keras parity: the keras flavor on the real weights of `../shared/weights` must reproduce the
//! features Keras computed (`../shared/reference/*.keras_reference.safetensors`) within 1e-4
//! relative (max |diff| / max |ref|). Skipped, with a notice, where `../shared` is absent.

use candle_core::{Device, Tensor};
use mias_backbones::{BackboneKind, Flavor, WeightsSource};

fn rel_err(ours: &Tensor, reference: &Tensor) -> f32 {
    let diff = (ours - reference)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap();
    let max_diff = diff.max(0).unwrap().to_scalar::<f32>().unwrap();
    let scale = reference.abs().unwrap().flatten_all().unwrap();
    max_diff / scale.max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn check(kind: BackboneKind, weights: &str) {
    let test = format!("keras parity of {kind}");
    let Some(wfile) = mias_core::skip::shared_file(&test, &format!("weights/{weights}")) else {
        return;
    };
    let reference = format!("reference/{kind}.keras_reference.safetensors");
    let Some(rfile) = mias_core::skip::shared_file(&test, &reference) else {
        return;
    };
    let dev = Device::Cpu;
    let reference = candle_core::safetensors::load(&rfile, &dev).unwrap();
    let bb = mias_backbones::load(kind, &WeightsSource::File(wfile), Flavor::Keras, &dev).unwrap();
    let x = &reference["pixel_values"];
    assert_eq!(x.dims()[2], bb.input().side);
    let feats = bb.features(x).unwrap();
    let expected = &reference["features"];
    assert_eq!(feats.dims(), expected.dims());
    let err = rel_err(&feats, expected);
    eprintln!("{kind} keras parity: relative error {err:.3e}");
    assert!(err < 1e-4, "{kind}: relative error {err:.3e} >= 1e-4");
}

#[test]
fn vgg16_matches_keras() {
    check(BackboneKind::Vgg16, "vgg16.keras.safetensors");
}

#[test]
fn mobilenetv2_matches_keras() {
    check(BackboneKind::MobileNetV2, "mobilenetv2.coral.safetensors");
}

#[test]
fn xception_matches_keras() {
    check(BackboneKind::Xception, "xception.keras.safetensors");
}
