//! pydicom's own test files, a peer's suite: every single-frame greyscale file with pixel data
//! (`tests/data/pydicom_reference.json`, written by `tests/data/make_pydicom_reference.py` with
//! pydicom 3.0.2 and its pylibjpeg / pyjpegls plugins) either decodes to pydicom's stored values
//! (SHA-256 of the values, count, min, max, sum) or is refused with an error naming the file
//! and the reason. The files come from pydicom's wheel, unpacked by
//! `scripts/fetch_pydicom_files.py`; they are not committed.

use std::path::{Path, PathBuf};

use mias_data::dicom;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::fixture;

/// pydicom's test files: `MIAS_PYDICOM_DIR`, else `~/.cache/mias/pydicom-test-files`. `None`
/// with a printed `SKIPPED` notice when absent; a failure instead under `MIAS_REQUIRE_DATA=1`.
fn pydicom_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MIAS_PYDICOM_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/mias/pydicom-test-files"))
        });
    match dir {
        Some(dir) if dir.join(".complete").is_file() => Some(dir),
        _ => {
            mias_core::skip::skip(
                test,
                "pydicom's test files are not in $MIAS_PYDICOM_DIR or \
                 ~/.cache/mias/pydicom-test-files (run scripts/fetch_pydicom_files.py)",
            );
            None
        }
    }
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("pydicom_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks one reference case against mias's decoding of `path`; returns what was done.
fn check(case: &Value, path: &Path) -> &'static str {
    let name = case["file"].as_str().unwrap();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        sha256(&bytes),
        case["sha256"].as_str().unwrap(),
        "{name}: not the file the reference was made from"
    );
    let result = dicom::read(path);
    match case["expect"].as_str().unwrap() {
        "decode" => {
            let d = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let (w, h) = d.dimensions();
            assert_eq!(u64::from(w), case["columns"].as_u64().unwrap(), "{name}");
            assert_eq!(u64::from(h), case["rows"].as_u64().unwrap(), "{name}");
            assert_eq!(
                u64::from(d.samples.bits),
                case["bitsstored"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                d.transfer_syntax,
                case["transfer_syntax"].as_str().unwrap(),
                "{name}"
            );
            let values = &d.samples.values;
            let min = values.iter().min().copied().unwrap();
            let max = values.iter().max().copied().unwrap();
            let sum: i64 = values.iter().map(|&v| i64::from(v)).sum();
            let stats = (values.len() as u64, i64::from(min), i64::from(max), sum);
            let expected = (
                case["count"].as_u64().unwrap(),
                case["min"].as_i64().unwrap(),
                case["max"].as_i64().unwrap(),
                case["sum"].as_i64().unwrap(),
            );
            assert_eq!(stats, expected, "{name}: (count, min, max, sum)");
            let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(
                sha256(&le),
                case["stored_sha256"].as_str().unwrap(),
                "{name}: stored values differ from pydicom's"
            );
            "decoded"
        }
        _ => {
            let err = match result {
                Ok(_) => panic!(
                    "{name}: decoded, but should be refused ({})",
                    case.get("pydicom_error")
                        .and_then(Value::as_str)
                        .unwrap_or("mias refuses it")
                ),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(&path.display().to_string()), "{err}");
            let words = case["error"].as_str().unwrap();
            assert!(err.contains(words), "{name}: {words:?} not in {err:?}");
            "refused"
        }
    }
}

#[test]
fn pydicom_test_files_decode_as_pydicom_or_are_refused() {
    let Some(dir) = pydicom_dir("pydicom_test_files_decode_as_pydicom_or_are_refused") else {
        return;
    };
    let reference = reference();
    assert_eq!(reference["pydicom"], "3.0.2");
    let files = reference["files"].as_array().unwrap();
    let mut decoded = Vec::new();
    let mut refused = Vec::new();
    let mut failed = Vec::new();
    for case in files {
        let name = case["file"].as_str().unwrap();
        // Every file is tried; the failures are listed together.
        let path = dir.join(name);
        match std::panic::catch_unwind(|| check(case, &path)) {
            Ok("decoded") => decoded.push(name),
            Ok(_) => refused.push(name),
            Err(_) => failed.push(name),
        }
    }
    assert!(
        failed.is_empty(),
        "failed (see the messages above): {failed:?}"
    );
    eprintln!("decoded as pydicom: {}", decoded.join(", "));
    eprintln!("refused: {}", refused.join(", "));
    // Every transfer syntax mias added for pydicom's files is among the decoded ones.
    for name in [
        "image_dfl.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEGLSNearLossless_08.dcm",
        "JPEGLSNearLossless_16.dcm",
    ] {
        assert!(decoded.contains(&name), "{name} not decoded");
    }
    assert_eq!((decoded.len(), refused.len()), (47, 13));
}

/// The committed JPEG-LS fixture (once refused) against CharLS through pyjpegls; needs no
/// download.
#[test]
fn the_jpeg_ls_fixture_decodes_as_charls() {
    let reference = reference();
    let fixtures = reference["fixtures"].as_array().unwrap();
    assert_eq!(fixtures.len(), 1);
    let case = &fixtures[0];
    assert_eq!(case["expect"], "decode");
    assert_eq!(
        check(case, &fixture(case["file"].as_str().unwrap())),
        "decoded"
    );
}
