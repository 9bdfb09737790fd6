//! Weight sources and weight files: where a backbone's weights come from (a local file, the
//! Hugging Face Hub, a sha256-pinned URL), the provenance recorded for them, and a checked
//! safetensors reader whose errors name the file, the key and the expected and actual shapes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::VarBuilder;
use candle_nn::var_builder::SimpleBackend;
use sha2::{Digest, Sha256};

use crate::backbone::BackboneKind;
use crate::error::{Error, Result};

/// The Hub files of the timm ports, pinned to the commit that added (or last changed) the weights.
/// Xception has no Hub repo: see [`XCEPTION_URL`].
pub const HUB_WEIGHTS: [(BackboneKind, &str, &str, &str); 3] = [
    (
        BackboneKind::Vgg16,
        "timm/vgg16.tv_in1k",
        "3394518cba29aee1ea82a49d971be90d2dd1dab7",
        "model.safetensors",
    ),
    (
        BackboneKind::MobileNetV2,
        "timm/mobilenetv2_100.ra_in1k",
        "f3ff81ba89de0bc46b546568ebeab2edef6b9d49",
        "model.safetensors",
    ),
    (
        BackboneKind::NasNetLarge,
        "timm/nasnetalarge.tf_in1k",
        "2188423afb58a54ecc6eb20e22179f24bfb92275",
        "model.safetensors",
    ),
];

/// timm's `legacy_xception.tf_in1k` weights (Cadene's port of the Keras Xception), a PyTorch
/// pickle in a GitHub release of timm.
pub const XCEPTION_URL: &str = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/xception-43020ad28.pth";

/// The pinned digest of [`XCEPTION_URL`]: the sha256 prefix that the file name carries (the
/// torch.hub convention; the full digest is recorded in the provenance once downloaded).
pub const XCEPTION_SHA256_PREFIX: &str = "43020ad28";

/// Where a backbone's weights come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsSource {
    /// A local safetensors file with timm key names.
    File(PathBuf),
    /// A file of a Hugging Face Hub model repo at a revision, through hf-hub's cache.
    Hub {
        /// Repo id, e.g. `timm/vgg16.tv_in1k`.
        repo: String,
        /// Branch, tag or commit.
        revision: String,
        /// File in the repo, e.g. `model.safetensors`.
        file: String,
    },
    /// A PyTorch `.pth` (zip format) at a URL, sha256-pinned, converted once into the cache as
    /// safetensors.
    Url {
        /// Where to download it.
        url: String,
        /// The expected sha256 (lowercase hex) or a prefix of it (at least 8 digits).
        sha256: String,
        /// The cache file name of the download (the converted file replaces the extension by
        /// `.safetensors`).
        file_name: String,
    },
}

/// Where a loaded backbone's weights came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The safetensors file that was read.
    pub path: PathBuf,
    /// Its sha256, lowercase hex.
    pub sha256: String,
    /// The source as given (file path, Hub repo@revision/file or URL with its digest).
    pub source: String,
}

/// Where downloads are cached and whether the network may be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOptions {
    /// hf-hub's cache (the `hub` folder of the Hugging Face cache).
    pub hub_cache: PathBuf,
    /// The cache of URL downloads and their safetensors conversions.
    pub url_cache: PathBuf,
    /// Never touch the network: resolve from the caches only.
    pub offline: bool,
}

impl FetchOptions {
    /// From the environment: `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`;
    /// `MIAS_CACHE_DIR/weights`, else `~/.cache/mias/weights`; offline when `HF_HUB_OFFLINE` or
    /// `MIAS_OFFLINE` is `1` or `true`.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home_cache = var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"));
        let hub_cache = var("HF_HUB_CACHE")
            .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
            .unwrap_or_else(|| home_cache.join("huggingface").join("hub"));
        let url_cache = var("MIAS_CACHE_DIR")
            .map(|d| d.join("weights"))
            .unwrap_or_else(|| home_cache.join("mias").join("weights"));
        let flag = |k: &str| {
            std::env::var(k)
                .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
                .unwrap_or(false)
        };
        Self {
            hub_cache,
            url_cache,
            offline: flag("HF_HUB_OFFLINE") || flag("MIAS_OFFLINE"),
        }
    }
}

