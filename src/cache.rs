//! The feature cache: the backbones are frozen, so each view of each image goes through each
//! backbone once, ever; every protocol, fold and epoch reads the stored vector.
//!
//! An entry is keyed by everything its value depends on: backbone, weights checksum, flavor,
//! preprocessing, augmentation settings and seed (together a [`CacheKey`], hashed into the
//! entry's directory name, with the key written beside the entries as `key.json`), then image
//! and view. Each entry is a small safetensors file written through a temporary file and a
//! rename, so an interrupted run leaves either a whole entry or none, and a rerun continues
//! where it stopped. An entry that does not read back as what its name promises is reported,
//! never silently recomputed over.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mias_data::ImageId;
use mias_data::augment::Augment;
use mias_data::preprocess::Preprocess;
use serde::Serialize;

use crate::config::Pooling;
use sha2::{Digest, Sha256};

/// Everything a cached feature vector depends on, besides the image and the view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheKey {
    /// Backbone name, e.g. `vgg16`.
    pub backbone: String,
    /// SHA-256 of the weights file.
    pub weights_sha256: String,
    /// Forward configuration (`timm` or `keras`).
    pub flavor: String,
    /// Resize and normalisation.
    pub preprocess: Preprocess,
    /// Augmentation ranges (views > 0 depend on them).
    pub augment: Augment,
    /// Seed of the augmentation draws.
    pub seed: u64,
    /// Pooling of the last feature map (left out of the key's JSON when `avg`, so keys made
    /// before the option existed still match).
    #[serde(skip_serializing_if = "Pooling::is_avg")]
    pub pooling: Pooling,
}

impl CacheKey {
    /// A short stable identifier: the first 16 hex digits of the SHA-256 of the key's JSON.
    pub fn id(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&Sha256::digest(&json)[..8])
    }
}

/// A directory of cached feature vectors.
#[derive(Clone, Debug)]
pub struct FeatureCache {
    root: PathBuf,
}

/// Tensor name of the vector inside an entry.
const TENSOR: &str = "features";

