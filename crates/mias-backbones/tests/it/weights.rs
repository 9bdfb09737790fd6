//! Weight sources and weight-file errors on small generated files: truncated files, missing keys,
//! wrong shapes, offline resolution from the caches, the `.pth` to safetensors conversion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use mias_backbones::weights::{FetchOptions, convert_pth, sha256_file, var_builder};
use mias_backbones::{BackboneKind, Error, Flavor, WeightsSource};

fn offline(dir: &Path) -> FetchOptions {
    FetchOptions {
        hub_cache: dir.join("hub"),
        url_cache: dir.join("urls"),
        offline: true,
    }
}

fn save(path: &Path, tensors: &[(&str, Tensor)]) {
    let map: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, t)| (k.to_string(), t.clone()))
        .collect();
    candle_core::safetensors::save(&map, path).unwrap();
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
}

fn load_vgg(path: &Path) -> Result<(), Error> {
    let source = WeightsSource::File(path.to_path_buf());
    mias_backbones::load(BackboneKind::Vgg16, &source, Flavor::Keras, &Device::Cpu).map(|_| ())
}

#[test]
fn truncated_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.safetensors");
    save(&path, &[("features.0.weight", zeros(&[64, 3, 3, 3]))]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    match var_builder(&path, &Device::Cpu) {
        Err(Error::Truncated {
            path: p,
            expected,
            actual,
        }) => {
            assert_eq!(p, path);
            assert_eq!(expected, bytes.len() as u64);
            assert_eq!(actual, bytes.len() as u64 - 100);
        }
        Err(e) => panic!("expected a truncation error, got {e}"),
        Ok(_) => panic!("expected a truncation error, got a VarBuilder"),
    }
    // Cut inside the header too.
    std::fs::write(&path, &bytes[..20]).unwrap();
    let err = load_vgg(&path).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("cut.safetensors"), "{err}");
}

#[test]
fn garbage_is_a_bad_weight_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.safetensors");
    let mut bytes = 12u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"not json at all");
    std::fs::write(&path, &bytes).unwrap();
    let err = load_vgg(&path).unwrap_err();
    assert!(matches!(err, Error::BadWeightFile { .. }), "{err}");
}

#[test]
fn missing_key_names_key_and_expected_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partial.safetensors");
    save(&path, &[("features.0.weight", zeros(&[64, 3, 3, 3]))]);
    match load_vgg(&path) {
        Err(Error::MissingKey {
            path: p,
            key,
            expected,
        }) => {
            assert_eq!(p, path);
            assert_eq!(key, "features.0.bias");
            assert_eq!(expected, vec![64]);
        }
        other => panic!("expected a missing-key error, got {other:?}"),
    }
}

#[test]
fn wrong_shape_names_key_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.safetensors");
    save(
        &path,
        &[
            ("features.0.weight", zeros(&[64, 3, 5, 5])),
            ("features.0.bias", zeros(&[64])),
        ],
    );
    let err = load_vgg(&path).unwrap_err();
    match &err {
        Error::ShapeMismatch {
            key,
            expected,
            actual,
            ..
        } => {
            assert_eq!(key, "features.0.weight");
            assert_eq!(expected, &vec![64, 3, 3, 3]);
            assert_eq!(actual, &vec![64, 3, 5, 5]);
        }
        other => panic!("expected a shape error, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("features.0.weight") && msg.contains("[64, 3, 5, 5]"),
        "{msg}"
    );
}

#[test]
fn missing_local_file_says_how_to_provide_weights() {
    let dir = tempfile::tempdir().unwrap();
    let source = WeightsSource::File(dir.path().join("nope.safetensors"));
    let err = source
        .resolve_with(BackboneKind::Xception, &offline(dir.path()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::WeightsUnavailable { .. }), "{msg}");
    assert!(
        msg.contains("nope.safetensors") && msg.contains("--weights"),
        "{msg}"
    );
}

#[test]
fn hub_offline_without_cache_names_repo_and_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let source = WeightsSource::pinned(BackboneKind::NasNetLarge);
    let err = source
        .resolve_with(BackboneKind::NasNetLarge, &offline(dir.path()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::WeightsUnavailable { .. }), "{msg}");
    assert!(msg.contains("timm/nasnetalarge.tf_in1k"), "{msg}");
    assert!(
        msg.contains("2188423afb58a54ecc6eb20e22179f24bfb92275"),
        "{msg}"
    );
    assert!(msg.contains("--weights"), "{msg}");
}