impl WeightsSource {
    /// The pinned public source of `kind`'s timm weights: the Hub for VGG16, MobileNetV2 and
    /// NASNetLarge, timm's GitHub release for Xception.
    pub fn pinned(kind: BackboneKind) -> Self {
        match HUB_WEIGHTS.iter().find(|(k, ..)| *k == kind) {
            Some((_, repo, revision, file)) => WeightsSource::Hub {
                repo: repo.to_string(),
                revision: revision.to_string(),
                file: file.to_string(),
            },
            None => WeightsSource::Url {
                url: XCEPTION_URL.to_string(),
                sha256: XCEPTION_SHA256_PREFIX.to_string(),
                file_name: "xception-43020ad28.pth".to_string(),
            },
        }
    }

    /// A short description for messages and provenance records.
    pub fn describe(&self) -> String {
        match self {
            WeightsSource::File(path) => format!("file {}", path.display()),
            WeightsSource::Hub {
                repo,
                revision,
                file,
            } => format!("hf://{repo}@{revision}/{file}"),
            WeightsSource::Url { url, sha256, .. } => format!("{url} (sha256 {sha256})"),
        }
    }

    /// Finds (and, unless offline, fetches) the weight file with the options of
    /// [`FetchOptions::from_env`], and records its provenance.
    pub fn resolve(&self, kind: BackboneKind) -> Result<Provenance> {
        self.resolve_with(kind, &FetchOptions::from_env())
    }

    /// As [`WeightsSource::resolve`] with explicit cache locations and network policy.
    pub fn resolve_with(&self, kind: BackboneKind, opts: &FetchOptions) -> Result<Provenance> {
        let path = match self {
            WeightsSource::File(path) => {
                if !path.is_file() {
                    return Err(Error::WeightsUnavailable {
                        what: format!("{kind} at {}", path.display()),
                        reason: "no such file".into(),
                        hint: hint(kind),
                    });
                }
                path.clone()
            }
            WeightsSource::Hub {
                repo,
                revision,
                file,
            } => resolve_hub(kind, repo, revision, file, opts)?,
            WeightsSource::Url {
                url,
                sha256,
                file_name,
            } => resolve_url(kind, url, sha256, file_name, opts)?,
        };
        let sha256 = sha256_file(&path)?;
        Ok(Provenance {
            path,
            sha256,
            source: self.describe(),
        })
    }
}

fn hint(kind: BackboneKind) -> String {
    let public = WeightsSource::pinned(kind).describe();
    format!(
        "Provide a safetensors file with timm key names via --weights FILE (WeightsSource::File), \
         or run once with network access to fill the cache from {public}"
    )
}

/// The path of `file` at `revision` in hf-hub's cache layout
/// (`models--{owner}--{name}/refs/{revision}` holds the commit,
/// `models--{owner}--{name}/snapshots/{commit}/{file}` the file), if it is there.
fn hub_cached(hub_cache: &Path, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
    let folder = hub_cache.join(format!("models--{}", repo.replace('/', "--")));
    let commit = std::fs::read_to_string(folder.join("refs").join(revision)).ok()?;
    let path = folder.join("snapshots").join(commit.trim()).join(file);
    path.is_file().then_some(path)
}

fn resolve_hub(
    kind: BackboneKind,
    repo: &str,
    revision: &str,
    file: &str,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    let what = format!("{kind} from hf://{repo}@{revision}/{file}");
    if let Some(path) = hub_cached(&opts.hub_cache, repo, revision, file) {
        return Ok(path);
    }
    if opts.offline {
        return Err(Error::WeightsUnavailable {
            what,
            reason: format!(
                "offline (HF_HUB_OFFLINE/MIAS_OFFLINE) and not in the Hugging Face cache {}",
                opts.hub_cache.display()
            ),
            hint: hint(kind),
        });
    }
    hub_download(kind, what, repo, revision, file, opts)
}

#[cfg(feature = "hub")]
fn hub_download(
    kind: BackboneKind,
    what: String,
    repo: &str,
    revision: &str,
    file: &str,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    use hf_hub::{Repo, RepoType};
    let unavailable = |reason: String| Error::WeightsUnavailable {
        what: what.clone(),
        reason,
        hint: hint(kind),
    };
    let hf_repo = Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string());
    let api = hf_hub::api::sync::ApiBuilder::new()
        .with_cache_dir(opts.hub_cache.clone())
        .with_progress(false)
        .build()
        .map_err(|e| unavailable(format!("cannot start the Hub client: {e}")))?;
    api.repo(hf_repo).get(file).map_err(|e| {
        unavailable(format!(
            "not in the Hugging Face cache {} and the download failed: {e}",
            opts.hub_cache.display()
        ))
    })
}

