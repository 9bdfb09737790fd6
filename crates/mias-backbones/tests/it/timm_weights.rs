//! The deterministic pseudo-random weights of the timm parity fixtures, rebuilt in Rust.
//!
//! `tests/data/make_timm_reference.py` fills each timm model from a formula of (tensor name,
//! element index) and records the keys and shapes in `timm_manifest.json`. This module
//! reimplements the formula bit for bit (integer hash, then one f64 expression rounded once to
//! f32) and serves the tensors lazily through a candle `VarBuilder`, so only the tensors a port
//! asks for are generated and no weight file is committed. The script's header is the
//! specification; `probes_match_the_python_formula` checks this copy against values the script
//! recorded.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

/// Name of the formula input tensor (`pixel_values` [N, 3, S, S]).
pub const INPUT_NAME: &str = "pixel_values";

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Directory of the committed fixtures.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// FNV-1a 64 of the UTF-8 bytes of a tensor name.
pub fn fnv1a64(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The splitmix64 finaliser of `seed + (i + 1) * GAMMA`, mapped to [-1, 1) (exact in f64).
fn unit_value(seed: u64, i: u64) -> f64 {
    let mut z = seed.wrapping_add((i + 1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f64 * (2.0 / (1u64 << 24) as f64) - 1.0
}

/// `(center, half_width)` of a tensor from its key suffix and shape (see the script's header).
pub fn rule(name: &str, shape: &[usize]) -> (f64, f64) {
    if name == INPUT_NAME {
        return (0.0, 1.0);
    }
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let fan_in = || shape[1..].iter().product::<usize>() as f64;
    match leaf {
        "weight" if shape.len() == 4 && shape[1] == 1 => (0.0, (3.0 / fan_in()).sqrt()),
        "weight" if shape.len() >= 2 => (0.0, (6.0 / fan_in()).sqrt()),
        "weight" if shape.len() == 1 => (1.0, 0.2),
        "bias" | "running_mean" => (0.0, 0.1),
        "running_var" => (1.0, 0.25),
        _ => panic!("the timm formula has no rule for tensor {name} of shape {shape:?}"),
    }
}

/// The formula values of one tensor, row-major.
pub fn formula_values(name: &str, shape: &[usize]) -> Vec<f32> {
    let (center, half) = rule(name, shape);
    let seed = fnv1a64(name);
    let n: usize = shape.iter().product();
    (0..n as u64)
        .map(|i| (center + half * unit_value(seed, i)) as f32)
        .collect()
}

/// The formula tensor `name` of `shape` on `dev`.
pub fn formula_tensor(name: &str, shape: &[usize], dev: &Device) -> candle_core::Result<Tensor> {
    Tensor::from_vec(formula_values(name, shape), shape, dev)
}

/// One model's entry of `timm_manifest.json`.
pub struct ModelManifest {
    /// Native input side S.
    pub input_side: usize,
    /// Pooled feature dimension D.
    pub feature_dim: usize,
    /// Every state_dict key (except `num_batches_tracked`) with its shape.
    pub tensors: HashMap<String, Vec<usize>>,
    /// Further references by tag (`side224`, `keras_flavor`, ...): their input side.
    pub variants: HashMap<String, usize>,
}

/// The manifest: batch size and per-model entries keyed by timm model name.
pub struct Manifest {
    /// Batch size of the reference run.
    pub batch: usize,
    /// Entries by timm model name.
    pub models: HashMap<String, ModelManifest>,
}

fn as_usize(v: &serde_json::Value, what: &str) -> usize {
    v.as_u64()
        .unwrap_or_else(|| panic!("timm_manifest.json: {what} is not an integer: {v}")) as usize
}

/// Parse the committed `timm_manifest.json`.
pub fn manifest() -> Manifest {
    let path = data_dir().join("timm_manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let root: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not json: {e}", path.display()));
    let mut models = HashMap::new();
    let entries = root["models"]
        .as_object()
        .expect("timm_manifest.json: `models` is not an object");
    for (name, m) in entries {
        let mut tensors = HashMap::new();
        for t in m["tensors"].as_array().expect("`tensors` is not an array") {
            let key = t["key"]
                .as_str()
                .expect("`key` is not a string")
                .to_string();
            let shape = t["shape"]
                .as_array()
                .expect("`shape` is not an array")
                .iter()
                .map(|d| as_usize(d, &key))
                .collect();
            tensors.insert(key, shape);
        }
        let mut variants = HashMap::new();
        if let Some(vs) = m["variants"].as_object() {
            for (tag, v) in vs {
                variants.insert(tag.clone(), as_usize(&v["input_side"], tag));
            }
        }
        models.insert(
            name.clone(),
            ModelManifest {
                input_side: as_usize(&m["input_side"], "input_side"),
                feature_dim: as_usize(&m["feature_dim"], "feature_dim"),
                tensors,
                variants,
            },
        );
    }
    Manifest {
        batch: as_usize(&root["batch"], "batch"),
        models,
    }
}

/// A `VarBuilder` backend that generates the formula tensors of one model on request, checking
/// each requested shape against the manifest.
struct FormulaBackend {
    model: String,
    shapes: HashMap<String, Vec<usize>>,
}

impl SimpleBackend for FormulaBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, dev)?;
        if t.dims() != s.dims() {
            candle_core::bail!(
                "{}: tensor {name} has shape {:?} in timm, the port asks for {:?}",
                self.model,
                t.dims(),
                s.dims()
            );
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let Some(shape) = self.shapes.get(name) else {
            candle_core::bail!("{}: timm has no tensor named {name}", self.model);
        };
        formula_tensor(name, shape, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }
}

/// A `VarBuilder` (f32) that serves the formula weights of timm model `model` on `dev`.
pub fn formula_var_builder(model: &str, dev: &Device) -> VarBuilder<'static> {
    let mut m = manifest();
    let entry = m
        .models
        .remove(model)
        .unwrap_or_else(|| panic!("timm_manifest.json has no model {model}"));
    let backend: Box<dyn SimpleBackend> = Box::new(FormulaBackend {
        model: model.to_string(),
        shapes: entry.tensors,
    });
    VarBuilder::from_backend(backend, DType::F32, dev.clone())
}

