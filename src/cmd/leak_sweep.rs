//! `mias leak-sweep`: the paper protocol over views per image and augmentation strength, with
//! real and permuted labels, beside the honest protocol's figure. Writes `sweep.csv`,
//! `sweep.md`, `sweep.png`, `sweep.svg` and `sweep.json` (what ran, with every seed) into a
//! fresh directory that replaces `--out` only when complete.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use mias::cache::FeatureCache;
use mias::labels::{self, LabelSource};
use mias::members::Model;
use mias::paper;
use mias::paper::config::{ExperimentConfig, Protocol};
use mias::paper::sweep::{self, SweepInputs, SweepRow};
use mias::prepare::{default_cache, find_weights, open_data};
use mias::record::Git;
use mias::staging::{self, Staging};
use mias_backbones::BackboneKind;
use mias_eval::{Band, Line, LinePlot};

use super::Bars;

/// The record file that marks a sweep's output directory.
const RECORD: &str = "sweep.json";

/// Options of `leak-sweep`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Data, weights, configuration, seed, cache, device.
    #[command(flatten)]
    pub common: super::ExperimentFlags,
    /// Comma-separated backbones.
    #[arg(long, value_delimiter = ',', default_values_t = [BackboneKind::Vgg16, BackboneKind::MobileNetV2])]
    pub backbones: Vec<BackboneKind>,
    /// Comma-separated views per image under the paper protocol (1 = originals only).
    #[arg(long, value_delimiter = ',', default_values_t = [1u32, 2, 5, 10])]
    pub views: Vec<u32>,
    /// Comma-separated augmentation strengths: 0 = exact copies, 1 = the config's ranges.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0f64, 0.5, 1.0])]
    pub strength: Vec<f64>,
    /// Where the sweep goes; a previous sweep there is replaced once the new one is complete.
    #[arg(long, default_value = "results/sweep")]
    pub out: PathBuf,
}

/// What `sweep.json` records.
#[derive(serde::Serialize)]
struct SweepRecord<'a> {
    tool: &'static str,
    version: &'static str,
    git: Git,
    command: Vec<String>,
    config: &'a ExperimentConfig,
    views: &'a [u32],
    strengths: &'a [f64],
    strength_meaning: &'static str,
    members: Vec<serde_json::Value>,
    not_run: Vec<String>,
    seed: u64,
    permutation_control_seed: u64,
    seconds: f64,
}

