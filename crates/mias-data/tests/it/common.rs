//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The real dataset (`mias_core::skip::real_data`: `MIAS_DATA_DIR`, else the shared
/// directory's); `None` after saying `SKIPPED` (a failure under `MIAS_REQUIRE_DATA=1`).
pub fn real_data(test: &str) -> Option<PathBuf> {
    mias_core::skip::real_data(test)
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

/// Links the staged dataset at `from` (Info.txt + png/) into `to`, file by file, so a test can
/// replace one file without touching the original.
pub fn link_copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to.join("png")).unwrap();
    std::os::unix::fs::symlink(from.join("Info.txt"), to.join("Info.txt")).unwrap();
    for entry in std::fs::read_dir(from.join("png")).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), to.join("png").join(entry.file_name())).unwrap();
    }
}

/// The committed fixture `name` (JSON) and the test image its script describes: `height` x
/// `width`, pixel `(x * 7 + y * 13 + (x * y) % 31) % 256` at column x, row y.
pub fn fixture_with_ramp(name: &str) -> (serde_json::Value, image::GrayImage) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (h, w) = (
        reference["height"].as_u64().unwrap() as u32,
        reference["width"].as_u64().unwrap() as u32,
    );
    let ramp = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([((x * 7 + y * 13 + (x * y) % 31) % 256) as u8])
    });
    (reference, ramp)
}
