//! Parity with timm: each port, with the formula weights of `timm_weights`, must reproduce the
//! pooled features that timm computed in `tests/data/make_timm_reference.py` within 1e-4
//! relative (max |diff| / max |timm|), batch 2: in the `timm` flavor at the native input size
//! and at one other size, and in the `keras` flavor against timm's modules reconfigured as Keras
//! builds the network (Xception and MobileNetV2 as `../shared/weights/FLAVOR.md` describes;
//! NASNet with Keras's zero-padded strided max pools): an independent check of the keras
//! flavors that needs no Keras weights.

use candle_core::Device;
use mias_backbones::{BackboneKind, Flavor, models};

use crate::timm_weights::{expected_features, formula_input, formula_var_builder, manifest};

/// The tolerance of the issue: max |ours - timm| / max |timm|.
const TOLERANCE: f32 = 1e-4;

/// Runs `kind` in `flavor` on the formula input and asserts it matches timm's features of model
/// `timm_name` (`tag`: a variant reference, or `None` for the native size).
fn assert_parity(kind: BackboneKind, flavor: Flavor, timm_name: &str, tag: Option<&str>) {
    let dev = Device::Cpu;
    let m = manifest();
    let entry = &m.models[timm_name];
    assert_eq!(
        entry.feature_dim,
        kind.feature_dim(),
        "{timm_name}: feature dim"
    );
    let side = match tag {
        None => {
            assert_eq!(
                entry.input_side,
                kind.native_side(),
                "{timm_name}: native side"
            );
            entry.input_side
        }
        Some(tag) => *entry
            .variants
            .get(tag)
            .unwrap_or_else(|| panic!("timm_manifest.json: {timm_name} has no variant {tag}")),
    };
    let what = format!("{timm_name}.{}", tag.unwrap_or("native"));
    let vb = formula_var_builder(timm_name, &dev);
    let bb = models::build(kind, flavor, vb)
        .unwrap_or_else(|e| panic!("building {kind} ({flavor}) from the formula weights: {e}"));
    let x = formula_input(m.batch, side, &dev).expect("formula input");
    let ours = bb
        .features(&x)
        .unwrap_or_else(|e| panic!("{what}: forward: {e}"));
    let want = expected_features(timm_name, tag);
    assert_eq!(ours.dims(), want.dims(), "{what}: feature shape");
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
        "timm parity {what} ({flavor} flavor, side {side}): max |diff| {max_diff:.3e}, \
         max |timm| {max_ref:.3e}, relative {rel:.3e}"
    );
    assert!(
        rel <= TOLERANCE,
        "{what}: {kind} ({flavor}) differs from timm: relative error {rel:.3e} > {TOLERANCE:e}"
    );
}

#[test]
fn vgg16_matches_timm() {
    assert_parity(BackboneKind::Vgg16, Flavor::Timm, "vgg16", None);
}

#[test]
fn vgg16_matches_timm_at_160() {
    assert_parity(BackboneKind::Vgg16, Flavor::Timm, "vgg16", Some("side160"));
}

#[test]
fn xception_matches_timm_legacy_xception() {
    assert_parity(
        BackboneKind::Xception,
        Flavor::Timm,
        "legacy_xception",
        None,
    );
}

#[test]
fn xception_matches_timm_legacy_xception_at_224() {
    let tag = Some("side224");
    assert_parity(BackboneKind::Xception, Flavor::Timm, "legacy_xception", tag);
}

#[test]
fn xception_keras_flavor_matches_timm_reconfigured_as_keras() {
    let tag = Some("keras_flavor");
    assert_parity(
        BackboneKind::Xception,
        Flavor::Keras,
        "legacy_xception",
        tag,
    );
}

#[test]
fn mobilenetv2_matches_timm_mobilenetv2_100() {
    assert_parity(
        BackboneKind::MobileNetV2,
        Flavor::Timm,
        "mobilenetv2_100",
        None,
    );
}

#[test]
fn mobilenetv2_matches_timm_mobilenetv2_100_at_200() {
    let tag = Some("side200");
    assert_parity(
        BackboneKind::MobileNetV2,
        Flavor::Timm,
        "mobilenetv2_100",
        tag,
    );
}

#[test]
fn mobilenetv2_keras_flavor_matches_timm_with_tf_same_padding() {
    let tag = Some("keras_flavor");
    assert_parity(
        BackboneKind::MobileNetV2,
        Flavor::Keras,
        "mobilenetv2_100",
        tag,
    );
}

#[test]
fn nasnetlarge_matches_timm_nasnetalarge() {
    assert_parity(
        BackboneKind::NasNetLarge,
        Flavor::Timm,
        "nasnetalarge",
        None,
    );
}

#[test]
fn nasnetlarge_matches_timm_nasnetalarge_at_224() {
    let tag = Some("side224");
    assert_parity(BackboneKind::NasNetLarge, Flavor::Timm, "nasnetalarge", tag);
}

#[test]
fn nasnetlarge_keras_flavor_matches_timm_with_zero_padded_max_pools() {
    let (kind, tag) = (BackboneKind::NasNetLarge, Some("keras_flavor"));
    assert_parity(kind, Flavor::Keras, "nasnetalarge", tag);
}