/// Lays out a file the way hf-hub's cache stores it (refs/<revision> -> snapshots/<commit>/file).
fn fake_hub_cache(hub: &Path, repo: &str, revision: &str, file: &str) -> PathBuf {
    let folder = hub.join(format!("models--{}", repo.replace('/', "--")));
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs").join(revision), revision).unwrap();
    let snap = folder.join("snapshots").join(revision);
    std::fs::create_dir_all(&snap).unwrap();
    snap.join(file)
}

#[test]
fn hub_resolves_from_cache_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let opts = offline(dir.path());
    let WeightsSource::Hub {
        repo,
        revision,
        file,
    } = WeightsSource::pinned(BackboneKind::Vgg16)
    else {
        panic!("vgg16 is pinned on the Hub");
    };
    let cached = fake_hub_cache(&opts.hub_cache, &repo, &revision, &file);
    save(&cached, &[("x", zeros(&[2]))]);
    let prov = WeightsSource::pinned(BackboneKind::Vgg16)
        .resolve_with(BackboneKind::Vgg16, &opts)
        .unwrap();
    assert_eq!(prov.path, cached);
    assert_eq!(prov.sha256, sha256_file(&cached).unwrap());
    assert!(
        prov.source.contains("timm/vgg16.tv_in1k"),
        "{}",
        prov.source
    );
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

// sha256 of tests/data/tiny_state_dict.pth (sha256sum, when make_tiny_pth.py wrote it).
const TINY_PTH_SHA256: &str = "100f454de7ea18381d8dbd5d7c6a2269eb075361c25ded616e5629795c578545";

fn url_source(sha256: &str) -> WeightsSource {
    WeightsSource::Url {
        url: "https://example.invalid/tiny.pth".into(),
        sha256: sha256.into(),
        file_name: "tiny.pth".into(),
    }
}

#[test]
fn url_offline_without_cache_names_url() {
    let dir = tempfile::tempdir().unwrap();
    let err = WeightsSource::pinned(BackboneKind::Xception)
        .resolve_with(BackboneKind::Xception, &offline(dir.path()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::WeightsUnavailable { .. }), "{msg}");
    assert!(msg.contains("xception-43020ad28.pth"), "{msg}");
}

#[test]
fn cached_pth_is_checked_and_converted_once() {
    let dir = tempfile::tempdir().unwrap();
    let opts = offline(dir.path());
    std::fs::create_dir_all(&opts.url_cache).unwrap();
    std::fs::copy(
        fixture("tiny_state_dict.pth"),
        opts.url_cache.join("tiny.pth"),
    )
    .unwrap();
    assert_eq!(
        sha256_file(&opts.url_cache.join("tiny.pth")).unwrap(),
        TINY_PTH_SHA256
    );
    let prov = url_source(&TINY_PTH_SHA256[..12])
        .resolve_with(BackboneKind::Xception, &opts)
        .unwrap();
    assert_eq!(prov.path, opts.url_cache.join("tiny.safetensors"));
    let t = candle_core::safetensors::load(&prov.path, &Device::Cpu).unwrap();
    let w = t["a.weight"].to_vec2::<f32>().unwrap();
    assert_eq!(w, vec![vec![0.0, 0.25, 0.5], vec![0.75, 1.0, 1.25]]);
    assert_eq!(t["a.bias"].to_vec1::<f32>().unwrap(), vec![-1.0, 0.5]);
    assert!(!t.contains_key("bn.num_batches_tracked"));
    // Second run: the converted file is used as is, even with the download gone.
    std::fs::remove_file(opts.url_cache.join("tiny.pth")).unwrap();
    let again = url_source(&TINY_PTH_SHA256[..12])
        .resolve_with(BackboneKind::Xception, &opts)
        .unwrap();
    assert_eq!(again.sha256, prov.sha256);
}

#[test]
fn pth_with_wrong_digest_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let opts = offline(dir.path());
    std::fs::create_dir_all(&opts.url_cache).unwrap();
    std::fs::copy(
        fixture("tiny_state_dict.pth"),
        opts.url_cache.join("tiny.pth"),
    )
    .unwrap();
    let err = url_source("43020ad28")
        .resolve_with(BackboneKind::Xception, &opts)
        .unwrap_err();
    match err {
        Error::ChecksumMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, "43020ad28");
            assert_eq!(actual, TINY_PTH_SHA256);
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(!opts.url_cache.join("tiny.safetensors").exists());
}

#[test]
fn non_zip_pth_is_a_bad_weight_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("legacy.pth");
    std::fs::write(&src, b"\x80\x02not a zip archive").unwrap();
    let err = convert_pth(&src, &dir.path().join("out.safetensors")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::BadWeightFile { .. }), "{msg}");
    assert!(msg.contains("legacy.pth"), "{msg}");
}
