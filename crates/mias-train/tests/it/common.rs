//! Helpers shared by the integration tests: fixtures, tolerances and small data sets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use mias_train::{Head, LabelledFeatures, TrainConfig};
use serde_json::Value;

/// A file under `tests/data`.
pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A committed JSON fixture.
pub fn fixture(name: &str) -> Value {
    let path = data_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers as f32.
pub fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// A JSON array of labels.
pub fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("label") as u32)
        .collect()
}

/// `{key: {shape, data}}` as tensors on the CPU.
pub fn tensors(v: &Value) -> HashMap<String, Tensor> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, t)| {
            let shape: Vec<usize> = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            (
                k.clone(),
                Tensor::from_vec(f32s(&t["data"]), shape, &Device::Cpu).unwrap(),
            )
        })
        .collect()
}

/// Asserts `|a - b| <= tol` element-wise, naming the first offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .enumerate()
        .map(|(i, (g, w))| (i, (*g as f64 - *w as f64).abs()))
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    assert!(
        worst.1 <= tol,
        "{what}: element {} differs by {:e} > {tol:e} ({} vs {})",
        worst.0,
        worst.1,
        got[worst.0],
        want[worst.0]
    );
}

/// Asserts `|a - b| <= tol` for scalars.
pub fn assert_close1(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} vs {want} (tol {tol:e})"
    );
}

/// A head's parameters flattened, in parameter order.
pub fn flat(head: &Head) -> Vec<f32> {
    head.params()
        .iter()
        .flat_map(|p| p.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

/// The head of the reference fixture (6 inputs, hidden 8-5-4) with its initial weights.
pub fn reference_head(reference: &Value, cfg: &TrainConfig) -> Head {
    let dim = reference["input_dim"].as_u64().unwrap() as usize;
    Head::from_tensors(
        dim,
        cfg,
        &tensors(&reference["initial"]),
        &data_path("reference.json"),
    )
    .unwrap()
}

/// The reference fixture's training and validation sets.
pub fn reference_data(reference: &Value) -> (LabelledFeatures, LabelledFeatures) {
    let dim = reference["input_dim"].as_u64().unwrap() as usize;
    let train = LabelledFeatures::from_rows(
        f32s(&reference["x"]),
        dim,
        u32s(&reference["y"]),
        &Device::Cpu,
    )
    .unwrap();
    let val = LabelledFeatures::from_rows(
        f32s(&reference["x_val"]),
        dim,
        u32s(&reference["y_val"]),
        &Device::Cpu,
    )
    .unwrap();
    (train, val)
}

/// `n` samples in `dim` dimensions split by the hyperplane `sum(x) = 0` with a margin:
/// label 1 where the sum is positive. Coordinates from a tiny LCG (no RNG crate needed).
pub fn separable(n: usize, dim: usize, seed: u64) -> LabelledFeatures {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut rows = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 2) as u32;
        let mut row: Vec<f32> = (0..dim).map(|_| next()).collect();
        // Push the point 0.5 / sqrt(dim) per coordinate to its side of the hyperplane.
        let sum: f32 = row.iter().sum();
        let shift = (if label == 1 { 0.5 } else { -0.5 } - sum) / dim as f32
            + if label == 1 { 0.3 } else { -0.3 } * next().abs();
        row.iter_mut().for_each(|x| *x += shift);
        rows.extend(row);
        labels.push(label);
    }
    LabelledFeatures::from_rows(rows, dim, labels, &Device::Cpu).unwrap()
}