#[cfg(not(feature = "hub"))]
fn hub_download(
    kind: BackboneKind,
    what: String,
    _repo: &str,
    _revision: &str,
    _file: &str,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    Err(Error::WeightsUnavailable {
        what,
        reason: format!(
            "not in the Hugging Face cache {}, and this build cannot download \
             (mias-backbones without its `hub` feature)",
            opts.hub_cache.display()
        ),
        hint: hint(kind),
    })
}

fn resolve_url(
    kind: BackboneKind,
    url: &str,
    sha256: &str,
    file_name: &str,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    let stem = Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file_name);
    let converted = opts.url_cache.join(format!("{stem}.safetensors"));
    if converted.is_file() {
        return Ok(converted);
    }
    let raw = opts.url_cache.join(file_name);
    if !raw.is_file() {
        if opts.offline {
            return Err(Error::WeightsUnavailable {
                what: format!("{kind} from {url}"),
                reason: format!(
                    "offline (HF_HUB_OFFLINE/MIAS_OFFLINE) and neither {} nor {} is cached",
                    raw.display(),
                    converted.display()
                ),
                hint: hint(kind),
            });
        }
        download(kind, url, &raw)?;
    }
    let actual = sha256_file(&raw)?;
    let expected = sha256.to_ascii_lowercase();
    if expected.len() < 8 || !actual.starts_with(&expected) {
        return Err(Error::ChecksumMismatch {
            path: raw,
            expected,
            actual,
        });
    }
    convert_pth(&raw, &converted)?;
    Ok(converted)
}

#[cfg(feature = "hub")]
fn download(kind: BackboneKind, url: &str, dest: &Path) -> Result<()> {
    let unavailable = |reason: String| Error::WeightsUnavailable {
        what: format!("{kind} from {url}"),
        reason,
        hint: hint(kind),
    };
    let response = ureq::get(url)
        .call()
        .map_err(|e| unavailable(format!("download failed: {e}")))?;
    // Streamed into a temporary file beside `dest`, renamed over it only when complete.
    mias_core::fs::write_atomic_with(dest, |file| {
        std::io::copy(&mut response.into_reader(), file)
            .map_err(|e| unavailable(format!("download interrupted: {e}")))?;
        Ok(())
    })
}

#[cfg(not(feature = "hub"))]
fn download(kind: BackboneKind, url: &str, _dest: &Path) -> Result<()> {
    Err(Error::WeightsUnavailable {
        what: format!("{kind} from {url}"),
        reason:
            "not cached, and this build cannot download (mias-backbones without its `hub` feature)"
                .into(),
        hint: hint(kind),
    })
}

