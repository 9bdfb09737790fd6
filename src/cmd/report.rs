//! `mias report`: (re)writes a finished run's `report.html` from the files of its directory.

use std::path::PathBuf;

/// Options of `report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory written by `reproduce` or `leak-sweep`.
    #[arg(long)]
    pub run: PathBuf,
}

/// Runs `report`.
pub fn run(args: Args) -> anyhow::Result<()> {
    mias::html::write_report(&args.run)?;
    println!("wrote {}", args.run.join(mias::html::FILE).display());
    Ok(())
}
