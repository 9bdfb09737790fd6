//! `mias reproduce`: the paper's experiment under its own protocol, a split by image and the
//! leakage-free protocol, each beside a permutation control; and the lesion method.
//!
//! Reads every hyper-parameter from a committed config (flags override a few), resolves each
//! backbone's weights (a backbone without weights is reported as not run), extracts features
//! through the cache, runs the protocols, and writes the results into a fresh directory that
//! replaces `--out` only when everything is written, so `--out` never holds a half-written run.
//! The work is the library's (`mias::prepare`, `mias::paper::method`, `mias::lesion::method`,
//! `mias::compare`, `mias::record`); this module reads the flags, composes it and prints.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use candle_core::Device;
use clap::ValueEnum;
use mias::cache::FeatureCache;
use mias::labels::LabelSource;
use mias::lesion::method::LesionRun;
use mias::lesion::{self, LesionConfig};
use mias::members::{Member, NotRun};
use mias::paper::config::Protocol;
use mias::paper::{self, PaperRun, Setup, report};
use mias::prepare::{self, DataRecord};
use mias::record::{self, Git, RunRecord, Timings};
use mias::shard::Shard;
use mias::staging::{self, Staging};
use mias_backbones::BackboneKind;
use mias_data::{Dataset, LabelVariant};

use super::Bars;

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
            Which::All | Which::Both => Protocol::every(dataset),
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
    /// seed (recorded in run.json), over women as units: the paper method's (the final heads
    /// too), and the lesion method's, where each woman takes another woman's labels and
    /// lesions side for side.
    #[arg(long)]
    pub permute_labels: Option<u64>,
    /// Compute only shard I of N of the features and dense maps into the cache, then stop
    /// without results: run shards on many machines, merge their caches by copying the
    /// directories, and a final run without --shard finds everything cached.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// What is settled before the experiment starts: the configuration, the data, the members.
struct Prepared {
    setup: Setup,
    started_unix_s: u64,
    dataset: Dataset,
    data: DataRecord,
    device: Device,
    timings: Timings,
}

/// Reads the configuration, opens the device and the data, and finds each backbone's
/// weights; nothing is written yet.
fn prepare(args: &Args) -> anyhow::Result<Prepared> {
    let started_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let overrides = paper::method::Overrides {
        backbones: (!args.backbones.is_empty()).then(|| args.backbones.clone()),
        seed: args.common.seed,
        pooling: args.common.pooling,
        labels: args.labels,
    };
    let config_path = args.common.config.as_deref();
    let (mut config, config_source) = paper::method::configure(config_path, &overrides)?;
    if args.common.batch == 0 {
        bail!("--batch must be at least 1");
    }
    staging::check_out(&args.out, record::FILE)?;
    let device = args.common.device.device()?;
    let mut timings = Timings::default();
    let t = Instant::now();
    let (dir, unofficial) = (&args.common.data, args.common.unofficial);
    let dataset = prepare::open_data(dir, unofficial)?;
    config.labels = prepare::label_variant(&dataset, config.labels);
    let data = prepare::data_record(&dataset, dir, unofficial, config.labels)?;
    timings.data = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (members, not_run) = if args.methods.contains(&Method::Paper) {
        find_weights(args, &config.backbones)?
    } else {
        (Vec::new(), Vec::new())
    };
    timings.weights = t.elapsed().as_secs_f64();
    let setup = Setup {
        config,
        config_source,
        members,
        not_run,
    };
    Ok(Prepared {
        setup,
        started_unix_s,
        dataset,
        data,
        device,
        timings,
    })
}