/// Converts a PyTorch state dict (zip-format `.pth`, read with candle's pickle loader) into a
/// safetensors file written atomically at `dest`. Floating-point tensors are stored as f32;
/// integer bookkeeping tensors (`num_batches_tracked`) are dropped.
pub fn convert_pth(src: &Path, dest: &Path) -> Result<()> {
    let bad = |reason: String| Error::BadWeightFile {
        path: src.to_path_buf(),
        format: "pytorch zip pickle",
        reason,
    };
    let tensors = candle_core::pickle::read_all(src).map_err(|e| {
        bad(format!(
            "{e} (candle reads the zip format of torch >= 1.6; re-save a legacy file with \
             torch.save(torch.load(f), f))"
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for (name, t) in tensors {
        if t.dtype().is_float() {
            out.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    if out.is_empty() {
        return Err(bad("no floating-point tensors".into()));
    }
    // Tensors ordered by dtype and name, no metadata: the same state dict gives the same bytes.
    let bytes = mias_core::safetensors::serialize(&out, &Default::default())
        .map_err(candle_core::Error::from)?;
    Ok(mias_core::fs::write_atomic(dest, &bytes)?)
}

/// The sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checks that a safetensors file is complete: its header parses and the file is as long as the
/// header's tensor table says. Returns the tensor table (name to shape).
pub fn check_safetensors(path: &Path) -> Result<BTreeMap<String, Vec<usize>>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |reason: String| Error::BadWeightFile {
        path: path.to_path_buf(),
        format: "safetensors",
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let actual = file.metadata().map_err(io)?.len();
    let mut len = [0u8; 8];
    if actual < 8 {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            expected: 8,
            actual,
        });
    }
    file.read_exact(&mut len).map_err(io)?;
    let header_len = u64::from_le_bytes(len);
    if header_len > 100_000_000 {
        return Err(bad(format!("header length {header_len} is implausible")));
    }
    if actual < 8 + header_len {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            expected: 8 + header_len,
            actual,
        });
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let mut table = BTreeMap::new();
    let mut end = 0u64;
    for (name, entry) in &header {
        if name == "__metadata__" {
            continue;
        }
        let shape = entry
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .ok_or_else(|| bad(format!("tensor `{name}` has no valid shape")))?;
        let offsets: Vec<u64> = entry
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|s| s.iter().map(|d| d.as_u64()).collect())
            .ok_or_else(|| bad(format!("tensor `{name}` has no valid data_offsets")))?;
        if offsets.len() != 2 || offsets[0] > offsets[1] {
            return Err(bad(format!("tensor `{name}` has data_offsets {offsets:?}")));
        }
        end = end.max(offsets[1]);
        table.insert(name.clone(), shape);
    }
    let expected = 8 + header_len + end;
    if actual < expected {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok(table)
}

/// A `VarBuilder` over a checked, memory-mapped safetensors file. Tensors are converted to f32
/// on `device`; a missing key or a wrong shape is an [`Error::MissingKey`] or
/// [`Error::ShapeMismatch`] naming the file and key. Keys the model never asks for (classifier,
/// `num_batches_tracked`) are ignored.
pub fn var_builder(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    check_safetensors(path)?;
    // SAFETY: the file is mapped read-only; like every mmap it must not be modified while mapped,
    // which holds for weight files (read-only shared data or files in the cache written once).
    let st = unsafe { MmapedSafetensors::new(path) }.map_err(|e| Error::BadWeightFile {
        path: path.to_path_buf(),
        format: "safetensors",
        reason: e.to_string(),
    })?;
    let backend = CheckedSafetensors {
        path: path.to_path_buf(),
        st,
    };
    Ok(VarBuilder::from_backend(
        Box::new(backend),
        DType::F32,
        device.clone(),
    ))
}

struct CheckedSafetensors {
    path: PathBuf,
    st: MmapedSafetensors,
}

impl CheckedSafetensors {
    fn stored_shape(&self, name: &str) -> Option<Vec<usize>> {
        self.st.get(name).ok().map(|v| v.shape().to_vec())
    }
}

impl SimpleBackend for CheckedSafetensors {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(actual) = self.stored_shape(name) else {
            return Err(Error::MissingKey {
                path: self.path.clone(),
                key: name.to_string(),
                expected: s.dims().to_vec(),
            }
            .into_candle());
        };
        if actual != s.dims() {
            return Err(Error::ShapeMismatch {
                path: self.path.clone(),
                key: name.to_string(),
                expected: s.dims().to_vec(),
                actual,
            }
            .into_candle());
        }
        self.get_unchecked(name, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.st.load(name, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.st.get(name).is_ok()
    }
}

/// A `VarBuilder` that makes up deterministic pseudo-random weights of whatever shape a model
/// asks for (benches and smoke tests; never a source of real features). Convolution and linear
/// weights are uniform in `+-sqrt(3 / fan_in)`, BatchNorm `running_var` and `weight` are uniform
/// in `[0.5, 1.5]`, every other tensor uniform in `[-0.1, 0.1]`. The tensor named `name` depends
/// only on `seed` and `name`.
pub fn random_var_builder(seed: u64, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(Box::new(RandomWeights { seed }), DType::F32, device.clone())
}

struct RandomWeights {
    seed: u64,
}

impl SimpleBackend for RandomWeights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        use rand::{Rng, SeedableRng};
        // FNV-1a of the name, mixed with the seed: a per-tensor stream.
        let key = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ key);
        let dims = s.dims();
        let bound =
            if name.ends_with("running_var") || (dims.len() == 1 && name.ends_with("weight")) {
                None
            } else if dims.len() >= 2 {
                let fan_in: usize = dims[1..].iter().product();
                Some((3.0 / fan_in.max(1) as f32).sqrt())
            } else {
                Some(0.1)
            };
        let v: Vec<f32> = (0..s.elem_count())
            .map(|_| match bound {
                Some(b) => rng.random_range(-b..=b),
                None => rng.random_range(0.5f32..=1.5),
            })
            .collect();
        Tensor::from_vec(v, s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Err(candle_core::Error::CannotFindTensor {
            path: format!("{name} (random weights need a shape)"),
        })
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}
