//! `mias features`: run one frozen backbone on a batch and write its pooled features.
//!
//! The input is either a safetensors file holding `pixel_values` (f32 `[N, 3, S, S]`, already
//! normalised) or a dataset's images given by name (Mini-MIAS's `mdbNNN`, or a manifest or
//! CBIS-DDSM dataset's paths as its manifest writes them; a collection's images are its
//! working images, see `mias_data::collection`), preprocessed the backbone's own way (Pillow
//! bilinear resize to the native side, grey replicated to RGB, the flavor's normalisation). The
//! output safetensors holds `features` (f32 `[N, D]`) and, in its metadata, the backbone, flavor,
//! weight provenance and image ids. It is written atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use candle_core::{Device, Tensor};
use mias_backbones::{Backbone, BackboneKind, Flavor, WeightsSource};
use mias_data::preprocess::Preprocess;

/// Options of `features`.
#[derive(clap::Args)]
pub struct Args {
    /// Backbone: vgg16, xception, mobilenetv2 or nasnetlarge.
    #[arg(long)]
    backbone: BackboneKind,
    /// Forward configuration: `keras` (TF SAME padding, Keras BatchNorm eps and input scaling,
    /// for ../shared/weights) or `timm` (for the Hub's timm weights).
    #[arg(long, default_value = "keras")]
    flavor: Flavor,
    /// A safetensors weight file with timm key names. Without it, the pinned public timm source
    /// is used through the local caches (Hugging Face Hub, or timm's GitHub release for
    /// Xception), downloading once unless offline.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// A safetensors file holding `pixel_values`, f32 [N, 3, S, S], already normalised.
    #[arg(long, conflicts_with_all = ["data", "images"], required_unless_present = "data")]
    input: Option<PathBuf>,
    /// A dataset directory (Mini-MIAS, a manifest.csv, or CBIS-DDSM); with --images, applies
    /// the backbone's own preprocessing.
    #[arg(long, requires = "images")]
    data: Option<PathBuf>,
    /// Comma-separated image names, e.g. mdb001,mdb028, or a manifest's image paths (with
    /// --data).
    #[arg(long, value_delimiter = ',', requires = "data")]
    images: Vec<String>,
    /// Output safetensors file; receives `features`, f32 [N, D].
    #[arg(long)]
    out: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = 8)]
    batch: usize,
}

/// Runs `features`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let source = match &args.weights {
        Some(path) => WeightsSource::File(path.clone()),
        None => WeightsSource::pinned(args.backbone),
    };
    let (bb, provenance) =
        mias_backbones::load_with_provenance(args.backbone, &source, args.flavor, &device)
            .with_context(|| format!("loading {} ({} flavor)", args.backbone, args.flavor))?;
    let (pixels, ids) = match (&args.input, &args.data) {
        (Some(input), _) => (read_pixel_values(input, &device)?, Vec::new()),
        (None, Some(dir)) => preprocess_images(bb.as_ref(), dir, &args.images, &device)?,
        (None, None) => bail!("give --input FILE or --data DIR --images ID,..."),
    };
    let features = features_in_batches(bb.as_ref(), &pixels, args.batch)?;
    let mut meta = BTreeMap::new();
    meta.insert("backbone".to_string(), args.backbone.name().to_string());
    meta.insert("flavor".to_string(), args.flavor.name().to_string());
    meta.insert("weights".to_string(), provenance.path.display().to_string());
    meta.insert("weights_sha256".to_string(), provenance.sha256.clone());
    meta.insert("weights_source".to_string(), provenance.source.clone());
    meta.insert(
        "input_normalisation".to_string(),
        bb.input().norm.name().to_string(),
    );
    if !ids.is_empty() {
        meta.insert("images".to_string(), ids.join(","));
    }
    let bytes = mias_core::safetensors::serialize([("features", &features)], &meta)
        .context("serialising the features")?;
    mias_core::fs::write_atomic(&args.out, &bytes)?;
    let (n, d) = features.dims2()?;
    eprintln!(
        "wrote {} ({n} x {d} features, {} {} flavor, weights sha256 {})",
        args.out.display(),
        args.backbone,
        args.flavor,
        provenance.sha256
    );
    Ok(())
}