impl FeatureCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FeatureCache { root: root.into() }
    }

    /// The directory holding one key's entries.
    pub fn dir(&self, key: &CacheKey) -> PathBuf {
        self.root.join(format!("{}-{}", key.backbone, key.id()))
    }

    /// The file of one entry.
    pub fn entry_path(&self, key: &CacheKey, image: ImageId, view: u32) -> PathBuf {
        self.dir(key).join(format!("{image}.v{view}.safetensors"))
    }

    /// The stored vector, if any. A present but unreadable or inconsistent entry is an error
    /// naming the file.
    pub fn get(
        &self,
        key: &CacheKey,
        image: ImageId,
        view: u32,
        dim: usize,
    ) -> anyhow::Result<Option<Vec<f32>>> {
        let path = self.entry_path(key, image, view);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let corrupt = |reason: String| {
            anyhow::anyhow!(
                "corrupt feature cache entry {}: {reason}; delete it (or {}) to recompute",
                path.display(),
                self.dir(key).display()
            )
        };
        let tensors = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| corrupt(format!("not a readable safetensors file ({e})")))?;
        let view_t = tensors
            .tensor(TENSOR)
            .map_err(|_| corrupt(format!("no `{TENSOR}` tensor")))?;
        if view_t.dtype() != safetensors::Dtype::F32 || view_t.shape() != [dim] {
            return Err(corrupt(format!(
                "expected f32 [{dim}], found {:?} {:?}",
                view_t.dtype(),
                view_t.shape()
            )));
        }
        let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| corrupt(format!("unreadable header ({e})")))?;
        let meta = metadata.metadata().clone().unwrap_or_default();
        let want = [
            ("key", key.id()),
            ("image", image.to_string()),
            ("view", view.to_string()),
        ];
        for (k, v) in want {
            if meta.get(k) != Some(&v) {
                return Err(corrupt(format!(
                    "header says {k} = {:?}, expected {v:?}",
                    meta.get(k)
                )));
            }
        }
        let values = view_t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Some(values))
    }

    /// Stores one vector atomically.
    pub fn put(
        &self,
        key: &CacheKey,
        image: ImageId,
        view: u32,
        values: &[f32],
    ) -> anyhow::Result<()> {
        let dir = self.dir(key);
        if !dir.join("key.json").is_file() {
            mias_core::fs::write_atomic(&dir.join("key.json"), &serde_json::to_vec_pretty(key)?)?;
        }
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view_t = safetensors::tensor::TensorView::new(
            safetensors::Dtype::F32,
            vec![values.len()],
            &bytes,
        )
        .context("building a cache entry")?;
        let metadata = BTreeMap::from([
            ("key".to_string(), key.id()),
            ("image".to_string(), image.to_string()),
            ("view".to_string(), view.to_string()),
        ]);
        let encoded = mias_core::safetensors::serialize([(TENSOR, view_t)], &metadata)
            .context("encoding a cache entry")?;
        Ok(mias_core::fs::write_atomic(
            &self.entry_path(key, image, view),
            &encoded,
        )?)
    }

    /// The vectors of `items` (image, view) in order: read from the cache where present, the
    /// rest computed by `compute` in batches of at most `batch` and stored as they come.
    /// Returns the vectors and how many were computed.
    pub fn get_or_compute(
        &self,
        key: &CacheKey,
        items: &[(ImageId, u32)],
        dim: usize,
        batch: usize,
        mut compute: impl FnMut(&[(ImageId, u32)]) -> anyhow::Result<Vec<Vec<f32>>>,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<(Vec<Vec<f32>>, usize)> {
        if batch == 0 {
            bail!("batch size 0");
        }
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(items.len());
        let mut missing = Vec::new();
        for (i, &(image, view)) in items.iter().enumerate() {
            let got = self.get(key, image, view, dim)?;
            if got.is_none() {
                missing.push(i);
            } else {
                progress(1);
            }
            out.push(got);
        }
        for chunk in missing.chunks(batch) {
            let wanted: Vec<(ImageId, u32)> = chunk.iter().map(|&i| items[i]).collect();
            let vectors = compute(&wanted)?;
            if vectors.len() != wanted.len() || vectors.iter().any(|v| v.len() != dim) {
                bail!(
                    "the backbone returned {} vectors for {} inputs (expected length {dim})",
                    vectors.len(),
                    wanted.len()
                );
            }
            for (&i, v) in chunk.iter().zip(vectors) {
                let (image, view) = items[i];
                self.put(key, image, view, &v)?;
                out[i] = Some(v);
            }
            progress(chunk.len());
        }
        let computed = missing.len();
        Ok((
            out.into_iter().map(Option::unwrap_or_default).collect(),
            computed,
        ))
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mias_data::preprocess::Normalisation;

    fn key(seed: u64) -> CacheKey {
        CacheKey {
            backbone: "vgg16".into(),
            weights_sha256: "ab".repeat(32),
            flavor: "keras".into(),
            preprocess: Preprocess::new(224, Normalisation::Caffe),
            augment: Augment::paper(),
            seed,
            pooling: Pooling::Avg,
        }
    }

    fn id(n: u16) -> ImageId {
        ImageId::new(n).unwrap()
    }

    #[test]
    fn an_entry_s_bytes_depend_only_on_its_content() {
        // Two caches, the same entry: the same bytes, metadata keys in sorted order.
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let bytes: Vec<Vec<u8>> = [a.path(), b.path()]
            .into_iter()
            .map(|root| {
                let cache = FeatureCache::new(root);
                cache.put(&key(1), id(7), 3, &[0.5, -1.0]).unwrap();
                fs::read(cache.entry_path(&key(1), id(7), 3)).unwrap()
            })
            .collect();
        assert_eq!(bytes[0], bytes[1]);
        let n = u64::from_le_bytes(bytes[0][..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[0][8..8 + n]).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(header).unwrap();
        assert_eq!(parsed["__metadata__"]["view"], "3");
        let at = |k: &str| header.find(&format!("\"{k}\":")).unwrap();
        let positions = ["image", "key", "view"].map(at);
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{header}");
    }

    #[test]
    fn second_pass_computes_nothing_and_returns_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path());
        let items = [(id(1), 0), (id(1), 1), (id(2), 0)];
        let fake = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            Ok(wanted
                .iter()
                .map(|(i, v)| vec![f32::from(i.number()), *v as f32, 0.5])
                .collect())
        };
        let (first, computed) = cache
            .get_or_compute(&key(1), &items, 3, 2, fake, |_| {})
            .unwrap();
        assert_eq!(computed, 3);
        assert_eq!(first[1], [1.0, 1.0, 0.5]);
        let never = |_: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            panic!("the cache should have answered")
        };
        let (second, computed) = cache
            .get_or_compute(&key(1), &items, 3, 2, never, |_| {})
            .unwrap();
        assert_eq!((second, computed), (first, 0));
        // Another seed is another key: nothing shared.
        assert_ne!(key(1).id(), key(2).id());
        assert_eq!(cache.get(&key(2), id(1), 0, 3).unwrap(), None);
    }

    #[test]
    fn an_interrupted_extraction_resumes_with_the_missing_items_only() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path());
        let items: Vec<(ImageId, u32)> = (1..=5).map(|n| (id(n), 0)).collect();
        // The first run dies after its first batch of two.
        let mut batches = 0;
        let dying = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            batches += 1;
            if batches > 1 {
                anyhow::bail!("interrupted");
            }
            Ok(wanted
                .iter()
                .map(|(i, _)| vec![f32::from(i.number())])
                .collect())
        };
        assert!(
            cache
                .get_or_compute(&key(1), &items, 1, 2, dying, |_| {})
                .is_err()
        );
        let mut asked = Vec::new();
        let resume = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            asked.extend_from_slice(wanted);
            Ok(wanted
                .iter()
                .map(|(i, _)| vec![f32::from(i.number())])
                .collect())
        };
        let (got, computed) = cache
            .get_or_compute(&key(1), &items, 1, 2, resume, |_| {})
            .unwrap();
        assert_eq!(computed, 3);
        assert_eq!(asked, items[2..]);
        assert_eq!(got, [[1.0], [2.0], [3.0], [4.0], [5.0]]);
    }

    #[test]
    fn corrupt_or_foreign_entries_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path());
        cache.put(&key(1), id(1), 0, &[1.0, 2.0]).unwrap();
        let path = cache.entry_path(&key(1), id(1), 0);
        let err = cache.get(&key(1), id(1), 0, 3).unwrap_err().to_string();
        assert!(
            err.contains("expected f32 [3]") && err.contains("mdb001.v0"),
            "{err}"
        );
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = cache.get(&key(1), id(1), 0, 2).unwrap_err().to_string();
        assert!(
            err.contains("corrupt feature cache entry") && err.contains("delete it"),
            "{err}"
        );
        // An entry copied under another name is caught by its header.
        cache.put(&key(1), id(2), 0, &[1.0, 2.0]).unwrap();
        fs::copy(cache.entry_path(&key(1), id(2), 0), &path).unwrap();
        let err = cache.get(&key(1), id(1), 0, 2).unwrap_err().to_string();
        assert!(err.contains("image"), "{err}");
        // No temporary files are left behind.
        let names: Vec<String> = fs::read_dir(cache.dir(&key(1)))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".safetensors") || n == "key.json"),
            "{names:?}"
        );
    }
}