/// The formula input [batch, 3, side, side].
pub fn formula_input(batch: usize, side: usize, dev: &Device) -> candle_core::Result<Tensor> {
    formula_tensor(INPUT_NAME, &[batch, 3, side, side], dev)
}

/// The expected pooled features [batch, D] that timm computed: `<model>.features` for
/// `tag = None`, `<model>.<tag>.features` for a variant.
pub fn expected_features(model: &str, tag: Option<&str>) -> Tensor {
    let path = data_dir().join("timm_reference.safetensors");
    let mut all = candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let key = match tag {
        None => format!("{model}.features"),
        Some(tag) => format!("{model}.{tag}.features"),
    };
    all.remove(&key)
        .unwrap_or_else(|| panic!("{} has no {key}", path.display()))
}

#[test]
fn probes_match_the_python_formula() {
    let path = data_dir().join("timm_reference.safetensors");
    let bytes = std::fs::read(&path).expect("read timm_reference.safetensors");
    // safetensors header: u64 little-endian length, then that many bytes of json.
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + len]).expect("safetensors header is json");
    let probes = header["__metadata__"]["probes"]
        .as_str()
        .expect("`probes` metadata");
    let probes: serde_json::Value = serde_json::from_str(probes).expect("`probes` is json");
    let probes = probes.as_array().expect("`probes` is an array");
    assert!(
        probes.len() >= 13,
        "expected 3 probes per model and the input"
    );
    for p in probes {
        let key = p["key"].as_str().expect("probe key");
        let shape: Vec<usize> = p["shape"]
            .as_array()
            .expect("probe shape")
            .iter()
            .map(|d| as_usize(d, key))
            .collect();
        let vals = formula_values(key, &shape);
        for (i, want) in p["first"]
            .as_array()
            .expect("probe first")
            .iter()
            .enumerate()
        {
            let want = want.as_f64().expect("probe value") as f32;
            assert_eq!(vals[i].to_bits(), want.to_bits(), "{key}[{i}]");
        }
        let sum: f64 = vals.iter().map(|&v| f64::from(v)).sum();
        let want = p["sum"].as_f64().expect("probe sum");
        // numpy sums pairwise, Rust sequentially: equal values, rounding differences only.
        assert!(
            (sum - want).abs() <= 1e-9 * (1.0 + want.abs()) * (vals.len() as f64).sqrt(),
            "{key}: sum {sum} != {want}"
        );
    }
}

#[test]
fn manifest_lists_the_four_models() {
    let m = manifest();
    assert_eq!(m.batch, 2);
    for (name, side, dim, n) in [
        ("vgg16", 224, 512, 32),
        ("legacy_xception", 299, 2048, 236),
        ("mobilenetv2_100", 224, 1280, 262),
        ("nasnetalarge", 331, 4032, 1546),
    ] {
        let e = &m.models[name];
        assert_eq!(
            (e.input_side, e.feature_dim, e.tensors.len()),
            (side, dim, n),
            "{name}"
        );
        let f = expected_features(name, None);
        assert_eq!(f.dims(), &[2, dim], "{name}");
        for tag in e.variants.keys() {
            let f = expected_features(name, Some(tag));
            assert_eq!(f.dims(), &[2, dim], "{name}.{tag}");
        }
    }
}

#[test]
fn backend_rejects_unknown_keys_and_wrong_shapes() {
    let vb = formula_var_builder("vgg16", &Device::Cpu);
    assert!(vb.contains_tensor("features.0.weight"));
    let ok = vb.get((64, 3, 3, 3), "features.0.weight");
    assert!(ok.is_ok());
    let err = vb.get((64, 3, 3, 4), "features.0.weight").unwrap_err();
    assert!(err.to_string().contains("features.0.weight"), "{err}");
    let err = vb.get(64, "features.1.bias").unwrap_err();
    assert!(err.to_string().contains("no tensor named"), "{err}");
}
