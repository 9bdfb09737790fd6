//! `mias predict`: a finished run's ensemble applied to a new mammogram.
//!
//! Uses the final heads of the run (trained on every image with the honest protocol's views),
//! each member's backbone with the very weights the run used (checked by SHA-256), and the
//! preprocessing of its flavor. Prints each member's and the ensemble's probability of
//! abnormality.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use candle_core::Tensor;
use mias::config::Pooling;
use mias::members::{KNOWN_FILES, Member};
use mias_backbones::{BackboneKind, Flavor, WeightsSource};
use serde::{Deserialize, Serialize};

/// Options of `predict`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory written by `reproduce` (holds run.json and heads/).
    #[arg(long)]
    pub run: PathBuf,
    /// The mammogram: a binary PGM or a PNG, 8-bit grey (1024x1024 like Mini-MIAS; other
    /// sizes are resized to each backbone's side).
    #[arg(long)]
    pub image: PathBuf,
    /// Where to look for the weights if they moved since the run (matched by SHA-256).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    /// Where the backbones and heads run.
    #[arg(long, value_enum, default_value_t = super::DeviceArg::Cpu)]
    pub device: super::DeviceArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
struct RunFile {
    config: ConfigPart,
    members: Vec<MemberPart>,
}

#[derive(Deserialize)]
struct ConfigPart {
    threshold: f64,
    #[serde(default)]
    pooling: Pooling,
}

#[derive(Deserialize)]
struct MemberPart {
    backbone: String,
    name: String,
    flavor: String,
    weights_path: PathBuf,
    weights_sha256: String,
    head: PathBuf,
}

#[derive(Serialize)]
struct Prediction {
    image: String,
    members: Vec<(String, f32)>,
    ensemble: f32,
    threshold: f64,
    abnormal: bool,
}

/// Finds the weights the run used: the recorded path, else a known file in `weights_dir`, with
/// the recorded SHA-256 either way.
fn weights(
    m: &MemberPart,
    kind: BackboneKind,
    weights_dir: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let mut candidates = vec![m.weights_path.clone()];
    if let Some(dir) = weights_dir {
        candidates.extend(
            KNOWN_FILES
                .iter()
                .filter(|k| k.kind == kind)
                .map(|k| dir.join(k.name)),
        );
    }
    for path in &candidates {
        if path.is_file() && mias_backbones::weights::sha256_file(path)? == m.weights_sha256 {
            return Ok(path.clone());
        }
    }
    bail!(
        "{}: no weight file with sha256 {} (the run's weights) at {}; pass --weights-dir with \
         the directory that holds them",
        m.backbone,
        m.weights_sha256,
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Runs `predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let run_json = args.run.join("run.json");
    let text = std::fs::read_to_string(&run_json).with_context(|| {
        format!(
            "reading {} (is {} a directory written by `reproduce`?)",
            run_json.display(),
            args.run.display()
        )
    })?;
    let run: RunFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a run record of this version", run_json.display()))?;
    if run.members.is_empty() {
        bail!("{}: the run has no members", run_json.display());
    }
    let image = mias_data::dataset::load_image(&args.image)
        .with_context(|| format!("reading the image {}", args.image.display()))?;
    if image.width() != image.height() {
        eprintln!(
            "note: {} is {}x{}; it is resized to each backbone's square input as the training \
             images were",
            args.image.display(),
            image.width(),
            image.height()
        );
    }
    let device = args.device.device()?;
    let mut probs = Vec::new();
    for m in &run.members {
        let kind: BackboneKind = m
            .backbone
            .parse()
            .with_context(|| format!("{}: backbone", run_json.display()))?;
        let flavor: Flavor = m
            .flavor
            .parse()
            .with_context(|| format!("{}: flavor of {}", run_json.display(), m.backbone))?;
        let path = weights(m, kind, args.weights_dir.as_deref())?;
        let (bb, provenance) = mias_backbones::load_with_provenance(
            kind,
            &WeightsSource::File(path.clone()),
            flavor,
            &device,
        )
        .with_context(|| format!("loading {kind} from {}", path.display()))?;
        let member = Member {
            kind,
            flavor,
            provenance,
        };
        let prep = mias::extract::preprocess_for(&member)?;
        let side = prep.side as usize;
        let x = Tensor::from_vec(prep.chw(&image), (1, 3, side, side), &device)?;
        let features = mias::extract::forward(bb.as_ref(), &x, run.config.pooling)?;
        let head_path = args.run.join(&m.head);
        let head = mias_train::Head::load(&head_path, &device)
            .with_context(|| format!("loading the head {}", head_path.display()))?;
        let dim = features.dim(1)?;
        if head.input_dim() != dim {
            bail!(
                "{}: the head expects {} features, {kind} with {} pooling gives {dim}",
                head_path.display(),
                head.input_dim(),
                run.config.pooling.name(),
            );
        }
        let p = head.predict_proba(&features.to_device(&device)?)?;
        probs.push((m.name.clone(), p[0]));
    }
    let members: Vec<[f32; 1]> = probs.iter().map(|(_, p)| [*p]).collect();
    let ensemble = mias_train::average(&members)?[0];
    let prediction = Prediction {
        image: args.image.display().to_string(),
        abnormal: f64::from(ensemble) >= run.config.threshold,
        members: probs,
        ensemble,
        threshold: run.config.threshold,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&prediction)?);
        return Ok(());
    }
    println!("{}", prediction.image);
    for (name, p) in &prediction.members {
        println!("  {name:<12} P(abnormal) = {p:.4}");
    }
    println!(
        "  {:<12} P(abnormal) = {:.4} -> {} (threshold {})",
        mias::report::ENSEMBLE,
        prediction.ensemble,
        if prediction.abnormal {
            "abnormal"
        } else {
            "normal"
        },
        prediction.threshold
    );
    eprintln!(
        "note: the heads were trained on every Mini-MIAS image; what to expect on new images is \
         the honest protocol's estimate in {}/table2.md, not the paper protocol's",
        args.run.display()
    );
    Ok(())
}
