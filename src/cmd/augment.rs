//! `mias augment`: augmented views of one image, for a person to look at.

use std::path::PathBuf;

use anyhow::Context;
use mias_data::augment::{self, Augment};

/// Options of `augment`.
#[derive(clap::Args)]
pub struct Args {
    /// The dataset directory.
    #[arg(long, default_value = super::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// The image: `mdb001`, or in a manifest or CBIS-DDSM dataset its path as the manifest
    /// writes it.
    #[arg(long)]
    image: String,
    /// Seed of the draws: view v of an image under a seed is always the same picture.
    #[arg(long)]
    seed: u64,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
    /// Number of views in the grid; 1 writes a single full-size view.
    #[arg(long, default_value_t = 1)]
    grid: u32,
    /// Side of each grid tile in pixels.
    #[arg(long, default_value_t = 384)]
    tile: u32,
    /// Augmentation ranges from a TOML file with the fields of `mias_data::augment::Augment`;
    /// the paper preset when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Do not circle the lesions (Info.txt's, or the manifest's) on the views.
    #[arg(long)]
    no_marks: bool,
}

/// Runs `augment`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let aug = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<Augment>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => Augment::paper(),
    };
    aug.validate()?;
    if args.grid == 0 || args.grid > 64 {
        anyhow::bail!("--grid {}: between 1 and 64 views", args.grid);
    }
    let ds = super::open_dataset(&args.data)?;
    let id = ds.find(&args.image)?;
    let image = ds.image(id)?;
    let record = ds.record(id)?;
    let lesions: Vec<(f64, f64, f64)> = record
        .lesions
        .iter()
        .filter_map(|l| {
            let c = l.centre?;
            Some((f64::from(c.row), f64::from(c.col), f64::from(l.radius?)))
        })
        .collect();
    let views: Vec<_> = (1..=args.grid)
        .map(|view| {
            let mut rng = augment::view_rng(args.seed, id, view);
            let t = aug.draw(image.height(), image.width(), &mut rng);
            let map = t.affine(image.height(), image.width());
            let mut out = map.warp(&image, aug.fill_mode, aug.cval);
            if !args.no_marks {
                augment::mark_lesions(&mut out, &map, &lesions, 255);
            }
            out
        })
        .collect();
    let picture = if args.grid == 1 {
        views.into_iter().next().context("no view")?
    } else {
        augment::grid(&views, args.tile)?
    };
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("encoding the PNG")?;
    mias_core::fs::write_atomic(&args.out, &png)?;
    eprintln!(
        "{}: {} view(s) of {} (seed {}, {} lesion mark(s))",
        args.out.display(),
        args.grid,
        args.image,
        args.seed,
        if args.no_marks { 0 } else { lesions.len() }
    );
    Ok(())
}
