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
