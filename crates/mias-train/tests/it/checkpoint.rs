//! Safetensors checkpoints: round trip, and clear errors for files that do not fit.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Device;
use mias_train::rng::{Stream, rng};
use mias_train::{Error, Head, META_CONFIG, TrainConfig};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::common::{flat, separable};

fn small() -> TrainConfig {
    TrainConfig {
        hidden: vec![6, 5, 3],
        seed: 4,
        ..TrainConfig::paper()
    }
}

fn saved(dir: &Path) -> (Head, std::path::PathBuf) {
    let head = Head::new(4, &small(), &mut rng(4, Stream::Init), &Device::Cpu).unwrap();
    let path = dir.join("head.safetensors");
    head.save(&path).unwrap();
    (head, path)
}

/// Rewrites `path` after `edit` changes its tensors (name -> (dtype, shape, bytes)) and
/// metadata.
fn rewrite(
    path: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>),
) {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: HashMap<_, _> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    edit(&mut tensors, &mut metadata);
    let views: Vec<_> = tensors
        .iter()
        .map(|(k, (d, s, b))| (k.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
}

#[test]
fn round_trip_keeps_every_bit_and_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let (head, path) = saved(dir.path());
    let back = Head::load(&path, &Device::Cpu).unwrap();
    assert_eq!(back.config(), head.config());
    assert_eq!(back.input_dim(), 4);
    let (a, b) = (flat(&head), flat(&back));
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let x = separable(10, 4, 1);
    assert_eq!(
        head.predict_proba(x.features()).unwrap(),
        back.predict_proba(x.features()).unwrap()
    );
    let again = Head::load_expecting(&path, &small(), 4, &Device::Cpu).unwrap();
    assert_eq!(flat(&again), a);
    // No temporary file is left beside the checkpoint.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_same_head_gives_the_same_bytes_with_sorted_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (head, path) = saved(dir.path());
    let again = dir.path().join("again.safetensors");
    head.save(&again).unwrap();
    let (a, b) = (
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap(),
    );
    assert_eq!(a, b);
    // The header is JSON; its metadata comes first, keys in sorted order.
    let n = u64::from_le_bytes(a[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&a[8..8 + n]).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(header).unwrap();
    assert_eq!(parsed["__metadata__"]["format"], "mias-train-head/1");
    let at = |k: &str| header.find(&format!("\"{k}\":")).unwrap();
    let keys = ["__metadata__", "format", "input_dim", META_CONFIG];
    let positions = keys.map(at);
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{header}");
}

#[test]
fn a_different_config_is_named_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved(dir.path());
    let other = TrainConfig {
        learning_rate: 1e-3,
        seed: 5,
        ..small()
    };
    let err = Head::load_expecting(&path, &other, 4, &Device::Cpu).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::ConfigMismatch { .. }), "{msg}");
    assert!(
        msg.contains("learning_rate: 5e-5 vs 0.001")
            || msg.contains("learning_rate: 0.00005 vs 0.001"),
        "{msg}"
    );
    assert!(msg.contains("seed: 4 vs 5"), "{msg}");
    let err = Head::load_expecting(&path, &small(), 8, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("input_dim: 4 vs 8"), "{err}");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved(dir.path());
    rewrite(&path, |t, _| {
        t.remove("dense_2.bias");
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, Error::MissingKey { key, .. } if key == "dense_2.bias"),
        "{err}"
    );
    assert!(
        err.to_string().contains("missing tensor `dense_2.bias`"),
        "{err}"
    );
}

#[test]
fn a_misshaped_tensor_is_named_with_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved(dir.path());
    rewrite(&path, |t, _| {
        let e = t.get_mut("dense_1.kernel").unwrap();
        // [6, 5] stored as [5, 6]: same bytes, other shape.
        e.1 = vec![5, 6];
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `dense_1.kernel` has shape [5, 6], expected [6, 5]",
            path.display()
        )
    );
}

#[test]
fn wrong_dtype_extra_tensor_and_bad_metadata_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = saved(dir.path());
    rewrite(&path, |t, _| {
        let e = t.get_mut("dense_0.bias").unwrap();
        e.0 = Dtype::F16;
        e.2.truncate(e.2.len() / 2);
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, Error::DTypeMismatch { key, .. } if key == "dense_0.bias"),
        "{err}"
    );

    let (_, path) = saved(dir.path());
    rewrite(&path, |t, _| {
        t.insert(
            "classifier.weight".into(),
            (Dtype::F32, vec![1], vec![0; 4]),
        );
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedKey { key, .. } if key == "classifier.weight"),
        "{err}"
    );

    let (_, path) = saved(dir.path());
    rewrite(&path, |_, m| {
        m.insert(
            META_CONFIG.into(),
            r#"{"hidden": [6, 5, 3], "colour": 1}"#.into(),
        );
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, Error::BadMetadata { key, .. } if *key == META_CONFIG),
        "{err}"
    );
    assert!(err.to_string().contains("colour"), "{err}");

    let (_, path) = saved(dir.path());
    rewrite(&path, |_, m| {
        m.clear();
    });
    let err = Head::load(&path, &Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("metadata `format`: absent"),
        "{err}"
    );

    std::fs::write(&path, b"not a checkpoint").unwrap();
    assert!(matches!(
        Head::load(&path, &Device::Cpu),
        Err(Error::Safetensors { .. })
    ));
    let gone = dir.path().join("absent.safetensors");
    assert!(matches!(
        Head::load(&gone, &Device::Cpu),
        Err(Error::Io { .. })
    ));
}
