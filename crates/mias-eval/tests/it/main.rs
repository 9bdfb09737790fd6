//! Integration tests of mias-eval: figures against independent references (scikit-learn,
//! statsmodels, scipy, a numpy DeLong; see `tests/data/make_reference.py`), hand-calculated
//! cases, tables that round-trip through CSV and Markdown with nothing left behind, plots, and
//! the bootstrap over clusters against numpy fed with the same draws
//! (`tests/data/make_cluster_bootstrap.py`), and every figure of the three populations with the
//! paired comparison likewise (`tests/data/make_populations.py`).

mod cluster;
mod plots;
mod population;
mod reference;
mod tables;

use std::path::PathBuf;

/// Asserts `|a - b| <= tol` with a readable message.
#[track_caller]
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, expected {b} (tolerance {tol})"
    );
}

/// The committed fixtures folder.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// Lists the directory's entries (names), sorted.
pub fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
