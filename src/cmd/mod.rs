//! The subcommands of `mias`, one module each: `Args` (clap) and `run`.

pub mod augment;
pub mod dataset;
pub mod features;
pub mod fetch_data;
pub mod leak_sweep;
pub mod predict;
pub mod report;
pub mod reproduce;

use std::io::IsTerminal;

#[cfg(feature = "cuda")]
use anyhow::Context;

/// Where `fetch-data` puts the dataset and other commands look for it by default.
pub const DEFAULT_DATA_DIR: &str = "data/mini-mias";

pub use mias::prepare::open_dataset;

/// Progress of long steps: a bar on a terminal, a line per step elsewhere.
pub struct Bars {
    bar: Option<indicatif::ProgressBar>,
    enabled: bool,
}

impl Bars {
    /// Bars on a terminal, a line per step elsewhere.
    pub fn new() -> Bars {
        Bars {
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }
}

impl mias::progress::Progress for Bars {
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

/// Where backbones and heads run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// The CPU (every core, through rayon and gemm).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with the `cuda` feature: `cargo xtask --cuda ...`).
    Cuda,
}

impl DeviceArg {
    /// The candle device, or why there is none.
    pub fn device(self) -> anyhow::Result<candle_core::Device> {
        match self {
            DeviceArg::Cpu => Ok(candle_core::Device::Cpu),
            #[cfg(feature = "cuda")]
            DeviceArg::Cuda => {
                candle_core::Device::new_cuda(0).context("opening CUDA device 0 (--device cuda)")
            }
            #[cfg(not(feature = "cuda"))]
            DeviceArg::Cuda => anyhow::bail!(
                "--device cuda: this build has no CUDA support; build it with `cargo xtask --cuda \
                 <command>` (needs nvcc) or use --device cpu"
            ),
        }
    }

    /// The name in run records.
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        }
    }
}

/// The flags every experiment command shares (`reproduce`, `leak-sweep`): the data, the
/// weights, the configuration and seed, the cache, and where the backbones run.
#[derive(clap::Args, Debug)]
pub struct ExperimentFlags {
    /// The dataset directory: Mini-MIAS (`Info.txt`; fetched from the official site when the
    /// default place is empty; offline: `--data ../shared/data/mini-mias`), or a collection
    /// (`manifest.csv`, CBIS-DDSM or VinDr-Mammo as downloaded).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data: std::path::PathBuf,
    /// A directory of weight files (vgg16.keras.safetensors, mobilenetv2.coral.safetensors,
    /// xception.keras.safetensors, <backbone>.timm.safetensors); without one, `data/weights`
    /// when it exists, then the pinned public sources through the local caches.
    #[arg(long)]
    pub weights_dir: Option<std::path::PathBuf>,
    /// Seed of every random draw (default: the config's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How each backbone's last feature map becomes the head's input: `avg` or `flatten`
    /// (default: the config's).
    #[arg(long)]
    pub pooling: Option<mias::paper::config::Pooling>,
    /// Configuration file (default: the committed data/configs/paper.toml).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// The feature cache (default: $MIAS_CACHE_DIR/features, else ~/.cache/mias/features).
    #[arg(long)]
    pub cache: Option<std::path::PathBuf>,
    /// Images per backbone forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Where backbones and heads run.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Accept a dataset in the Mini-MIAS layout that is not the official one (a subset, other
    /// images or sizes): skips the checksum verification, says so, and records it.
    #[arg(long)]
    pub unofficial: bool,
    /// The arithmetic of the backbones' dense convolutions: `f32` (the default, the paper's
    /// reproduction and the parity tests) or `bf16` (bf16 operands, f32 accumulation, on the
    /// CPU's AVX512-BF16 unit where it has one); recorded in run.json and the cache keys.
    #[arg(long, default_value = "f32")]
    pub precision: mias_backbones::Precision,
}
