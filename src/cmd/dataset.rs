//! `mias dataset`: counts of a dataset directory, as text or one JSON object.

use std::path::PathBuf;

use mias_data::LabelVariant;

/// Options of `dataset`.
#[derive(clap::Args)]
pub struct Args {
    /// The dataset directory (Info.txt and the images).
    #[arg(long, default_value = super::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Label variant: `official` (207 normal / 115 abnormal) or `paper` (mdb212 and mdb214
    /// read as normal: 209 / 113).
    #[arg(long, default_value = "official")]
    labels: LabelVariant,
    /// Print exactly one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

/// Runs `dataset`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = super::open_dataset(&args.data)?;
    let s = ds.summary(args.labels);
    if args.json {
        let mut value = serde_json::to_value(&s)?;
        value["dir"] = serde_json::Value::String(args.data.display().to_string());
        value["format"] = serde_json::to_value(ds.format())?;
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} ({:?} images, verified)",
        args.data.display(),
        ds.format()
    );
    println!("labels: {}", s.labels);
    println!("images: {} from {} women", s.images, s.patients);
    println!(
        "normal: {}  abnormal: {} (benign {}, malignant {}; {} lesion rows)",
        s.normal, s.abnormal, s.benign, s.malignant, s.lesions
    );
    let join = |m: &std::collections::BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("by class: {}", join(&s.by_class));
    println!("by tissue: {}", join(&s.by_tissue));
    let ids: Vec<String> = s
        .without_coordinates
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("abnormal without coordinates: {}", ids.join(", "));
    Ok(())
}
