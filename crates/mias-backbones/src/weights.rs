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

use crate::BackboneKind;
use crate::error::{Error, Result};

/// Where a backbone's weights come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsSource {
    /// A local safetensors file with timm key names.
    File(PathBuf),
}

/// Where the weights of a loaded backbone came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The safetensors file that was read.
    pub path: PathBuf,
    /// Its sha256, lowercase hex.
    pub sha256: String,
    /// The source as given (file path, Hub repo@revision/file or URL).
    pub source: String,
}

impl WeightsSource {
    /// Finds (and if needed fetches) the weight file for `kind`, and records its provenance.
    pub fn resolve(&self, _kind: BackboneKind) -> Result<Provenance> {
        match self {
            WeightsSource::File(path) => {
                let sha256 = sha256_file(path)?;
                Ok(Provenance {
                    path: path.clone(),
                    sha256,
                    source: format!("file {}", path.display()),
                })
            }
        }
    }
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