/// Each backbone's weights under the flags ([`prepare::find_weights`]).
fn find_weights(
    args: &Args,
    backbones: &[BackboneKind],
) -> anyhow::Result<(Vec<Member>, Vec<NotRun>)> {
    let dir = args.common.weights_dir.as_deref();
    prepare::find_weights(dir, backbones, args.common.precision)
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
    let lesion_cfg = if args.methods.contains(&Method::Lesion) {
        let path = args.lesion_config.as_deref();
        let (mut cfg, source) = lesion::method::configure(path, args.common.seed, args.labels)?;
        cfg.labels = p.dataset.label_variant(cfg.labels);
        Some((cfg, source))
    } else {
        None
    };
    let cache_dir = args.common.cache.clone();
    let cache =
        FeatureCache::new(cache_dir.unwrap_or_else(prepare::default_cache)).for_dataset(&p.dataset);
    let mut bars = Bars::new();
    if let Some(shard) = args.shard {
        return run_shard(&args, &p, lesion_cfg.as_ref(), &cache, shard, &mut bars);
    }
    let mut paper = None;
    if args.methods.contains(&Method::Paper) {
        let protocols = args.protocol.protocols(&p.dataset);
        let run = PaperRun::run(&paper_inputs(&args, &p, &protocols, &cache), &mut bars)?;
        p.timings.paper = run.timings();
        paper = Some(run);
    }
    let mut lesion = None;
    if let Some((cfg, source)) = &lesion_cfg {
        let started = Instant::now();
        eprintln!("lesion method: {source}");
        let (members, not_run) = find_weights(&args, &cfg.kinds()?)?;
        let inputs = lesion_inputs(&args, &p, cfg, &members, &cache);
        lesion = Some(LesionRun::run(
            &inputs, source, not_run, started, &mut bars,
        )?);
    }

    let t = Instant::now();
    staging::remove_on_signal()?;
    let staged = Staging::begin(&args.out)?;
    if let Some(run) = &paper {
        run.write(staged.path(), &p.dataset, &p.setup.not_run)?;
    }
    let lesion_evals = (lesion.as_ref())
        .map(|run| run.write(staged.path(), &p.dataset))
        .transpose()?;
    if let (Some(a), Some(b)) = (&paper, &lesion) {
        let (col_a, col_b) = (
            a.comparison_column(&p.dataset)?,
            b.comparison_column(&p.dataset)?,
        );
        let rule = &lesion::report::WOMAN_SCORE;
        mias::compare::compare_methods(staged.path(), col_a, col_b, rule, &b.bootstrap())?;
    }
    p.timings.evaluation_and_outputs = t.elapsed().as_secs_f64();
    p.timings.total = start.elapsed().as_secs_f64();
    RunRecord {
        schema: record::SCHEMA,
        tool: "mias reproduce".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git: Git::of_build(),
        command: std::env::args().collect(),
        started_unix_s: p.started_unix_s,
        data: p.data.clone(),
        paper: (p.setup).record(paper.as_ref(), &cache, &p.dataset, args.permute_labels)?,
        timings_s: p.timings.clone(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        device: args.common.device.name().into(),
        methods: (args.methods.iter().filter_map(ValueEnum::to_possible_value))
            .map(|m| m.get_name().to_string())
            .collect(),
        lesion: lesion.as_ref().map(LesionRun::record),
    }
    .write(staged.path())?;
    mias::html::write_report(staged.path())?;
    staged.install()?;

    for ((protocol, model), (acc, auc)) in paper.iter().flat_map(|r| report::headline(&r.evals)) {
        let auc = auc.map_or("n/a".into(), |a| format!("{a:.3}"));
        eprintln!(
            "{protocol:>16} {model:<12} accuracy {:5.1}%  AUC {auc}",
            100.0 * acc
        );
    }
    for (model, auc) in lesion::report::headline(lesion_evals.as_deref().unwrap_or_default()) {
        let auc = auc.map_or("n/a".into(), |a| {
            format!("{:.3} [{:.3}, {:.3}]", a.value, a.low, a.high)
        });
        eprintln!("lesion {model:<28} AUC {auc}");
    }
    let files = [
        paper.as_ref().map(|_| {
            "metrics.csv, table2.md, table3.md, leakage.md, roc.png/svg, confusion.png/svg, \
             predictions.csv, heads/, "
        }),
        lesion.as_ref().map(|_| "lesion/, "),
    ];
    println!(
        "wrote {} ({}run.json) in {:.0} s",
        args.out.display(),
        files.into_iter().flatten().collect::<String>(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
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
        (items, computed) = paper::method::warm_shard(&inputs, shard, bars)?;
    }
    if let Some((cfg, _)) = lesion_cfg {
        let (members, _) = find_weights(args, &cfg.kinds()?)?;
        let inputs = lesion_inputs(args, p, cfg, &members, cache);
        let (maps, computed_maps) = lesion::method::warm_shard(&inputs, shard, bars)?;
        (items, computed) = (items + maps, computed + computed_maps);
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
    let labels = match args.permute_labels {
        Some(seed) => LabelSource::Permuted { seed },
        None => LabelSource::Real,
    };
    let (config, members) = (&p.setup.config, &p.setup.members[..]);
    let (dataset, batch, device) = (&p.dataset, args.common.batch, &p.device);
    paper::Inputs {
        dataset,
        config,
        protocols,
        labels,
        members,
        cache,
        batch,
        device,
    }
}

/// What the lesion method runs on under the flags (`--permute-labels` moves films' labels).
fn lesion_inputs<'a>(
    args: &Args,
    p: &'a Prepared,
    config: &'a LesionConfig,
    members: &'a [Member],
    cache: &'a FeatureCache,
) -> lesion::Inputs<'a> {
    let (dataset, permute_labels, device) = (&p.dataset, args.permute_labels, &p.device);
    lesion::Inputs {
        dataset,
        members,
        config,
        permute_labels,
        cache,
        device,
    }
}
