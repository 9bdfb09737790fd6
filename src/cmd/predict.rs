//! `mias predict`: a finished run's ensemble applied to a new mammogram.
//!
//! Uses the final heads of the run (trained on every image with the honest protocol's views),
//! each member's backbone with the very weights the run used (checked by SHA-256), and the
//! preprocessing of its flavor. Prints each member's and the ensemble's probability of
//! abnormality; with the lesion method's models in the run, theirs too (and a heatmap).

use std::path::PathBuf;

use anyhow::Context;
use mias::members::Model;
use mias::record::RunRecord;
use serde::Serialize;

/// Options of `predict`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory written by `reproduce` (holds run.json and heads/).
    #[arg(long)]
    pub run: PathBuf,
    /// The mammogram, in any format mias reads (DICOM, PNG, JPEG, TIFF, PGM). A Mini-MIAS film
    /// is taken as it is; any other is brought into the working frame the training films were
    /// in (windowed, its longer side at most 1024 px, centred on a black square).
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
    /// The other breast of the same woman (same orientation as in the dataset): the lesion
    /// models then give the bilateral score.
    #[arg(long)]
    pub other: Option<PathBuf>,
    /// Write the lesion models' heatmap of the image (cell probabilities over the breast) here.
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
    /// Also write one self-contained HTML page of the prediction here (probabilities, heatmap).
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// The layout of `predict --json`: 2 since the paper method's figures moved under `paper`
/// and the lesion method's came under `lesion` (the layout before, with `members` and
/// `ensemble` at the top, is 1). CHANGELOG.md lists every change.
const JSON_SCHEMA: u32 = 2;

#[derive(Serialize)]
struct Prediction {
    /// [`JSON_SCHEMA`].
    schema: u32,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    paper: Option<PaperPrediction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lesion: Option<mias::lesion::saved::Verdict>,
}

#[derive(Serialize)]
struct PaperPrediction {
    members: Vec<(String, f32)>,
    ensemble: f32,
    threshold: f64,
    abnormal: bool,
}

/// Runs `predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let run = RunRecord::read(&args.run)?;
    if let Some(seed) = run.paper.seeds.permute_labels {
        eprintln!(
            "WARNING: the run in {} is a negative control (--permute-labels {seed}): its models \
             learnt permuted labels, and their probabilities mean nothing about this image",
            args.run.display()
        );
    }
    let (w, h) = mias_data::image_file::dimensions(&args.image)
        .with_context(|| format!("reading the image {}", args.image.display()))?;
    let image = mias::inference::read_image(&args.image)?;
    if (w, h) != image.dimensions() {
        eprintln!(
            "note: {} is {w}x{h}; it is brought into the training films' working frame ({}x{}: \
             resized to a long side of at most 1024 px, centred on a black square), then resized \
             to each backbone's input",
            args.image.display(),
            image.width(),
            image.height()
        );
    }
    let device = args.device.device()?;
    let paper = if run.methods.iter().any(|m| m == "paper") {
        let p = mias::paper::predict::predict(
            &args.run,
            &run.paper,
            &image,
            args.weights_dir.as_deref(),
            &device,
        )?;
        let threshold = run.paper.config.threshold;
        Some(PaperPrediction {
            abnormal: f64::from(p.ensemble) >= threshold,
            members: p
                .members
                .iter()
                .map(|&(kind, p)| (kind.display_name().to_string(), p))
                .collect(),
            ensemble: p.ensemble,
            threshold,
        })
    } else {
        None
    };
    let lesion = if run.lesion.is_some() {
        Some(lesion_verdict(&args, &image, &device)?)
    } else {
        if args.other.is_some() || args.heatmap.is_some() {
            anyhow::bail!(
                "--other/--heatmap need the lesion method's models, and the run in {} did not \
                 run it (reproduce --methods lesion)",
                args.run.display()
            );
        }
        None
    };
    let prediction = Prediction {
        schema: JSON_SCHEMA,
        image: args.image.display().to_string(),
        paper,
        lesion,
    };
    if let Some(out) = &args.html {
        let page = mias::html::film::FilmPage {
            image: &prediction.image,
            run: &args.run,
            control_seed: run.paper.seeds.permute_labels,
            film: &image,
            paper: (prediction.paper.as_ref()).map(|p| mias::html::film::PaperFigures {
                members: &p.members,
                ensemble: p.ensemble,
                threshold: p.threshold,
            }),
            lesion: prediction.lesion.as_ref(),
        };
        mias::html::film::write_film(out, &page)?;
        eprintln!("page: {}", out.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&prediction)?);
        return Ok(());
    }
    println!("{}", prediction.image);
    if let Some(p) = &prediction.paper {
        println!("  paper method (the final heads):");
        for (name, prob) in &p.members {
            println!("    {name:<12} P(abnormal) = {prob:.4}");
        }
        println!(
            "    {:<12} P(abnormal) = {:.4} -> {} (threshold {})",
            Model::Ensemble.display_name(),
            p.ensemble,
            if p.abnormal { "abnormal" } else { "normal" },
            p.threshold
        );
        eprintln!(
            "note: the heads were trained on every Mini-MIAS image; what to expect on new images \
             is the honest protocol's estimate in {}/table2.md, not the paper protocol's",
            args.run.display()
        );
    }
    if let Some(v) = &prediction.lesion {
        println!(
            "  lesion method ({} score, calibrated on out-of-fold scores):",
            v.variant
        );
        for m in &v.members {
            println!(
                "    {:<12} score {:+.3}  P(abnormal) = {:.4}",
                m.backbone, m.score, m.p_abnormal
            );
        }
        println!("    {:<12} P(abnormal) = {:.4}", "Ensemble", v.ensemble);
        eprintln!(
            "note: what to expect on new images is the lesion method's out-of-fold estimate in \
             {}/lesion/table.md",
            args.run.display()
        );
    }
    Ok(())
}

/// The lesion models' verdict, and the heatmap when asked.
fn lesion_verdict(
    args: &Args,
    image: &image::GrayImage,
    device: &candle_core::Device,
) -> anyhow::Result<mias::lesion::saved::Verdict> {
    use mias::lesion::saved;
    let dir = args.run.join("lesion").join("models");
    let models = saved::load(&dir)?;
    let other = args
        .other
        .as_deref()
        .map(mias::inference::read_image)
        .transpose()?;
    let lookup = saved::WeightsLookup {
        dir: args.weights_dir.as_deref(),
    };
    let verdict = saved::predict(&dir, &models, image, other.as_ref(), &lookup, device)?;
    if let Some(path) = &args.heatmap {
        let first = verdict
            .members
            .first()
            .ok_or_else(|| anyhow::anyhow!("the lesion models hold no member"))?;
        let (grid, cells, probs) = &first.cells;
        let img = mias::lesion::report::heatmap(image, *grid, cells, probs, &[]);
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )?;
        mias_core::fs::write_atomic(path, &bytes)?;
        eprintln!("heatmap ({}): {}", first.backbone, path.display());
    }
    Ok(verdict)
}