/// Runs `leak-sweep`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    sweep::check_axes(&args.views, &args.strength)?;
    if args.common.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let overrides = paper::method::Overrides {
        backbones: Some(args.backbones.clone()),
        seed: args.common.seed,
        pooling: args.common.pooling,
        labels: None,
    };
    let (cfg, _) = paper::method::configure(args.common.config.as_deref(), &overrides)?;
    staging::check_out(&args.out, RECORD)?;
    let device = args.common.device.device()?;
    let dataset = open_data(&args.common.data, args.common.unofficial)?;
    let (members, not_run) = find_weights(
        args.common.weights_dir.as_deref(),
        &cfg.backbones,
        args.common.precision,
    )?;
    let cache = FeatureCache::new(args.common.cache.clone().unwrap_or_else(default_cache))
        .for_dataset(&dataset);
    let inputs = SweepInputs {
        dataset: &dataset,
        config: &cfg,
        members: &members,
        views: &args.views,
        strengths: &args.strength,
        cache: &cache,
        batch: args.common.batch,
        device: &device,
    };
    let rows = sweep::run(&inputs, &mut Bars::new())?;

    staging::remove_on_signal()?;
    let staged = Staging::begin(&args.out)?;
    let dir = staged.path();
    let write = |name: &str, bytes: &[u8]| mias_core::fs::write_atomic(&dir.join(name), bytes);
    write("sweep.csv", sweep::sweep_csv(&rows, cfg.seed).as_bytes())?;
    write("sweep.md", markdown(&rows, &cfg).as_bytes())?;
    for file in ["sweep.png", "sweep.svg"] {
        plot(&dir.join(file), &rows, &members_text(&cfg))?;
    }
    let record = SweepRecord {
        tool: "mias leak-sweep",
        version: env!("CARGO_PKG_VERSION"),
        git: Git::of_build(),
        command: std::env::args().collect(),
        config: &cfg,
        views: &args.views,
        strengths: &args.strength,
        strength_meaning: "every augmentation range of the config times the strength (zoom \
                           interval shrunk towards 1); flips kept above 0, dropped at 0, where \
                           every copy is the original itself",
        members: members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "backbone": m.kind.name(),
                    "flavor": m.flavor.to_string(),
                    "weights": m.provenance.path.display().to_string(),
                    "sha256": m.provenance.sha256,
                })
            })
            .collect(),
        not_run: not_run.iter().map(ToString::to_string).collect(),
        seed: cfg.seed,
        permutation_control_seed: labels::control_seed(cfg.seed),
        seconds: start.elapsed().as_secs_f64(),
    };
    write(RECORD, &serde_json::to_vec_pretty(&record)?)?;
    mias::html::write_report(dir)?;
    staged.install()?;
    for r in rows.iter().filter(|r| r.model == Model::Ensemble) {
        eprintln!(
            "{:>6} views {:>2} strength {:.2} {:<8} accuracy {:5.1}%  AUC {}",
            r.protocol.name(),
            r.views,
            r.strength,
            r.labels.name(),
            100.0 * r.accuracy.value,
            r.auc
                .as_ref()
                .map_or("n/a".into(), |a| format!("{:.3}", a.value))
        );
    }
    println!(
        "wrote {} (sweep.csv, sweep.md, sweep.png, sweep.svg, sweep.json) in {:.0} s",
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn members_text(cfg: &ExperimentConfig) -> String {
    cfg.backbones
        .iter()
        .map(|b| b.display_name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(e: &mias_eval::Estimate) -> String {
    mias_eval::percent_with_interval(e.value, e.low, e.high)
}

/// The sweep as a Markdown table: every model's accuracy and AUC at every point.
fn markdown(rows: &[SweepRow], cfg: &ExperimentConfig) -> String {
    let mut md = format!(
        "# Leak sweep: the paper protocol over copies per image and augmentation strength\n\n\
         Members: {} (pooling {}); seed {}; labels permuted over women with seed {} for the \
         control. Strength 0: every copy is the original itself; 1: the config's augmentation \
         ranges; in between, every range scaled linearly (flips kept). The honest rows are the \
         leakage-free protocol at the config's settings, the reference.\n\n\
         | Protocol | Views | Strength | Labels | Model | Test items | Accuracy | AUC |\n\
         |---|---:|---:|---|---|---:|---|---|\n",
        members_text(cfg),
        cfg.pooling.name(),
        cfg.seed,
        labels::control_seed(cfg.seed)
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.protocol.name(),
            r.views,
            r.strength,
            r.labels.name(),
            r.model.display_name(),
            r.test_items,
            percent(&r.accuracy),
            r.auc.as_ref().map_or("n/a".into(), percent)
        );
    }
    md.push_str(
        "\nPercent with 95% intervals: Wilson (accuracy) and DeLong (AUC) on the paper \
         protocol's test items; mean over folds with a Student t interval for the honest \
         protocol.\n",
    );
    md
}

/// AUC of the ensemble against views, a line per strength (real solid, permuted dashed), the
/// honest ensemble's AUC as a band.
fn plot(path: &std::path::Path, rows: &[SweepRow], members: &str) -> anyhow::Result<()> {
    let ensemble: Vec<&SweepRow> = rows.iter().filter(|r| r.model == Model::Ensemble).collect();
    let mut strengths: Vec<f64> = ensemble
        .iter()
        .filter(|r| r.protocol == Protocol::Paper)
        .map(|r| r.strength)
        .collect();
    strengths.sort_by(f64::total_cmp);
    strengths.dedup();
    /// One line's legend, points, colour and dash, before it borrows into a [`Line`].
    struct Series {
        name: String,
        points: Vec<(f64, f64)>,
        colour: usize,
        dashed: bool,
    }
    let mut series = Vec::new();
    for (k, &s) in strengths.iter().enumerate() {
        for permuted in [false, true] {
            let points: Vec<(f64, f64)> = ensemble
                .iter()
                .filter(|r| {
                    r.protocol == Protocol::Paper
                        && r.strength == s
                        && (r.labels != LabelSource::Real) == permuted
                })
                .filter_map(|r| r.auc.as_ref().map(|a| (f64::from(r.views), a.value)))
                .collect();
            let name = format!(
                "strength {s}, {} labels",
                if permuted { "permuted" } else { "real" }
            );
            series.push(Series {
                name,
                points,
                colour: k,
                dashed: permuted,
            });
        }
    }
    let lines: Vec<Line<'_>> = series
        .iter()
        .map(|s| Line {
            name: &s.name,
            points: &s.points,
            colour: s.colour,
            dashed: s.dashed,
        })
        .collect();
    let band = ensemble
        .iter()
        .find(|r| r.protocol == Protocol::Honest && r.labels == LabelSource::Real)
        .and_then(|r| r.auc.as_ref())
        .map(|a| Band {
            name: "honest protocol, real labels (95% CI)",
            value: a.value,
            low: a.low,
            high: a.high,
        });
    let title = format!("Paper protocol: ensemble AUC against copies per image ({members})");
    let plot = LinePlot {
        title: &title,
        x_label: "views per image (original + copies) before the split",
        y_label: "AUC on the paper protocol's test items",
        y_range: (0.2, 1.0),
        lines: &lines,
        bands: band.as_slice(),
        reference: Some(("chance", 0.5)),
    };
    mias_eval::write_lines(path, &plot).with_context(|| format!("writing {}", path.display()))
}
