//! The feature cache: the backbones are frozen, so each view of each image goes through each
//! backbone once, ever; every protocol, fold and epoch reads the stored vector.
//!
//! An entry is keyed by everything its value depends on: backbone, weights checksum, flavor,
//! preprocessing, augmentation settings and seed (together a [`CacheKey`], hashed into the
//! entry's directory name, with the key written beside the entries as `key.json`), then image
//! and view. Each entry is a small safetensors file written through a temporary file and a
//! rename, so an interrupted run leaves either a whole entry or none, and a rerun continues
//! where it stopped. An entry that does not read back as what its name promises (truncated,
//! damaged, or another entry's bytes) is a miss: a warning names its file, the vector is
//! computed again and the entry replaced atomically, and the run carries on. Only a file that
//! cannot be read at all (permissions, I/O) stops the run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mias_backbones::{BackboneKind, Flavor};
use std::sync::Arc;

use mias_data::augment::Augment;
use mias_data::preprocess::Preprocess;
use mias_data::{Dataset, ImageId};
use serde::Serialize;

use crate::runner::Pooling;
use sha2::{Digest, Sha256};

/// The version of the code that computes cached values (the kernels of mias-backbones, the
/// preprocessing, the working frame): part of every key, so that values an older build
/// computed are never read as this build's. Bump it with any change that alters a cached bit.
/// Keys written before the number existed are version 1.
pub const CODE_VERSION: u32 = 2;

/// Everything a cached vector depends on, besides the image and the view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheKey {
    /// The backbone (written by name, e.g. `vgg16`).
    #[serde(with = "crate::by_name")]
    pub backbone: BackboneKind,
    /// SHA-256 of the weights file.
    pub weights_sha256: String,
    /// Forward configuration (written by name, `timm` or `keras`).
    #[serde(with = "crate::by_name")]
    pub flavor: Flavor,
    /// [`CODE_VERSION`] of the build that computed the values.
    pub code: u32,
    /// The arithmetic of the backbone's dense convolutions (`f32`, `bf16`).
    pub precision: String,
    /// How a collection's files become working images ([`mias_data::Dataset::working_frame`]);
    /// absent for Mini-MIAS, whose files are the working images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
    /// What the values are.
    pub content: Content,
}

/// What a key's entries hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// The paper method's features of a view of a film: the view drawn from `augment` and
    /// `seed` (view 0 is the film), resized and normalised by `preprocess`, the last map
    /// pooled by `pooling`.
    Features {
        /// Resize and normalisation.
        preprocess: Preprocess,
        /// Augmentation ranges (views > 0 depend on them).
        augment: Augment,
        /// Seed of the augmentation draws.
        seed: u64,
        /// Pooling of the last feature map.
        pooling: Pooling,
    },
    /// A whole dense map `[C, g, g]` of a film at one layer, the film resized and normalised
    /// by `preprocess`; views as `views` says (the lesion method: the film and its mirror).
    DenseMap {
        /// Resize (the map's input side) and normalisation.
        preprocess: Preprocess,
        /// The backbone layer (`last`, `previous_stage`).
        layer: String,
        /// What each view number means.
        views: String,
    },
}

impl CacheKey {
    /// A short stable identifier: the first 16 hex digits of the SHA-256 of the key's JSON.
    pub fn id(&self) -> anyhow::Result<String> {
        let json = serde_json::to_vec(self).context("writing a feature-cache key as JSON")?;
        Ok(hex::encode(&Sha256::digest(&json)[..8]))
    }
}

/// A directory of cached feature vectors.
#[derive(Clone, Debug)]
pub struct FeatureCache {
    root: PathBuf,
    /// Entry names of a collection's images ([`mias_data::Dataset::cache_name`]); Mini-MIAS's
    /// entries are named by the id (`mdb001`).
    names: Option<Arc<BTreeMap<ImageId, String>>>,
}

/// Whether this process has said that older builds' keys are not reused (said once).
static OLDER_NOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tensor name of the vector inside an entry.
const TENSOR: &str = "features";

