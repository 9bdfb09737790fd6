//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The real dataset: `MIAS_DATA_DIR`, else `../shared/data/mini-mias` beside the workspace.
/// `None`, with a printed notice naming the test, when neither exists.
pub fn real_data(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MIAS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mini-mias")
        });
    if dir.join("Info.txt").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: the real Mini-MIAS data is not at {} (set MIAS_DATA_DIR)",
            dir.display()
        );
        None
    }
}

/// A test fixture in `tests/data`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads one f32 tensor from a safetensors file (header length, JSON header, raw
/// little-endian data), without a safetensors dependency: `(shape, values)`.
pub fn read_f32_tensor(path: &std::path::Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let entry = &header[name];
    assert_eq!(entry["dtype"], "F32", "{name} in {}", path.display());
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let offsets = entry["data_offsets"].as_array().unwrap();
    let (start, end) = (
        8 + n + offsets[0].as_u64().unwrap() as usize,
        8 + n + offsets[1].as_u64().unwrap() as usize,
    );
    let values = bytes[start..end]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, values)
}
