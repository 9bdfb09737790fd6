//! `mias reproduce`: the paper's experiment under its own protocol, a split by image and the
//! leakage-free protocol, each beside a permutation control; and the lesion method.
//!
//! Reads every hyper-parameter from a committed config (flags override a few), resolves each
//! backbone's weights (a backbone without weights is reported as not run), extracts features
//! through the cache, runs the protocols, and writes the results into a fresh directory that
//! replaces `--out` only when everything is written, so `--out` never holds a half-written run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use candle_core::Device;
use mias::cache::FeatureCache;
use mias::extract::cache_key;
use mias::labels::LabelSource;
use mias::lesion::{self, LesionConfig};
use mias::members::{self, Member, NotRun};
use mias::paper::config::{ExperimentConfig, Protocol};
use mias::paper::{self, Outcome, report};
use mias::progress::Progress;
use mias::record::{self, DataRecord, Git, MemberRecord, RunRecord, Seeds, Timings};
use mias::shard::Shard;
use mias::staging::{self, Staging};
use mias_backbones::BackboneKind;
use mias_backbones::weights::FetchOptions;
use mias_data::{Dataset, LabelVariant};

/// Which protocols to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The paper's: augment first, split by item (copies and the other breast leak).
    Paper,
    /// A random split by image, training images augmented (the other breast leaks).
    Image,
    /// Grouped stratified cross-validation, augmentation on training folds only.
    Honest,
    /// A collection's own train/test split (a manifest's `split` column, CBIS-DDSM).
    Official,
    /// All three, with the leakage report side by side, and the official split where the
    /// dataset has one.
    All,
    /// Removed (it was `paper` and `honest`); refused with the name of its replacement, `all`.
    #[value(hide = true)]
    Both,
}

impl Which {
    fn protocols(self, dataset: &Dataset) -> Vec<Protocol> {
        match self {
            Which::Paper => vec![Protocol::Paper],
            Which::Image => vec![Protocol::Image],
            Which::Honest => vec![Protocol::Honest],
            Which::Official => vec![Protocol::Official],
            Which::All | Which::Both => {
                let mut all = Protocol::ALL.to_vec();
                if dataset.has_official_split() {
                    all.push(Protocol::Official);
                }
                all
            }
        }
    }
}

/// The methods `reproduce` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The paper's: a head on each frozen backbone's pooled features, averaged.
    Paper,
    /// Dense maps of the whole film, a cell classifier, top-k image scores (leakage-free
    /// protocol only).
    Lesion,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Paper => "paper",
            Method::Lesion => "lesion",
        }
    }
}

/// Options of `reproduce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Data, weights, configuration, seed, cache, device.
    #[command(flatten)]
    pub common: super::ExperimentFlags,
    /// Comma-separated backbones: vgg16, xception, mobilenetv2, nasnetlarge (default: the
    /// config's, all four).
    #[arg(long, value_delimiter = ',')]
    pub backbones: Vec<BackboneKind>,
    /// Which protocols to run (each also with labels permuted over women: the control).
    #[arg(long, value_enum, default_value_t = Which::All)]
    pub protocol: Which,
    /// Label variant: `official` (normal against abnormal: Mini-MIAS 207/115), `paper`
    /// (209/113) or `malignant` (malignant against benign and normal: the target a collection
    /// of lesions only, CBIS-DDSM, allows).
    #[arg(long)]
    pub labels: Option<LabelVariant>,
    /// Where the results go; a previous run there is replaced once the new one is complete.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Comma-separated methods: paper, lesion.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Method::Paper, Method::Lesion])]
    pub methods: Vec<Method>,
    /// The lesion method's configuration (default: the committed data/configs/lesion.toml).
    #[arg(long)]
    pub lesion_config: Option<PathBuf>,
    /// The negative control as a whole run: labels permuted by a permutation drawn from this
    /// seed (recorded in run.json): over women for the paper method (the final heads too),
    /// each film's label and lesions to another film for the lesion method.
    #[arg(long)]
    pub permute_labels: Option<u64>,
    /// Compute only shard I of N of the features and dense maps into the cache, then stop
    /// without results: run shards on many machines, merge their caches by copying the
    /// directories, and a final run without --shard finds everything cached.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

