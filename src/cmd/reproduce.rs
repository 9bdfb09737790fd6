//! `mias reproduce`: the paper's experiment and the leakage-free one, side by side.
//!
//! Reads every hyper-parameter from a committed config (flags override a few), resolves each
//! backbone's weights (a backbone without weights is reported as not run), extracts features
//! through the cache, runs the protocols, and writes the results into a fresh directory that
//! replaces `--out` only when everything is written, so `--out` never holds a half-written run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use mias::cache::FeatureCache;
use mias::config::{BACKBONES, ExperimentConfig, Pooling};
use mias::experiment::{self, Inputs, Outcome, Progress};
use mias::extract::{ExtractStats, cache_key};
use mias::members::{self, Member, NotRun};
use mias::protocol::{HeadRecord, Protocol};
use mias::report;
use mias_backbones::weights::FetchOptions;
use mias_data::LabelVariant;
use serde::Serialize;

/// Which protocols to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The paper's: augment first, split by image.
    Paper,
    /// Grouped stratified cross-validation, augmentation on training folds only.
    Honest,
    /// Both, with the leakage report side by side.
    Both,
}

impl Which {
    fn protocols(self) -> Vec<Protocol> {
        match self {
            Which::Paper => vec![Protocol::Paper],
            Which::Honest => vec![Protocol::Honest],
            Which::Both => vec![Protocol::Paper, Protocol::Honest],
        }
    }
}

/// Options of `reproduce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Mini-MIAS directory; fetched from the official site when missing (offline:
    /// `--data ../shared/data/mini-mias`).
    #[arg(long, default_value = super::DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// A directory of weight files (vgg16.keras.safetensors, mobilenetv2.coral.safetensors,
    /// xception.keras.safetensors, <backbone>.timm.safetensors); without one, `data/weights`
    /// when it exists, then the pinned public sources through the local caches.
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    /// Comma-separated backbones (default: the config's, all four).
    #[arg(long, value_delimiter = ',')]
    pub backbones: Vec<String>,
    /// Which protocols to run.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub protocol: Which,
    /// Label variant: `official` (207/115) or `paper` (209/113).
    #[arg(long)]
    pub labels: Option<LabelVariant>,
    /// Seed of every random draw (default: the config's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How each backbone's last feature map becomes the head's input: `avg` or `flatten`
    /// (default: the config's).
    #[arg(long)]
    pub pooling: Option<Pooling>,
    /// Configuration file (default: the committed data/configs/paper.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the results go; a previous run there is replaced once the new one is complete.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// The feature cache (default: $MIAS_CACHE_DIR/features, else ~/.cache/mias/features).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Images per backbone forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Where backbones and heads run.
    #[arg(long, value_enum, default_value_t = super::DeviceArg::Cpu)]
    pub device: super::DeviceArg,
    /// Accept a dataset in the Mini-MIAS layout that is not the official one (a subset, other
    /// images or sizes): skips the checksum verification, says so, and records it in run.json.
    #[arg(long)]
    pub unofficial: bool,
}

/// The record of a run, written as run.json.
#[derive(Serialize)]
struct RunRecord<'a> {
    tool: &'static str,
    version: &'static str,
    git: Git,
    command: Vec<String>,
    started_unix_s: u64,
    config_source: String,
    config: &'a ExperimentConfig,
    protocols: Vec<&'static str>,
    label_variant: &'static str,
    seeds: Seeds,
    data: Data,
    members: Vec<MemberRecord>,
    not_run: &'a [NotRun],
    heads: Vec<&'a HeadRecord>,
    timings_s: Timings,
    threads: usize,
    device: String,
}

#[derive(Serialize)]
struct Git {
    revision: String,
    dirty: Option<bool>,
}

#[derive(Serialize)]
struct Seeds {
    experiment: u64,
    augmentation: u64,
    split_and_folds: u64,
    head_seeds: &'static str,
    bootstrap: u64,
}

