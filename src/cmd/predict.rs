//! `mias predict`: a finished run's ensemble applied to a new mammogram.
//!
//! Uses the final heads of the run (trained on every image with the honest protocol's views),
//! each member's backbone with the very weights the run used (checked by SHA-256), and the
//! preprocessing of its flavor. Prints each member's and the ensemble's probability of
//! abnormality.

use std::path::PathBuf;

use mias::members::Model;
use mias::record::RunRecord;
use serde::Serialize;

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

#[derive(Serialize)]
struct Prediction {
    image: String,
    members: Vec<(String, f32)>,
    ensemble: f32,
    threshold: f64,
    abnormal: bool,
}

/// Runs `predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let run = RunRecord::read(&args.run)?;
    let image = mias::inference::read_image(&args.image)?;
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
    let p = mias::paper::predict::predict(
        &args.run,
        &run,
        &image,
        args.weights_dir.as_deref(),
        &device,
    )?;
    let threshold = run.config.threshold;
    let prediction = Prediction {
        image: args.image.display().to_string(),
        abnormal: f64::from(p.ensemble) >= threshold,
        members: p
            .members
            .iter()
            .map(|&(kind, p)| (kind.display_name().to_string(), p))
            .collect(),
        ensemble: p.ensemble,
        threshold,
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
        Model::Ensemble.display_name(),
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
