//! `mias`: reproduce, audit and go beyond a published Mini-MIAS transfer-learning classifier.
//!
//! One subcommand per module in `cmd/`; people reach them through `cargo xtask <command>`,
//! which builds this binary in release mode.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "mias", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download the official Mini-MIAS archive, or import a local copy, and verify it.
    FetchData(cmd::fetch_data::Args),
    /// Summarise a dataset directory: images, labels, women, classes, tissues.
    Dataset(cmd::dataset::Args),
    /// Write augmented views of one image, as a grid for a person to look at.
    Augment(cmd::augment::Args),
    /// Run one frozen backbone on a batch and write its pooled features.
    Features(cmd::features::Args),
    /// Run the paper's experiment under its protocol, a split by image and the leakage-free
    /// protocol (each beside a permutation control), and the lesion method; write tables,
    /// figures and predictions side by side.
    Reproduce(cmd::reproduce::Args),
    /// Rerun the paper protocol over copies per image and augmentation strength, with real and
    /// permuted labels, beside the honest figure: sweep.csv and sweep.png/svg.
    LeakSweep(cmd::leak_sweep::Args),
    /// Apply a finished run's ensemble to a new mammogram (PGM or PNG).
    Predict(cmd::predict::Args),
    /// Rewrite a finished run's report.html (one self-contained page) from its files.
    Report(cmd::report::Args),
}

fn main() -> ExitCode {
    // Forward passes free and allocate outputs of tens of MiB layer after layer: keep them in
    // the heap rather than unmapping and zero-filling them again (see the function).
    mias_backbones::reuse_freed_buffers();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::FetchData(args) => cmd::fetch_data::run(args),
        Command::Dataset(args) => cmd::dataset::run(args),
        Command::Augment(args) => cmd::augment::run(args),
        Command::Features(args) => cmd::features::run(args),
        Command::Reproduce(args) => cmd::reproduce::run(args),
        Command::LeakSweep(args) => cmd::leak_sweep::run(args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Report(args) => cmd::report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, `: `-separated. The library errors print their
/// source inside their own message, so a cause already shown by the previous link is skipped.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !previous.is_empty() && previous.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        previous = text;
    }
    out
}
