//! The subcommands of `mias`, one module each: `Args` (clap) and `run`.

pub mod augment;
pub mod dataset;
pub mod features;
pub mod fetch_data;
pub mod leak_sweep;
pub mod predict;
pub mod reproduce;

use std::path::Path;

use anyhow::Context;

/// Where `fetch-data` puts the dataset and other commands look for it by default.
pub const DEFAULT_DATA_DIR: &str = "data/mini-mias";

/// Opens the dataset at `dir` (verified), with advice when it is missing.
pub fn open_dataset(dir: &Path) -> anyhow::Result<mias_data::Dataset> {
    if !dir.exists() {
        anyhow::bail!(
            "no dataset at {}: run `cargo xtask fetch-data` (offline: `cargo xtask fetch-data \
             --from ../shared/data/mini-mias`), or pass --data DIR",
            dir.display()
        );
    }
    mias_data::Dataset::open(dir).with_context(|| format!("opening the dataset {}", dir.display()))
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
