//! Dense maps (`Backbone::dense_map`): parity with timm and the grid rule.
//!
//! Parity: with the formula weights of `timm_weights`, each port's dense maps must reproduce the
//! maps that `tests/data/make_timm_reference.py` took from timm with forward hooks (one image;
//! VGG16 at 512 px, the others at 128), within the 1e-4 relative tolerance of the feature
//! parity tests. The full maps would weigh megabytes, so the fixture holds each map's mean per
//! channel and 1024 of its elements at indices `(i * 7919) mod len`; both are compared.
//!
//! Grid: for every backbone and layer, sides that are multiples of the stride give
//! `[N, C, H / stride, W / stride]`, other sides an `Error::DenseSide`.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use mias_backbones::{Backbone, BackboneKind, DenseLayer, Error, Flavor, models};

use crate::timm_weights::{data_dir, formula_input, formula_var_builder};

/// The tolerance of the feature parity tests: max |ours - timm| / max |timm|.
const TOLERANCE: f32 = 1e-4;

/// Element `i` of the sample is element `(i * SAMPLE_STEP) mod len` of the row-major map.
const SAMPLE_STEP: usize = 7919;

/// The fixture's tensors and its `dense` metadata (map shapes per model, tag and layer).
struct DenseFixture {
    tensors: HashMap<String, Tensor>,
    meta: serde_json::Value,
}

