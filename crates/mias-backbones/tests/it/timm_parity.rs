//! Parity with timm: each port, in the `timm` flavor, with the formula weights of
//! `timm_weights`, must reproduce the pooled features that timm computed in
//! `tests/data/make_timm_reference.py` within 1e-4 relative (max |diff| / max |timm|), at the
//! native input size and batch 2.

use candle_core::Device;
use mias_backbones::{BackboneKind, Flavor, models};

use crate::timm_weights::{expected_features, formula_input, formula_var_builder, manifest};

/// The tolerance of the issue: max |ours - timm| / max |timm|.
const TOLERANCE: f32 = 1e-4;

/// Runs `kind` in the timm flavor on the formula input and returns the relative error against
/// timm's features of model `timm_name`.
fn parity(kind: BackboneKind, timm_name: &str) -> f32 {
    let dev = Device::Cpu;
    let m = manifest();
    let entry = &m.models[timm_name];
    assert_eq!(
        entry.input_side,
        kind.native_side(),
        "{timm_name}: native side"
    );
    assert_eq!(
        entry.feature_dim,
        kind.feature_dim(),
        "{timm_name}: feature dim"
    );
    let vb = formula_var_builder(timm_name, &dev);
    let bb = models::build(kind, Flavor::Timm, vb)
        .unwrap_or_else(|e| panic!("building {kind} from the timm formula weights: {e}"));
    let x = formula_input(m.batch, entry.input_side, &dev).expect("formula input");
    let ours = bb
        .features(&x)
        .unwrap_or_else(|e| panic!("{kind} forward: {e}"));
    let want = expected_features(timm_name);
    assert_eq!(ours.dims(), want.dims(), "{timm_name}: feature shape");
    let ours = ours
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("features");
    let want = want
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("features");
    let max_ref = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let max_diff = ours
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let rel = max_diff / max_ref;
    eprintln!(
        "timm parity {timm_name}: max |diff| {max_diff:.3e}, max |timm| {max_ref:.3e}, relative {rel:.3e}"
    );
    rel
}

fn assert_parity(kind: BackboneKind, timm_name: &str) {
    let rel = parity(kind, timm_name);
    assert!(
        rel <= TOLERANCE,
        "{kind} differs from timm {timm_name}: relative error {rel:.3e} > {TOLERANCE:e}"
    );
}

#[test]
fn vgg16_matches_timm() {
    assert_parity(BackboneKind::Vgg16, "vgg16");
}

#[test]
fn xception_matches_timm_legacy_xception() {
    assert_parity(BackboneKind::Xception, "legacy_xception");
}

#[test]
fn mobilenetv2_matches_timm_mobilenetv2_100() {
    assert_parity(BackboneKind::MobileNetV2, "mobilenetv2_100");
}

#[test]
fn nasnetlarge_matches_timm_nasnetalarge() {
    assert_parity(BackboneKind::NasNetLarge, "nasnetalarge");
}
