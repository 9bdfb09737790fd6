//! `mias fetch-data`: the official archive, or a local copy with `--from`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use mias_data::fetch::{OFFICIAL_URL, Source, fetch};

/// Options of `fetch-data`.
#[derive(clap::Args)]
pub struct Args {
    /// Where the dataset goes.
    #[arg(long, default_value = super::DEFAULT_DATA_DIR)]
    dest: PathBuf,
    /// Import from a local directory (official or staged layout) or archive instead of
    /// downloading, e.g. `--from ../shared/data/mini-mias`.
    #[arg(long, value_name = "DIR_OR_ARCHIVE")]
    from: Option<PathBuf>,
    /// The archive to download when no `--from` is given.
    #[arg(long, default_value = OFFICIAL_URL)]
    url: String,
}

/// Runs `fetch-data`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let source = match args.from {
        Some(path) => Source::Local(path),
        None => Source::Url(args.url),
    };
    let progress = std::io::stderr().is_terminal();
    let got = fetch(&args.dest, &source, progress)
        .with_context(|| format!("fetching Mini-MIAS into {}", args.dest.display()))?;
    if got.already_present {
        println!(
            "{}: Mini-MIAS already present and verified (322 images, {:?})",
            got.dir.display(),
            got.format
        );
    } else {
        println!(
            "{}: Mini-MIAS imported from {source} and verified (322 images, {:?})",
            got.dir.display(),
            got.format
        );
    }
    Ok(())
}