fn fixture() -> DenseFixture {
    let path = data_dir().join("timm_dense_reference.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + len]).expect("safetensors header is json");
    let dense = header["__metadata__"]["dense"]
        .as_str()
        .expect("`dense` metadata");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    DenseFixture {
        tensors,
        meta: serde_json::from_str(dense).expect("`dense` is json"),
    }
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor")
}

/// max |a - b| / max |b|.
fn relative(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let max_ref = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let max_diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    max_diff / max_ref
}

/// Runs `kind`'s dense maps (timm flavor) on the formula image of the fixture's side for `tag`
/// and compares both layers with timm's.
fn assert_dense_parity(kind: BackboneKind, timm_name: &str, tag: &str) {
    let dev = Device::Cpu;
    let fx = fixture();
    let entry = &fx.meta[timm_name][tag];
    let side = entry["input_side"]
        .as_u64()
        .unwrap_or_else(|| panic!("fixture: {timm_name}.{tag} has no input_side"))
        as usize;
    let bb = models::build(kind, Flavor::Timm, formula_var_builder(timm_name, &dev))
        .unwrap_or_else(|e| panic!("building {kind} from the formula weights: {e}"));
    let x = formula_input(1, side, &dev).expect("formula input");
    let mut one_by_one = Vec::new();
    for layer in DenseLayer::ALL {
        let what = format!("{timm_name}.{tag}.{layer}");
        let shape: Vec<usize> = entry[layer.name()]
            .as_array()
            .unwrap_or_else(|| panic!("fixture: no shape for {what}"))
            .iter()
            .map(|d| d.as_u64().expect("shape entry") as usize)
            .collect();
        let map = bb
            .dense_map(&x, layer)
            .unwrap_or_else(|e| panic!("{what}: dense map: {e}"));
        let stride = kind.dense_stride(layer);
        let c = kind.dense_channels(layer);
        assert_eq!(map.dims(), &[1, c, side / stride, side / stride], "{what}");
        assert_eq!(&map.dims()[1..], shape.as_slice(), "{what}: timm's shape");
        let ours = to_vec(&map);
        let got_mean = to_vec(&map.mean((2, 3)).expect("mean"));
        let want_mean = to_vec(&fx.tensors[&format!("{what}.channel_mean")]);
        let want_sample = to_vec(&fx.tensors[&format!("{what}.sample")]);
        let got_sample: Vec<f32> = (0..want_sample.len())
            .map(|i| ours[(i * SAMPLE_STEP) % ours.len()])
            .collect();
        let (rel_mean, rel_sample) = (
            relative(&got_mean, &want_mean),
            relative(&got_sample, &want_sample),
        );
        eprintln!(
            "dense parity {what} (side {side}, map {:?}): relative error of channel means \
             {rel_mean:.3e}, of {} sampled cells {rel_sample:.3e}",
            map.dims(),
            want_sample.len()
        );
        assert!(
            rel_mean <= TOLERANCE && rel_sample <= TOLERANCE,
            "{what}: differs from timm: channel means {rel_mean:.3e}, samples {rel_sample:.3e} \
             (tolerance {TOLERANCE:e})"
        );
        one_by_one.push((layer, ours));
    }
    // Several layers from one call (VGG16: one shared pass), in the order asked, a layer asked
    // twice given twice: the same values as the map of each layer alone, bit for bit.
    let asked = [
        DenseLayer::Last,
        DenseLayer::PreviousStage,
        DenseLayer::Last,
    ];
    let together = bb
        .dense_maps(&x, &asked)
        .unwrap_or_else(|e| panic!("{timm_name}.{tag}: dense maps: {e}"));
    assert_eq!(
        together.len(),
        asked.len(),
        "{timm_name}.{tag}: one map per layer asked"
    );
    for (layer, map) in asked.iter().zip(&together) {
        let alone = &one_by_one
            .iter()
            .find(|(l, _)| l == layer)
            .expect("every layer")
            .1;
        assert!(
            to_vec(map) == *alone,
            "{timm_name}.{tag}.{layer}: the map from dense_maps differs from dense_map's"
        );
    }
}

#[test]
fn vgg16_dense_maps_match_timm_at_512() {
    assert_dense_parity(BackboneKind::Vgg16, "vgg16", "dense512");
}

#[test]
fn xception_dense_maps_match_timm() {
    assert_dense_parity(BackboneKind::Xception, "legacy_xception", "dense128");
}

#[test]
fn mobilenetv2_dense_maps_match_timm() {
    assert_dense_parity(BackboneKind::MobileNetV2, "mobilenetv2_100", "dense128");
}

#[test]
fn nasnetlarge_dense_maps_match_timm() {
    assert_dense_parity(BackboneKind::NasNetLarge, "nasnetalarge", "dense128");
}

/// Every backbone, both layers, a few sides that are multiples of the stride (square and not):
/// the grid is exactly `H / stride x W / stride`; a side off the stride is refused by name.
fn assert_grid_rule(kind: BackboneKind, flavor: Flavor, bb: &dyn Backbone) {
    let dev = Device::Cpu;
    for layer in DenseLayer::ALL {
        let s = kind.dense_stride(layer);
        // The smallest multiple of the stride the network takes (32 px for all four).
        let base = s * 32usize.div_ceil(s);
        for (h, w) in [(base, base), (base + s, base + 2 * s), (base + 3 * s, base)] {
            let x = Tensor::zeros((1, 3, h, w), DType::F32, &dev).expect("input");
            let map = bb
                .dense_map(&x, layer)
                .unwrap_or_else(|e| panic!("{kind} ({flavor}) {layer} at {h}x{w}: {e}"));
            assert_eq!(
                map.dims(),
                &[1, kind.dense_channels(layer), h / s, w / s],
                "{kind} ({flavor}) {layer} at {h}x{w}"
            );
        }
        let x = Tensor::zeros((1, 3, base + s / 2, base), DType::F32, &dev).expect("input");
        let err = bb.dense_map(&x, layer).unwrap_err();
        assert!(
            matches!(err, Error::DenseSide { stride, .. } if stride == s),
            "{kind} {layer}: {err}"
        );
    }
}

#[test]
fn dense_grids_are_the_side_over_the_stride_in_both_flavors() {
    let dev = Device::Cpu;
    for kind in BackboneKind::ALL {
        for flavor in [Flavor::Timm, Flavor::Keras] {
            let bb = models::build(kind, flavor, mias_backbones::random_var_builder(3, &dev))
                .unwrap_or_else(|e| panic!("building {kind} ({flavor}): {e}"));
            assert_grid_rule(kind, flavor, bb.as_ref());
        }
    }
}