/// What the cache holds for one item.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// The stored vector.
    Present(Vec<f32>),
    /// Nothing stored.
    Absent,
    /// A file that is not what its name promises, and why.
    Damaged(String),
}

/// What [`FeatureCache::get_or_compute`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    /// One vector per item, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Items computed (absent or damaged).
    pub computed: usize,
    /// Of those, items whose entry was damaged and has been replaced.
    pub replaced: usize,
}

impl FeatureCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FeatureCache {
            root: root.into(),
            names: None,
        }
    }

    /// This cache with its entries named as `dataset` names its images (a collection's by
    /// position and file; Mini-MIAS's by id, as [`FeatureCache::new`] does).
    pub fn for_dataset(self, dataset: &Dataset) -> Self {
        let names = (!dataset.is_mini_mias()).then(|| {
            Arc::new(
                dataset
                    .records()
                    .iter()
                    .map(|r| (r.id, dataset.cache_name(r.id)))
                    .collect(),
            )
        });
        FeatureCache { names, ..self }
    }

    /// The name of `image`'s entries.
    fn name(&self, image: ImageId) -> String {
        self.names
            .as_ref()
            .and_then(|n| n.get(&image).cloned())
            .unwrap_or_else(|| mias_data::info::mdb_name(image))
    }

    /// The directory holding one key's entries.
    pub fn dir(&self, key: &CacheKey) -> anyhow::Result<PathBuf> {
        Ok(self.root.join(format!("{}-{}", key.backbone, key.id()?)))
    }

    /// The file of one entry.
    pub fn entry_path(&self, key: &CacheKey, image: ImageId, view: u32) -> anyhow::Result<PathBuf> {
        Ok(self
            .dir(key)?
            .join(format!("{}.v{view}.safetensors", self.name(image))))
    }

    /// Key directories of `key`'s backbone and weights that an older build wrote (a
    /// `key.json` with a smaller `code`, or none): their values are not reused.
    fn older_keys(&self, key: &CacheKey) -> Vec<PathBuf> {
        let Ok(dirs) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let prefix = format!("{}-", key.backbone);
        dirs.filter_map(Result::ok)
            .map(|d| d.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .filter(|p| {
                let Ok(bytes) = fs::read(p.join("key.json")) else {
                    return false;
                };
                let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    return false;
                };
                json["weights_sha256"] == key.weights_sha256.as_str()
                    && json["code"].as_u64().unwrap_or(1) < u64::from(CODE_VERSION)
            })
            .collect()
    }

    /// What the cache holds for one item. A file that cannot be read is an error naming it;
    /// one that reads but is not a whole entry of this key, image, view and length is
    /// [`Entry::Damaged`].
    pub fn get(
        &self,
        key: &CacheKey,
        image: ImageId,
        view: u32,
        dim: usize,
    ) -> anyhow::Result<Entry> {
        let path = self.entry_path(key, image, view)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entry::Absent),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(
            match decode(&bytes, &key.id()?, &self.name(image), view, dim) {
                Ok(values) => Entry::Present(values),
                Err(reason) => Entry::Damaged(reason),
            },
        )
    }

    /// Stores one vector atomically.
    pub fn put(
        &self,
        key: &CacheKey,
        image: ImageId,
        view: u32,
        values: &[f32],
    ) -> anyhow::Result<()> {
        let dir = self.dir(key)?;
        if !dir.join("key.json").is_file() {
            let older = self.older_keys(key);
            if !older.is_empty() && !OLDER_NOTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!(
                    "note: the feature cache {} holds {} key director{} of {} computed by an \
                     older build (code version < {CODE_VERSION}, e.g. {}); they are not reused, \
                     the values are computed anew (remove them to reclaim the space)",
                    self.root.display(),
                    older.len(),
                    if older.len() == 1 { "y" } else { "ies" },
                    key.backbone,
                    older[0].display()
                );
            }
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
            ("key".to_string(), key.id()?),
            ("image".to_string(), self.name(image)),
            ("view".to_string(), view.to_string()),
        ]);
        let encoded = mias_core::safetensors::serialize([(TENSOR, view_t)], &metadata)
            .context("encoding a cache entry")?;
        Ok(mias_core::fs::write_atomic(
            &self.entry_path(key, image, view)?,
            &encoded,
        )?)
    }

    /// The vectors of `items` (image, view) in order: read from the cache where present, the
    /// rest computed by `compute` in batches of at most `batch` and stored as they come. A
    /// damaged entry is named once in a warning on stderr, computed again and replaced.
    pub fn get_or_compute(
        &self,
        key: &CacheKey,
        items: &[(ImageId, u32)],
        dim: usize,
        batch: usize,
        mut compute: impl FnMut(&[(ImageId, u32)]) -> anyhow::Result<Vec<Vec<f32>>>,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<Fetched> {
        if batch == 0 {
            bail!("batch size 0");
        }
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(items.len());
        let mut missing = Vec::new();
        let mut replaced = 0;
        for (i, &(image, view)) in items.iter().enumerate() {
            match self.get(key, image, view, dim)? {
                Entry::Present(values) => {
                    progress(1);
                    out.push(Some(values));
                    continue;
                }
                Entry::Absent => {}
                Entry::Damaged(reason) => {
                    eprintln!(
                        "warning: damaged feature cache entry {} ({reason}): computing it again \
                         and replacing it",
                        self.entry_path(key, image, view)?.display()
                    );
                    replaced += 1;
                }
            }
            missing.push(i);
            out.push(None);
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
                crate::fault::point("cache-entry");
                out[i] = Some(v);
            }
            progress(chunk.len());
        }
        Ok(Fetched {
            vectors: out
                .into_iter()
                .map(|v| v.context("a cache item was neither read nor computed"))
                .collect::<anyhow::Result<_>>()?,
            computed: missing.len(),
            replaced,
        })
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The vector of an entry's bytes, or why they are not a whole entry of key `key_id`, image
/// entry name `image`,
/// `view` and length `dim`.
fn decode(
    bytes: &[u8],
    key_id: &str,
    image: &str,
    view: u32,
    dim: usize,
) -> Result<Vec<f32>, String> {
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a readable safetensors file: {e}"))?;
    let view_t = tensors
        .tensor(TENSOR)
        .map_err(|_| format!("no `{TENSOR}` tensor"))?;
    if view_t.dtype() != safetensors::Dtype::F32 || view_t.shape() != [dim] {
        return Err(format!(
            "expected f32 [{dim}], found {:?} {:?}",
            view_t.dtype(),
            view_t.shape()
        ));
    }
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("unreadable header: {e}"))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    let want = [
        ("key", key_id.to_string()),
        ("image", image.to_string()),
        ("view", view.to_string()),
    ];
    for (k, v) in want {
        if meta.get(k) != Some(&v) {
            return Err(format!(
                "header says {k} = {:?}, expected {v:?}",
                meta.get(k)
            ));
        }
    }
    Ok(view_t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mias_data::preprocess::Normalisation;

    fn key(seed: u64) -> CacheKey {
        CacheKey {
            backbone: BackboneKind::Vgg16,
            weights_sha256: "ab".repeat(32),
            flavor: Flavor::Keras,
            code: CODE_VERSION,
            precision: "f32".into(),
            frame: None,
            content: Content::Features {
                preprocess: Preprocess::new(224, Normalisation::Caffe),
                augment: Augment::paper(),
                seed,
                pooling: Pooling::Avg,
            },
        }
    }

    fn id(n: u16) -> ImageId {
        mias_data::info::mdb(n).unwrap()
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
                fs::read(cache.entry_path(&key(1), id(7), 3).unwrap()).unwrap()
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
                .map(|(i, v)| vec![i.ordinal() as f32, *v as f32, 0.5])
                .collect())
        };
        let first = cache
            .get_or_compute(&key(1), &items, 3, 2, fake, |_| {})
            .unwrap();
        assert_eq!((first.computed, first.replaced), (3, 0));
        assert_eq!(first.vectors[1], [1.0, 1.0, 0.5]);
        let never = |_: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            panic!("the cache should have answered")
        };
        let second = cache
            .get_or_compute(&key(1), &items, 3, 2, never, |_| {})
            .unwrap();
        assert_eq!((second.vectors, second.computed), (first.vectors, 0));
        // Another seed is another key: nothing shared.
        assert_ne!(key(1).id().unwrap(), key(2).id().unwrap());
        assert_eq!(cache.get(&key(2), id(1), 0, 3).unwrap(), Entry::Absent);
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
                .map(|(i, _)| vec![i.ordinal() as f32])
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
                .map(|(i, _)| vec![i.ordinal() as f32])
                .collect())
        };
        let got = cache
            .get_or_compute(&key(1), &items, 1, 2, resume, |_| {})
            .unwrap();
        assert_eq!(got.computed, 3);
        assert_eq!(asked, items[2..]);
        assert_eq!(got.vectors, [[1.0], [2.0], [3.0], [4.0], [5.0]]);
    }

    /// A damaged entry reads as [`Entry::Damaged`] with the reason.
    fn damaged(cache: &FeatureCache, n: u16, dim: usize) -> String {
        match cache.get(&key(1), id(n), 0, dim).unwrap() {
            Entry::Damaged(reason) => reason,
            other => panic!("mdb{n:03}: expected a damaged entry, got {other:?}"),
        }
    }

    #[test]
    fn damaged_entries_are_misses_that_are_computed_again_and_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path());
        let items: Vec<(ImageId, u32)> = (1..=4).map(|n| (id(n), 0)).collect();
        let value = |i: ImageId| vec![i.ordinal() as f32, -1.0];
        let compute = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            Ok(wanted.iter().map(|&(i, _)| value(i)).collect())
        };
        cache
            .get_or_compute(&key(1), &items, 2, 8, compute, |_| {})
            .unwrap();
        // mdb001 truncated, mdb002 of another length, mdb003 a copy of mdb004's entry.
        let path = |n| cache.entry_path(&key(1), id(n), 0).unwrap();
        let bytes = fs::read(path(1)).unwrap();
        fs::write(path(1), &bytes[..bytes.len() - 3]).unwrap();
        cache.put(&key(1), id(2), 0, &[1.0, 2.0, 3.0]).unwrap();
        fs::copy(path(4), path(3)).unwrap();
        assert!(damaged(&cache, 1, 2).contains("not a readable safetensors file"));
        assert!(damaged(&cache, 2, 2).contains("expected f32 [2]"));
        assert!(damaged(&cache, 3, 2).contains("image"));

        let mut asked = Vec::new();
        let recompute = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            asked.extend_from_slice(wanted);
            Ok(wanted.iter().map(|&(i, _)| value(i)).collect())
        };
        let got = cache
            .get_or_compute(&key(1), &items, 2, 8, recompute, |_| {})
            .unwrap();
        assert_eq!(asked, items[..3]);
        assert_eq!((got.computed, got.replaced), (3, 3));
        let expected: Vec<Vec<f32>> = items.iter().map(|&(i, _)| value(i)).collect();
        assert_eq!(got.vectors, expected);
        // Replaced in place: whole entries again, and no temporary files left behind.
        for n in 1..=4 {
            let entry = cache.get(&key(1), id(n), 0, 2).unwrap();
            assert_eq!(entry, Entry::Present(value(id(n))), "mdb{n:03}");
        }
        let names: Vec<String> = fs::read_dir(cache.dir(&key(1)).unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".safetensors") || n == "key.json"),
            "{names:?}"
        );
        assert_eq!(names.len(), 5, "{names:?}");
    }

    #[test]
    fn an_entry_that_cannot_be_read_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path());
        // A directory where the file should be: not a damaged entry, an I/O error.
        fs::create_dir_all(cache.entry_path(&key(1), id(1), 0).unwrap()).unwrap();
        let err = cache.get(&key(1), id(1), 0, 2).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("mdb001.v0.safetensors"), "{msg}");
        let never = |_: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            panic!("an unreadable entry must stop the run, not be recomputed")
        };
        assert!(
            cache
                .get_or_compute(&key(1), &[(id(1), 0)], 2, 8, never, |_| {})
                .is_err()
        );
    }
}