#[derive(Serialize)]
struct Data {
    dir: String,
    images: usize,
    normal: usize,
    abnormal: usize,
    verified: bool,
}

#[derive(Serialize)]
struct MemberRecord {
    backbone: &'static str,
    name: &'static str,
    flavor: &'static str,
    weights_path: String,
    weights_sha256: String,
    weights_source: String,
    input_side: usize,
    normalisation: &'static str,
    feature_dim: usize,
    feature_cache: String,
    features: ExtractStats,
    head: String,
}

#[derive(Serialize, Default)]
struct Timings {
    total: f64,
    data: f64,
    weights: f64,
    features: f64,
    paper: Option<f64>,
    honest: Option<f64>,
    final_heads: f64,
    evaluation_and_outputs: f64,
}

struct Bars {
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
}

impl Progress for Bars {
    fn begin(&mut self, what: &str, total: usize) {
        eprintln!("{what}: {total}");
        if self.enabled {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "  {bar:40} {pos}/{len}, {per_sec}, eta {eta}",
            ) {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
    }
    fn advance(&mut self, n: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The feature cache's default place: `features` beside the weight downloads of
/// [`FetchOptions::from_env`] (`$MIAS_CACHE_DIR/features`, else `~/.cache/mias/features`).
fn default_cache() -> PathBuf {
    FetchOptions::from_env()
        .url_cache
        .with_file_name("features")
}

/// Reads the config and applies the flags; errors name the flag or the key.
fn configure(args: &Args) -> anyhow::Result<(ExperimentConfig, String)> {
    let (mut cfg, source) = match &args.config {
        Some(path) => (ExperimentConfig::read(path)?, path.display().to_string()),
        None => (
            ExperimentConfig::paper()?,
            "data/configs/paper.toml (committed)".to_string(),
        ),
    };
    if !args.backbones.is_empty() {
        for b in &args.backbones {
            if !BACKBONES.contains(&b.trim()) {
                bail!(
                    "--backbones: unknown backbone {b:?} (known: {})",
                    BACKBONES.join(", ")
                );
            }
        }
        cfg.backbones = args
            .backbones
            .iter()
            .map(|b| b.trim().to_string())
            .collect();
    }
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if let Some(pooling) = args.pooling {
        cfg.pooling = pooling;
    }
    if let Some(labels) = args.labels {
        cfg.labels = labels;
    }
    cfg.validate()
        .context("after applying the command-line flags")?;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok((cfg, source))
}

/// Refuses an `--out` that holds something other than a previous run.
fn check_out(out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("--out {}: exists and is not a directory", out.display());
    }
    let empty = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .next()
        .is_none();
    if !empty && !out.join("run.json").is_file() {
        bail!(
            "--out {}: holds files that are not a mias run (no run.json); choose another \
             directory, nothing was changed",
            out.display()
        );
    }
    Ok(())
}

/// Puts the finished run at `out`, replacing a previous run only now.
fn install(tmp: tempfile::TempDir, out: &Path) -> anyhow::Result<()> {
    let staged = tmp.keep();
    if out.exists() {
        let old = staged.with_extension("old");
        std::fs::rename(out, &old)
            .with_context(|| format!("moving the previous run {} aside", out.display()))?;
        std::fs::rename(&staged, out)
            .with_context(|| format!("moving the new run into {}", out.display()))?;
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("removing the previous run (now {})", old.display()))?;
    } else {
        std::fs::rename(&staged, out)
            .with_context(|| format!("moving the new run into {}", out.display()))?;
    }
    Ok(())
}

/// Opens the dataset, downloading it first when the default place is empty.
fn open_data(dir: &Path, unofficial: bool) -> anyhow::Result<mias_data::Dataset> {
    if unofficial {
        eprintln!(
            "WARNING: --unofficial: {} is not checked against the official Mini-MIAS checksums",
            dir.display()
        );
        let options = mias_data::OpenOptions {
            official: false,
            side: None,
        };
        return mias_data::Dataset::open_with(dir, &options)
            .with_context(|| format!("opening the dataset {}", dir.display()));
    }
    if !dir.exists() {
        eprintln!(
            "no dataset at {}: fetching it from {}",
            dir.display(),
            mias_data::fetch::OFFICIAL_URL
        );
        let source = mias_data::fetch::Source::Url(mias_data::fetch::OFFICIAL_URL.to_string());
        mias_data::fetch::fetch(dir, &source, std::io::stderr().is_terminal()).with_context(
            || {
                format!(
                    "no dataset at {} and the download failed; offline, pass --data \
                     ../shared/data/mini-mias (or import it once with `cargo xtask fetch-data \
                     --from DIR`)",
                    dir.display()
                )
            },
        )?;
    }
    super::open_dataset(dir)
}

fn git() -> Git {
    let dir = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    Git {
        revision: run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
        dirty: run(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
    }
}

/// Runs `reproduce`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (cfg, config_source) = configure(&args)?;
    check_out(&args.out)?;
    let device = args.device.device()?;
    let mut timings = Timings::default();

    let t = Instant::now();
    let dataset = open_data(&args.data, args.unofficial)?;
    let summary = dataset.summary(cfg.labels);
    timings.data = t.elapsed().as_secs_f64();
    eprintln!(
        "data: {} ({} images{}, labels {}: {} normal, {} abnormal)",
        args.data.display(),
        summary.images,
        if args.unofficial {
            ", NOT verified"
        } else {
            " verified"
        },
        cfg.labels,
        summary.normal,
        summary.abnormal
    );

    let t = Instant::now();
    let weights_dir = args
        .weights_dir
        .clone()
        .or_else(members::default_weights_dir);
    if let Some(dir) = &weights_dir
        && !dir.is_dir()
    {
        bail!("--weights-dir {}: not a directory", dir.display());
    }
    let (members, not_run) = members::resolve_all(
        &cfg.backbones,
        weights_dir.as_deref(),
        &FetchOptions::from_env(),
    )?;
    timings.weights = t.elapsed().as_secs_f64();
    for n in &not_run {
        eprintln!("NOT RUN {n}");
    }
    if members.is_empty() {
        bail!(
            "none of the backbones ({}) has weights, so nothing can run; see the reasons above",
            cfg.backbones.join(", ")
        );
    }
    for m in &members {
        eprintln!(
            "{}: {} flavor, weights {} (sha256 {})",
            m.display_name(),
            m.flavor,
            m.provenance.path.display(),
            m.provenance.sha256
        );
    }

    let cache = FeatureCache::new(args.cache.clone().unwrap_or_else(default_cache));
    let protocols = args.protocol.protocols();
    let inputs = Inputs {
        dataset: &dataset,
        config: &cfg,
        protocols: &protocols,
        members: &members,
        cache: &cache,
        batch: args.batch,
        device: &device,
    };
    let mut bars = Bars {
        bar: None,
        enabled: std::io::stderr().is_terminal(),
    };
    let outcome = experiment::run(&inputs, &mut bars)?;
    for (name, s) in &outcome.extraction {
        eprintln!(
            "{name}: {} views, {} computed, {} from the cache, {:.1} s",
            s.items,
            s.computed,
            s.items - s.computed,
            s.seconds
        );
    }
    timings.features = outcome.extraction.iter().map(|(_, s)| s.seconds).sum();
    timings.final_heads = outcome.final_seconds;
    for p in &outcome.protocols {
        match p.protocol {
            Protocol::Paper => timings.paper = Some(p.seconds),
            Protocol::Honest => timings.honest = Some(p.seconds),
        }
    }

    let t = Instant::now();
    let eval_cfg = report::eval_config(cfg.threshold, cfg.seed);
    let evals = outcome
        .protocols
        .iter()
        .map(|p| report::evaluate(p, &members, &eval_cfg))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let parent = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = args
        .out
        .file_name()
        .map_or_else(|| "results".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
    report::write_results(tmp.path(), &outcome, &evals, &members, &not_run)?;
    let heads_dir = tmp.path().join("heads");
    std::fs::create_dir_all(&heads_dir)
        .with_context(|| format!("creating {}", heads_dir.display()))?;
    for f in &outcome.finals {
        f.head
            .save(heads_dir.join(format!("{}.safetensors", f.member)))
            .with_context(|| format!("saving the final {} head", f.member))?;
    }
    timings.evaluation_and_outputs = t.elapsed().as_secs_f64();
    timings.total = start.elapsed().as_secs_f64();
    let record = record(
        &args,
        &cfg,
        config_source,
        started_unix_s,
        &summary,
        &members,
        &not_run,
        &outcome,
        &cache,
        timings,
    )?;
    mias_core::fs::write_atomic(
        &tmp.path().join("run.json"),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    install(tmp, &args.out)?;

    for ((protocol, model), (acc, auc)) in report::headline(&evals) {
        eprintln!(
            "{protocol:>6} {model:<12} accuracy {:5.1}%  AUC {}",
            100.0 * acc,
            auc.map_or("n/a".into(), |a| format!("{:.3}", a))
        );
    }
    println!(
        "wrote {} (metrics.csv, table2.md, table3.md, leakage.md, roc.png/svg, \
         confusion.png/svg, predictions.csv, heads/, run.json) in {:.0} s",
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn record<'a>(
    args: &Args,
    cfg: &'a ExperimentConfig,
    config_source: String,
    started_unix_s: u64,
    summary: &mias_data::Summary,
    members: &[Member],
    not_run: &'a [NotRun],
    outcome: &'a Outcome,
    cache: &FeatureCache,
    timings_s: Timings,
) -> anyhow::Result<RunRecord<'a>> {
    let mut member_records = Vec::new();
    for (m, (_, stats)) in members.iter().zip(&outcome.extraction) {
        let spec = m.kind.input(m.flavor);
        member_records.push(MemberRecord {
            backbone: m.kind.name(),
            name: m.display_name(),
            flavor: m.flavor.name(),
            weights_path: m.provenance.path.display().to_string(),
            weights_sha256: m.provenance.sha256.clone(),
            weights_source: m.provenance.source.clone(),
            input_side: spec.side,
            normalisation: spec.norm.name(),
            feature_dim: mias::extract::feature_len(m, cfg.pooling),
            feature_cache: cache
                .dir(&cache_key(m, &cfg.augment, cfg.seed, cfg.pooling)?)
                .display()
                .to_string(),
            features: *stats,
            head: format!("heads/{}.safetensors", m.kind.name()),
        });
    }
    let heads = outcome
        .protocols
        .iter()
        .flat_map(|p| &p.output.heads)
        .chain(outcome.finals.iter().map(|f| &f.record))
        .collect();
    Ok(RunRecord {
        tool: "mias reproduce",
        version: env!("CARGO_PKG_VERSION"),
        git: git(),
        command: std::env::args().collect(),
        started_unix_s,
        config_source,
        config: cfg,
        protocols: outcome
            .protocols
            .iter()
            .map(|p| p.protocol.name())
            .collect(),
        label_variant: cfg.labels.name(),
        seeds: Seeds {
            experiment: cfg.seed,
            augmentation: cfg.seed,
            split_and_folds: cfg.seed,
            head_seeds: "derived from the experiment seed per protocol part and member: see heads[].seed",
            bootstrap: cfg.seed,
        },
        data: Data {
            dir: args.data.display().to_string(),
            images: summary.images,
            normal: summary.normal,
            abnormal: summary.abnormal,
            verified: !args.unofficial,
        },
        members: member_records,
        not_run,
        heads,
        timings_s,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        device: args.device.name().into(),
    })
}
