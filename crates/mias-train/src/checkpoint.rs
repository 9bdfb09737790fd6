//! Heads saved as safetensors: the tensors `dense_{i}.kernel` / `dense_{i}.bias` in f32,
//! and in the header's `__metadata__` the format tag, the input dimension and the whole
//! [`TrainConfig`] as JSON, so a file says how it was trained. Writes are atomic (a
//! temporary file beside the target, synced, then renamed).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::head::Head;

/// Metadata key holding [`FORMAT`].
pub const META_FORMAT: &str = "format";
/// Metadata key holding the input dimension, in decimal.
pub const META_INPUT_DIM: &str = "input_dim";
/// Metadata key holding the [`TrainConfig`] as JSON.
pub const META_CONFIG: &str = "train_config";
/// The format tag of a head checkpoint.
pub const FORMAT: &str = "mias-train-head/1";

impl Head {
    /// Writes the head to `path` as safetensors, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let config = serde_json::to_string(self.config()).map_err(|e| Error::BadMetadata {
            path: path.to_path_buf(),
            key: META_CONFIG,
            reason: e.to_string(),
        })?;
        let metadata = HashMap::from([
            (META_FORMAT.to_string(), FORMAT.to_string()),
            (META_INPUT_DIM.to_string(), self.input_dim().to_string()),
            (META_CONFIG.to_string(), config),
        ]);
        let mut named = Vec::new();
        for (key, t) in self.tensors() {
            let values = t.flatten_all()?.to_vec1::<f32>()?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            named.push((key, t.dims().to_vec(), bytes));
        }
        let views = named
            .iter()
            .map(|(k, shape, bytes)| {
                TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (k.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| Error::Safetensors {
                path: path.to_path_buf(),
                source,
            })?;
        let buffer =
            safetensors::serialize(views, Some(metadata)).map_err(|source| Error::Safetensors {
                path: path.to_path_buf(),
                source,
            })?;
        write_atomic(path, &buffer)
    }

    /// Reads a head from `path`, trusting the config stored in the file.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let buffer = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (input_dim, cfg) = read_header(path, &buffer)?;
        let tensors = read_tensors(path, &buffer, device)?;
        Head::from_tensors(input_dim, &cfg, &tensors, path)
    }

    /// Reads a head from `path` and checks that it was made with `cfg` for `input_dim`
    /// features; any difference is an error listing each differing field.
    pub fn load_expecting(
        path: impl AsRef<Path>,
        cfg: &TrainConfig,
        input_dim: usize,
        device: &Device,
    ) -> Result<Self> {
        let path = path.as_ref();
        let buffer = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (file_dim, file_cfg) = read_header(path, &buffer)?;
        let mut differences = file_cfg.differences(cfg);
        if file_dim != input_dim {
            differences.insert(0, format!("{META_INPUT_DIM}: {file_dim} vs {input_dim}"));
        }
        if !differences.is_empty() {
            return Err(Error::ConfigMismatch {
                path: path.to_path_buf(),
                differences: format!("(file vs expected) {}", differences.join("; ")),
            });
        }
        let tensors = read_tensors(path, &buffer, device)?;
        Head::from_tensors(input_dim, cfg, &tensors, path)
    }
}

fn read_header(path: &Path, buffer: &[u8]) -> Result<(usize, TrainConfig)> {
    let (_, meta) = SafeTensors::read_metadata(buffer).map_err(|source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    })?;
    let empty = HashMap::new();
    let kv = meta.metadata().as_ref().unwrap_or(&empty);
    let get = |key: &'static str| {
        kv.get(key).ok_or_else(|| Error::BadMetadata {
            path: path.to_path_buf(),
            key,
            reason: "absent".into(),
        })
    };
    let format = get(META_FORMAT)?;
    if format != FORMAT {
        return Err(Error::BadMetadata {
            path: path.to_path_buf(),
            key: META_FORMAT,
            reason: format!("found {format:?}, expected {FORMAT:?}"),
        });
    }
    let dim_text = get(META_INPUT_DIM)?;
    let input_dim = dim_text.parse().map_err(|_| Error::BadMetadata {
        path: path.to_path_buf(),
        key: META_INPUT_DIM,
        reason: format!("{dim_text:?} is not a whole number"),
    })?;
    let cfg: TrainConfig =
        serde_json::from_str(get(META_CONFIG)?).map_err(|e| Error::BadMetadata {
            path: path.to_path_buf(),
            key: META_CONFIG,
            reason: e.to_string(),
        })?;
    Ok((input_dim, cfg))
}

fn read_tensors(path: &Path, buffer: &[u8], device: &Device) -> Result<HashMap<String, Tensor>> {
    let st = SafeTensors::deserialize(buffer).map_err(|source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = HashMap::new();
    for (key, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                key,
                actual: format!("{:?}", view.dtype()).to_lowercase(),
            });
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let t = Tensor::from_vec(values, view.shape(), device)?;
        out.insert(key, t);
    }
    Ok(out)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidData(format!("{}: not a file path", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