/// Reads `pixel_values` (f32 `[N, 3, H, W]`) from a safetensors file.
fn read_pixel_values(path: &Path, device: &Device) -> anyhow::Result<Tensor> {
    let mut tensors = candle_core::safetensors::load(path, device)
        .with_context(|| format!("reading {}", path.display()))?;
    let Some(x) = tensors.remove("pixel_values") else {
        let mut keys: Vec<_> = tensors.keys().cloned().collect();
        keys.sort();
        bail!(
            "{} has no tensor `pixel_values` (f32 [N, 3, S, S]); it holds: {}",
            path.display(),
            keys.join(", ")
        );
    };
    if x.rank() != 4 || x.dim(1)? != 3 || x.dtype() != candle_core::DType::F32 {
        bail!(
            "`pixel_values` in {} must be f32 [N, 3, S, S], got {:?} {:?}",
            path.display(),
            x.dtype(),
            x.dims()
        );
    }
    Ok(x)
}

/// Loads the images `ids` from the dataset at `dir` and preprocesses them for `bb`.
fn preprocess_images(
    bb: &dyn Backbone,
    dir: &Path,
    ids: &[String],
    device: &Device,
) -> anyhow::Result<(Tensor, Vec<String>)> {
    if ids.is_empty() {
        bail!("--images needs at least one id, e.g. --images mdb001,mdb002");
    }
    let ds = super::open_dataset(dir)?;
    let spec = bb.input();
    let side = u32::try_from(spec.side).context("input side")?;
    let prep = Preprocess::new(side, spec.norm);
    let mut images = Vec::with_capacity(ids.len());
    let mut names = Vec::with_capacity(ids.len());
    for raw in ids {
        let id = ds.find(raw.trim())?;
        images.push(
            ds.image(id)
                .with_context(|| format!("reading image {}", ds.name(id)))?,
        );
        names.push(ds.name(id));
    }
    let values = prep.nchw(&images);
    let x = Tensor::from_vec(values, (images.len(), 3, spec.side, spec.side), device)?;
    Ok((x, names))
}

/// Runs `bb` over `x` in chunks of `batch` images and concatenates the features.
fn features_in_batches(bb: &dyn Backbone, x: &Tensor, batch: usize) -> anyhow::Result<Tensor> {
    let n = x.dim(0)?;
    if n == 0 {
        bail!("the input holds no images");
    }
    let batch = batch.max(1);
    let mut parts = Vec::with_capacity(n.div_ceil(batch));
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        parts.push(bb.features(&x.narrow(0, start, len)?)?);
    }
    Ok(Tensor::cat(&parts, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(test: &str) -> Option<PathBuf> {
        mias_core::skip::shared_file(test, "reference").and_then(|r| r.parent().map(PathBuf::from))
    }

    fn rel_err(ours: &Tensor, reference: &Tensor) -> f32 {
        let diff = (ours - reference)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap();
        let scale = reference.abs().unwrap().flatten_all().unwrap();
        diff.max(0).unwrap().to_scalar::<f32>().unwrap()
            / scale.max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// End to end on the real MobileNetV2 weights: `--input` with the reference pixel values and
    /// `--data` with the reference images (mdb001, mdb028, mdb005) must both give Keras's
    /// features.
    #[test]
    fn features_match_keras_reference_from_input_and_from_images() {
        let test = "features_match_keras_reference_from_input_and_from_images";
        let Some(shared) = shared(test) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let reference = shared.join("reference/mobilenetv2.keras_reference.safetensors");
        let expected = candle_core::safetensors::load(&reference, &Device::Cpu).unwrap();
        let args = |input: Option<PathBuf>, data: Option<PathBuf>, out: &Path| Args {
            backbone: BackboneKind::MobileNetV2,
            flavor: Flavor::Keras,
            weights: Some(shared.join("weights/mobilenetv2.coral.safetensors")),
            images: if data.is_some() {
                vec!["mdb001".into(), "mdb028".into(), "mdb005".into()]
            } else {
                Vec::new()
            },
            input,
            data,
            out: out.to_path_buf(),
            batch: 2,
        };
        let out = dir.path().join("from_input.safetensors");
        run(args(Some(reference.clone()), None, &out)).unwrap();
        let got = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
        let err = rel_err(&got["features"], &expected["features"]);
        assert!(err < 1e-4, "--input: relative error {err:.3e}");

        let Some(data) = mias_core::skip::real_data(test) else {
            return;
        };
        let out = dir.path().join("from_images.safetensors");
        run(args(None, Some(data), &out)).unwrap();
        let got = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
        let err = rel_err(&got["features"], &expected["features"]);
        assert!(err < 1e-4, "--data: relative error {err:.3e}");
    }

    #[test]
    fn input_without_pixel_values_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.safetensors");
        let t = Tensor::zeros((1, 3, 8, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
        candle_core::safetensors::save(
            &std::collections::HashMap::from([("images".to_string(), t)]),
            &path,
        )
        .unwrap();
        let err = read_pixel_values(&path, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pixel_values") && err.contains("images"),
            "{err}"
        );
    }
}
