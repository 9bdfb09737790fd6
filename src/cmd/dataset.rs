//! `mias dataset`: counts of a dataset directory, as text or one JSON object. The directory is
//! Mini-MIAS (`Info.txt`), any collection described by a `manifest.csv`, CBIS-DDSM or
//! VinDr-Mammo as downloaded; all give the same keys (`images`, `normal`, `abnormal`, `benign`,
//! `malignant`, `patients`, ...), a collection with an official split its `subsets`.

use std::path::PathBuf;

use mias_data::LabelVariant;

/// Options of `dataset`.
#[derive(clap::Args)]
pub struct Args {
    /// The dataset directory: Info.txt and the images (Mini-MIAS), or a manifest.csv and the
    /// files it names (any collection).
    #[arg(long, default_value = super::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Label variant: `official` (207 normal / 115 abnormal) or `paper` (mdb212 and mdb214
    /// read as normal: 209 / 113), or `malignant` (malignant against the rest).
    #[arg(long, default_value = "official")]
    labels: LabelVariant,
    /// Print exactly one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

/// Runs `dataset`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = super::open_dataset(&args.data)?;
    if let Some(m) = ds.manifest() {
        let subsets: std::collections::BTreeMap<PathBuf, mias_data::Subset> = m
            .images()
            .iter()
            .filter_map(|i| Some((i.image.clone(), i.subset?)))
            .collect();
        return manifest(
            &args,
            m,
            ds.kind(),
            (!subsets.is_empty()).then_some(&subsets),
        );
    }
    let s = ds.summary(args.labels);
    if args.json {
        let mut value = serde_json::to_value(&s)?;
        value["dir"] = serde_json::Value::String(args.data.display().to_string());
        value["format"] = serde_json::to_value(ds.format())?;
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} ({} images, verified)",
        args.data.display(),
        ds.format().map_or(ds.kind(), |f| f.extension())
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

/// `dataset` on a collection read as a manifest (`manifest.csv`, or CBIS-DDSM's CSVs with
/// their official subsets).
fn manifest(
    args: &Args,
    m: &mias_data::Manifest,
    format: &str,
    subsets: Option<&std::collections::BTreeMap<PathBuf, mias_data::Subset>>,
) -> anyhow::Result<()> {
    let s = m.summary();
    let mut per_subset = std::collections::BTreeMap::new();
    for subset in subsets.into_iter().flat_map(|s| s.values()) {
        *per_subset.entry(*subset).or_insert(0usize) += 1;
    }
    if args.json {
        let mut value = serde_json::to_value(&s)?;
        value["dir"] = serde_json::Value::String(args.data.display().to_string());
        value["format"] = serde_json::Value::String(format.into());
        if subsets.is_some() {
            value["subsets"] = serde_json::to_value(&per_subset)?;
        }
        println!("{value}");
        return Ok(());
    }
    println!("{} ({format})", args.data.display());
    if subsets.is_some() {
        println!("official subsets: {per_subset:?}");
    }
    println!("images: {} from {} patients", s.images, s.patients);
    println!(
        "normal: {}  abnormal: {} (benign {}, malignant {}; {} lesion rows)",
        s.normal, s.abnormal, s.benign, s.malignant, s.lesions
    );
    println!(
        "left-right pairs: {} ({} images without exactly one other breast)",
        s.pairs, s.unpaired
    );
    Ok(())
}