pub(super) struct Bars {
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
}

impl Bars {
    /// Bars on a terminal, a line per step elsewhere.
    pub(super) fn new() -> Bars {
        Bars {
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }
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
pub(super) fn default_cache() -> PathBuf {
    FetchOptions::from_env()
        .url_cache
        .with_file_name("features")
}

/// Reads the config and applies the flags; errors name the flag or the key.
fn configure(args: &Args) -> anyhow::Result<(ExperimentConfig, String)> {
    let (mut cfg, source) = match &args.common.config {
        Some(path) => (ExperimentConfig::read(path)?, path.display().to_string()),
        None => (
            ExperimentConfig::paper()?,
            "data/configs/paper.toml (committed)".to_string(),
        ),
    };
    if !args.backbones.is_empty() {
        cfg.backbones = args.backbones.clone();
    }
    if let Some(seed) = args.common.seed {
        cfg.seed = seed;
    }
    if let Some(pooling) = args.common.pooling {
        cfg.pooling = pooling;
    }
    if let Some(labels) = args.labels {
        cfg.labels = labels;
    }
    cfg.validate()
        .context("after applying the command-line flags")?;
    if args.common.batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok((cfg, source))
}

/// Opens the dataset, downloading it first when the default place is empty.
pub(super) fn open_data(dir: &Path, unofficial: bool) -> anyhow::Result<mias_data::Dataset> {
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

/// What is settled before the experiment starts: the configuration, the data, the members.
struct Prepared {
    cfg: ExperimentConfig,
    config_source: String,
    started_unix_s: u64,
    dataset: Dataset,
    data: DataRecord,
    members: Vec<Member>,
    not_run: Vec<NotRun>,
    device: Device,
    timings: Timings,
}

/// Reads the configuration, opens the device and the data, and finds each backbone's
/// weights; nothing is written yet.
fn prepare(args: &Args) -> anyhow::Result<Prepared> {
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut cfg, config_source) = configure(args)?;
    staging::check_out(&args.out, record::FILE)?;
    let device = args.common.device.device()?;
    let mut timings = Timings::default();

    let t = Instant::now();
    let dataset = open_data(&args.common.data, args.common.unofficial)?;
    let labels = dataset.label_variant(cfg.labels);
    if labels != cfg.labels {
        eprintln!(
            "note: labels = \"{}\" names two Mini-MIAS images; a {} dataset's labels are taken \
             as written (labels = \"{labels}\", recorded in run.json)",
            cfg.labels,
            dataset.kind()
        );
        cfg.labels = labels;
    }
    let summary = dataset.summary(cfg.labels);
    timings.data = t.elapsed().as_secs_f64();
    let verified = dataset.is_mini_mias() && !args.common.unofficial;
    eprintln!(
        "data: {} ({}, {} images of {} women{}, labels {}: {} normal, {} abnormal)",
        args.common.data.display(),
        dataset.kind(),
        summary.images,
        summary.patients,
        if verified {
            " verified"
        } else if dataset.is_mini_mias() {
            ", NOT verified"
        } else {
            ", no published checksums"
        },
        cfg.labels,
        summary.normal,
        summary.abnormal
    );
    if summary.normal == 0 || summary.abnormal == 0 {
        bail!(
            "labels {}: {} of the {} images are class 0 and {} class 1; a classifier needs both \
             (CBIS-DDSM lists only images with lesions: use --labels malignant, malignant \
             against benign)",
            cfg.labels,
            summary.normal,
            summary.images,
            summary.abnormal
        );
    }
    let data = DataRecord {
        dir: args.common.data.display().to_string(),
        images: summary.images,
        normal: summary.normal,
        abnormal: summary.abnormal,
        verified,
        kind: dataset.kind().to_string(),
        patients: summary.patients,
    };

    let t = Instant::now();
    let (members, not_run) = if args.methods.contains(&Method::Paper) {
        resolve_members(args, &cfg.backbones)?
    } else {
        (Vec::new(), Vec::new())
    };
    timings.weights = t.elapsed().as_secs_f64();
    Ok(Prepared {
        cfg,
        config_source,
        started_unix_s,
        dataset,
        data,
        members,
        not_run,
        device,
        timings,
    })
}

/// Finds each backbone's weights; says which cannot run and why, and fails when none can.
fn resolve_members(
    args: &Args,
    backbones: &[BackboneKind],
) -> anyhow::Result<(Vec<Member>, Vec<NotRun>)> {
    find_weights(
        args.common.weights_dir.as_deref(),
        backbones,
        args.common.precision,
    )
}

/// Finds each backbone's weights in `weights_dir` (else `data/weights`, else the pinned public
/// sources); says which cannot run and why, and fails when none can.
pub(super) fn find_weights(
    weights_dir: Option<&Path>,
    backbones: &[BackboneKind],
    precision: mias_backbones::Precision,
) -> anyhow::Result<(Vec<Member>, Vec<NotRun>)> {
    let weights_dir = weights_dir
        .map(Path::to_path_buf)
        .or_else(members::default_weights_dir);
    if let Some(dir) = &weights_dir
        && !dir.is_dir()
    {
        bail!("--weights-dir {}: not a directory", dir.display());
    }
    let (mut members, not_run) =
        members::resolve_all(backbones, weights_dir.as_deref(), &FetchOptions::from_env());
    for m in &mut members {
        m.precision = precision;
    }
    for n in &not_run {
        eprintln!("NOT RUN {n}");
    }
    if members.is_empty() {
        bail!(
            "none of the backbones ({}) has weights, so nothing can run; see the reasons above",
            backbones
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for m in &members {
        eprintln!(
            "{}: {} flavor, {}, weights {} (sha256 {})",
            m.kind.display_name(),
            m.flavor,
            m.precision,
            m.provenance.path.display(),
            m.provenance.sha256
        );
    }
    Ok((members, not_run))
}

/// Runs `reproduce`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    if args.methods.is_empty() {
        bail!("--methods: name at least one of paper, lesion");
    }
    if args.protocol == Which::Both {
        bail!(
            "--protocol both was removed in 0.2.0 (it ran paper and honest); use --protocol all \
             (paper, image and honest, and official where the dataset has one), or name one \
             protocol (see CHANGELOG.md)"
        );
    }
    let mut p = prepare(&args)?;
    let lesion_cfg = args
        .methods
        .contains(&Method::Lesion)
        .then(|| configure_lesion(&args, &p.dataset))
        .transpose()?;
    let cache = FeatureCache::new(args.common.cache.clone().unwrap_or_else(default_cache))
        .for_dataset(&p.dataset);
    let mut bars = Bars::new();
    if let Some(shard) = args.shard {
        return run_shard(&args, &p, lesion_cfg.as_ref(), &cache, shard, &mut bars);
    }
    let paper = if args.methods.contains(&Method::Paper) {
        Some(run_paper(&args, &mut p, &cache, &mut bars)?)
    } else {
        None
    };
    let lesion = match &lesion_cfg {
        Some((cfg, source)) => Some(run_lesion(&args, &p, cfg, source, &cache, &mut bars)?),
        None => None,
    };

    let t = Instant::now();
    staging::remove_on_signal()?;
    let staged = Staging::begin(&args.out)?;
    if let Some((outcome, evals)) = &paper {
        let eval_cfg = report::eval_config(p.cfg.threshold, p.cfg.seed);
        report::write_results(
            staged.path(),
            outcome,
            &p.dataset,
            evals,
            &eval_cfg,
            &p.not_run,
        )?;
    }
    let mut lesion_evals = Vec::new();
    let mut lesion_record = None;
    if let (Some(run), Some((cfg, source))) = (&lesion, &lesion_cfg) {
        let dir = staged.path().join("lesion");
        let report_cfg = lesion::report::ReportConfig {
            replicates: cfg.evaluation.bootstrap_replicates,
            seed: cfg.seed,
            heatmaps_per_class: cfg.evaluation.heatmaps_per_class,
        };
        lesion_evals = lesion::report::write(&dir, &run.outcome, &p.dataset, &report_cfg)?;
        lesion::saved::save(&dir.join("models"), &run.outcome, cfg.side)?;
        lesion_record = Some(serde_json::to_value(lesion::record::LesionRecord::new(
            source.clone(),
            cfg,
            &run.outcome,
            &run.map_caches,
            run.not_run.clone(),
            run.seconds,
        ))?);
    }
    if let (Some((outcome, _)), Some(run), Some((cfg, _))) = (&paper, &lesion, &lesion_cfg) {
        compare_methods(staged.path(), outcome, &run.outcome, &p.dataset, cfg)?;
    }
    p.timings.evaluation_and_outputs = t.elapsed().as_secs_f64();
    p.timings.total = start.elapsed().as_secs_f64();
    let mut record = run_record(&args, &p, paper.as_ref().map(|(o, _)| o), &cache)?;
    record.lesion = lesion_record;
    record.write(staged.path())?;
    mias::html::write_report(staged.path())?;
    staged.install()?;

    if let Some((_, evals)) = &paper {
        for ((protocol, model), (acc, auc)) in report::headline(evals) {
            eprintln!(
                "{protocol:>16} {model:<12} accuracy {:5.1}%  AUC {}",
                100.0 * acc,
                auc.map_or("n/a".into(), |a| format!("{:.3}", a))
            );
        }
    }
    for (model, auc) in lesion::report::headline(&lesion_evals) {
        eprintln!(
            "lesion {model:<28} AUC {}",
            auc.map_or("n/a".into(), |a| format!(
                "{:.3} [{:.3}, {:.3}]",
                a.value, a.low, a.high
            ))
        );
    }
    println!(
        "wrote {} ({}run.json) in {:.0} s",
        args.out.display(),
        [
            paper.as_ref().map(|_| {
                "metrics.csv, table2.md, table3.md, leakage.md, roc.png/svg, confusion.png/svg, \
                 predictions.csv, heads/, "
            }),
            lesion.as_ref().map(|_| "lesion/, "),
        ]
        .into_iter()
        .flatten()
        .collect::<String>(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `comparisons.csv`: the lesion method's headline against the paper method's ensemble under
/// the honest protocol, on the same films (both runs on the real labels; a negative control's
/// labels differ between the methods, so none is compared).
fn compare_methods(
    dir: &Path,
    paper: &Outcome,
    lesion: &lesion::Outcome,
    dataset: &Dataset,
    cfg: &LesionConfig,
) -> anyhow::Result<()> {
    if paper.labels != LabelSource::Real || lesion.permute_labels.is_some() {
        return Ok(());
    }
    let (Some(a), Some(b)) = (
        report::honest_column(paper, mias::members::Model::Ensemble, dataset)?,
        lesion::report::headline_column(lesion, dataset)?,
    ) else {
        return Ok(());
    };
    let bootstrap = mias_eval::Bootstrap {
        replicates: cfg.evaluation.bootstrap_replicates,
        seed: cfg.seed,
    };
    let c = mias::compare::compare(&a, &b, &lesion::report::WOMAN_SCORE, 0.95, &bootstrap)?;
    mias::compare::write(&dir.join("comparisons.csv"), &[c])
}

/// `--shard I/N`: the shard's features and dense maps into the cache, nothing written to
/// `--out`.
fn run_shard(
    args: &Args,
    p: &Prepared,
    lesion_cfg: Option<&(LesionConfig, String)>,
    cache: &FeatureCache,
    shard: Shard,
    bars: &mut Bars,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let (mut items, mut computed) = (0, 0);
    if args.methods.contains(&Method::Paper) {
        let protocols = args.protocol.protocols(&p.dataset);
        let inputs = paper_inputs(args, p, &protocols, cache);
        for (kind, s) in paper::experiment::warm_cache(&inputs, shard, bars)? {
            eprintln!(
                "shard {shard}: {kind}: {} views, {} computed",
                s.items, s.computed
            );
            (items, computed) = (items + s.items, computed + s.computed);
        }
    }
    if let Some((cfg, _)) = lesion_cfg {
        let (members, _) = resolve_members(args, &cfg.kinds()?)?;
        let inputs = lesion_inputs(args, p, cfg, &members, cache);
        for (kind, s) in lesion::warm_cache(&inputs, shard, bars)? {
            eprintln!(
                "shard {shard}: {kind}: {} maps, {} computed",
                s.maps, s.computed
            );
            (items, computed) = (items + s.maps, computed + s.computed);
        }
    }
    println!(
        "shard {shard}: {items} features and maps in the cache {} ({computed} computed) in {:.0} \
         s; no results written: merge the shards' caches and run again without --shard",
        cache.root().display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the paper's method runs on under the flags (labels permuted with `--permute-labels`).
fn paper_inputs<'a>(
    args: &Args,
    p: &'a Prepared,
    protocols: &'a [Protocol],
    cache: &'a FeatureCache,
) -> paper::Inputs<'a> {
    paper::Inputs {
        dataset: &p.dataset,
        config: &p.cfg,
        protocols,
        labels: match args.permute_labels {
            Some(seed) => LabelSource::Permuted { seed },
            None => LabelSource::Real,
        },
        members: &p.members,
        cache,
        batch: args.common.batch,
        device: &p.device,
    }
}

/// What the lesion method runs on under the flags (`--permute-labels` moves films' labels).
fn lesion_inputs<'a>(
    args: &Args,
    p: &'a Prepared,
    cfg: &'a LesionConfig,
    members: &'a [Member],
    cache: &'a FeatureCache,
) -> lesion::Inputs<'a> {
    lesion::Inputs {
        dataset: &p.dataset,
        members,
        config: cfg,
        permute_labels: args.permute_labels,
        cache,
        device: &p.device,
    }
}

/// The paper's method: features, protocols, final heads, and their figures.
fn run_paper(
    args: &Args,
    p: &mut Prepared,
    cache: &FeatureCache,
    bars: &mut Bars,
) -> anyhow::Result<(Outcome, Vec<report::ProtocolEval>)> {
    let protocols = args.protocol.protocols(&p.dataset);
    let inputs = paper_inputs(args, p, &protocols, cache);
    let outcome = paper::run(&inputs, bars)?;
    for (kind, s) in &outcome.extraction {
        eprintln!(
            "{kind}: {} views, {} computed, {} from the cache, {:.1} s",
            s.items,
            s.computed,
            s.items - s.computed,
            s.seconds
        );
    }
    p.timings.features = outcome.extraction.iter().map(|(_, s)| s.seconds).sum();
    p.timings.final_heads = outcome.final_seconds;
    p.timings.paper = outcome.seconds(Protocol::Paper);
    p.timings.image = outcome.seconds(Protocol::Image);
    p.timings.honest = outcome.seconds(Protocol::Honest);
    p.timings.official = outcome.seconds(Protocol::Official);
    let eval_cfg = report::eval_config(p.cfg.threshold, p.cfg.seed);
    let evals = outcome
        .protocols
        .iter()
        .map(|o| report::evaluate(o, &outcome.members, &eval_cfg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((outcome, evals))
}

/// The lesion method's configuration, with `--seed`, `--labels` applied and the label
/// variant resolved for `dataset` (what is recorded is what applies).
fn configure_lesion(
    args: &Args,
    dataset: &mias_data::Dataset,
) -> anyhow::Result<(LesionConfig, String)> {
    let (mut cfg, source) = match &args.lesion_config {
        Some(path) => (LesionConfig::read(path)?, path.display().to_string()),
        None => (
            LesionConfig::committed()?,
            "data/configs/lesion.toml (committed)".to_string(),
        ),
    };
    if let Some(seed) = args.common.seed {
        cfg.seed = seed;
    }
    if let Some(labels) = args.labels {
        cfg.labels = labels;
    }
    cfg.labels = dataset.label_variant(cfg.labels);
    cfg.validate()
        .context("lesion configuration, after applying the command-line flags")?;
    Ok((cfg, source))
}

/// What the lesion method produced, with what its record needs.
struct LesionRun {
    outcome: lesion::Outcome,
    map_caches: Vec<String>,
    not_run: Vec<String>,
    seconds: f64,
}

/// The lesion method: its backbones' weights, dense maps, nested cross-validation.
fn run_lesion(
    args: &Args,
    p: &Prepared,
    cfg: &LesionConfig,
    source: &str,
    cache: &FeatureCache,
    bars: &mut Bars,
) -> anyhow::Result<LesionRun> {
    let t = Instant::now();
    eprintln!("lesion method: {source}");
    let (members, not_run) = resolve_members(args, &cfg.kinds()?)?;
    let inputs = lesion_inputs(args, p, cfg, &members, cache);
    let outcome = lesion::run(&inputs, bars)?;
    let map_caches = members
        .iter()
        .map(|m| {
            Ok(cache
                .dir(&lesion::maps::dense_key(
                    m,
                    lesion::maps::spec(cfg.side),
                    &p.dataset,
                ))?
                .display()
                .to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    for m in &outcome.members {
        eprintln!(
            "{}: {} maps at {} px, {} computed, {:.1} s; cross-validation {:.1} s",
            m.member.kind.display_name(),
            m.maps.maps,
            cfg.side,
            m.maps.computed,
            m.maps.seconds,
            m.cv_seconds
        );
    }
    Ok(LesionRun {
        outcome,
        map_caches,
        not_run: not_run.iter().map(|n| n.to_string()).collect(),
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// The run's record: what was settled before the experiment, what it did, and its timings.
fn run_record(
    args: &Args,
    p: &Prepared,
    outcome: Option<&Outcome>,
    cache: &FeatureCache,
) -> anyhow::Result<RunRecord> {
    let cfg = &p.cfg;
    let mut members = Vec::new();
    let extraction = outcome.map_or(&[][..], |o| &o.extraction[..]);
    for (m, (_, stats)) in p.members.iter().zip(extraction) {
        let feature_cache = cache.dir(&cache_key(
            m,
            &cfg.augment,
            cfg.seed,
            cfg.pooling,
            &p.dataset,
        )?)?;
        let head = report::head_file(m.kind);
        members.push(MemberRecord::new(
            m,
            cfg.pooling,
            *stats,
            feature_cache,
            head,
        ));
    }
    Ok(RunRecord {
        schema: record::SCHEMA,
        tool: "mias reproduce".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git: Git::of_build(),
        command: std::env::args().collect(),
        started_unix_s: p.started_unix_s,
        config_source: p.config_source.clone(),
        config: cfg.clone(),
        protocols: outcome.map_or(Vec::new(), |o| o.main().map(|o| o.protocol).collect()),
        label_variant: cfg.labels,
        seeds: Seeds {
            permutation_control: outcome.and_then(Outcome::control_seed),
            permute_labels: args.permute_labels,
            ..Seeds::from_experiment(cfg.seed)
        },
        data: p.data.clone(),
        members,
        not_run: p.not_run.clone(),
        heads: outcome.map_or(Vec::new(), Outcome::head_records),
        timings_s: p.timings.clone(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        device: args.common.device.name().into(),
        methods: args.methods.iter().map(|m| m.name().to_string()).collect(),
        lesion: None,
    })
}
