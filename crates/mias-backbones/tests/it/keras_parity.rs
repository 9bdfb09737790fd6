//! Keras parity: the keras flavor on the real weights of `../shared/weights` must reproduce the
//! features Keras computed (`../shared/reference/*.keras_reference.safetensors`) within 1e-4
//! relative (max |diff| / max |ref|). Skipped, with a notice, where `../shared` is absent.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use mias_backbones::{BackboneKind, Flavor, WeightsSource};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("MIAS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    dir.join("reference").is_dir().then_some(dir)
}

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
    let Some(shared) = shared() else {
        eprintln!("skipped: ../shared (or MIAS_SHARED_DIR) is absent, no Keras parity for {kind}");
        return;
    };
    let wfile = shared.join("weights").join(weights);
    let rfile = shared
        .join("reference")
        .join(format!("{kind}.keras_reference.safetensors"));
    if !wfile.is_file() || !rfile.is_file() {
        eprintln!(
            "skipped: {} or {} is absent",
            wfile.display(),
            rfile.display()
        );
        return;
    }
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
