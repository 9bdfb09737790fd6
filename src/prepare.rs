//! What an experiment settles before it starts, whichever method runs: the dataset opened
//! (fetched first when the default place is empty), its labels checked to hold both classes
//! ([`DataRecord`], the `data` of `run.json`), each backbone's weights found
//! ([`find_weights`]), and the feature cache's default place ([`default_cache`]). Each step
//! says on stderr what it found.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mias_backbones::weights::FetchOptions;
use mias_backbones::{BackboneKind, Precision};
use mias_data::{Dataset, LabelVariant};
use serde::{Deserialize, Serialize};

use crate::members::{self, Member, NotRun};

/// Opens the dataset at `dir` (verified against the official checksums when it is
/// Mini-MIAS), with advice when it is missing.
pub fn open_dataset(dir: &Path) -> anyhow::Result<Dataset> {
    if !dir.exists() {
        bail!(
            "no dataset at {}: run `cargo xtask fetch-data` (offline: `cargo xtask fetch-data \
             --from ../shared/data/mini-mias`), or pass --data DIR",
            dir.display()
        );
    }
    Dataset::open(dir).with_context(|| format!("opening the dataset {}", dir.display()))
}

/// Opens the dataset of an experiment, downloading Mini-MIAS first when `dir` does not exist;
/// `unofficial` accepts a Mini-MIAS layout that is not the official one (unverified, said).
pub fn open_data(dir: &Path, unofficial: bool) -> anyhow::Result<Dataset> {
    if unofficial {
        eprintln!(
            "WARNING: --unofficial: {} is not checked against the official Mini-MIAS checksums",
            dir.display()
        );
        let options = mias_data::OpenOptions {
            official: false,
            side: None,
        };
        return Dataset::open_with(dir, &options)
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
    open_dataset(dir)
}

/// The dataset a run read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRecord {
    /// Its directory.
    pub dir: String,
    /// Images.
    pub images: usize,
    /// Normal images under the run's labels.
    pub normal: usize,
    /// Abnormal images under the run's labels.
    pub abnormal: usize,
    /// Whether it was checked against the official checksums.
    pub verified: bool,
    /// `mini-mias`, `manifest` or `cbis-ddsm` (records written before collections were read
    /// are Mini-MIAS).
    #[serde(default = "mini_mias")]
    pub kind: String,
    /// Women (patients).
    #[serde(default)]
    pub patients: usize,
}

fn mini_mias() -> String {
    "mini-mias".into()
}

/// The label variant `asked` as it applies to `dataset` (`paper` names two Mini-MIAS images,
/// so a collection takes its labels as written), said on stderr when it differs.
pub fn label_variant(dataset: &Dataset, asked: LabelVariant) -> LabelVariant {
    let labels = dataset.label_variant(asked);
    if labels != asked {
        eprintln!(
            "note: labels = \"{asked}\" names two Mini-MIAS images; a {} dataset's labels are \
             taken as written (labels = \"{labels}\", recorded in run.json)",
            dataset.kind()
        );
    }
    labels
}

/// The record of `dataset`, opened from `dir` (`unofficial`: not verified), under `labels`;
/// says what it holds, and fails when one class is empty (a classifier needs both).
pub fn data_record(
    dataset: &Dataset,
    dir: &Path,
    unofficial: bool,
    labels: LabelVariant,
) -> anyhow::Result<DataRecord> {
    let summary = dataset.summary(labels);
    let verified = dataset.is_mini_mias() && !unofficial;
    eprintln!(
        "data: {} ({}, {} images of {} women{}, labels {labels}: {} normal, {} abnormal)",
        dir.display(),
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
        summary.normal,
        summary.abnormal
    );
    if summary.normal == 0 || summary.abnormal == 0 {
        bail!(
            "labels {labels}: {} of the {} images are class 0 and {} class 1; a classifier needs \
             both (CBIS-DDSM lists only images with lesions: use --labels malignant, malignant \
             against benign)",
            summary.normal,
            summary.images,
            summary.abnormal
        );
    }
    Ok(DataRecord {
        dir: dir.display().to_string(),
        images: summary.images,
        normal: summary.normal,
        abnormal: summary.abnormal,
        verified,
        kind: dataset.kind().to_string(),
        patients: summary.patients,
    })
}

/// Finds each backbone's weights in `weights_dir` (else `data/weights`, else the pinned public
/// sources), each member to compute in `precision`; says which cannot run and why, and fails
/// when none can.
pub fn find_weights(
    weights_dir: Option<&Path>,
    backbones: &[BackboneKind],
    precision: Precision,
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

/// The feature cache's default place: `features` beside the weight downloads of
/// [`FetchOptions::from_env`] (`$MIAS_CACHE_DIR/features`, else `~/.cache/mias/features`).
pub fn default_cache() -> PathBuf {
    FetchOptions::from_env()
        .url_cache
        .with_file_name("features")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A generated dataset in the Mini-MIAS layout in `dir`: films `mdb001..` of 16 px, one
    /// per entry of `abnormal` (true: a benign circumscribed mass), two films per woman.
    pub(crate) fn tiny_mini_mias(dir: &Path, abnormal: &[bool]) -> Dataset {
        let mut info = String::from("generated: REFNUM BG CLASS SEVERITY X Y RADIUS\n");
        for (i, &a) in abnormal.iter().enumerate() {
            let name = format!("mdb{:03}", i + 1);
            info.push_str(&if a {
                format!("{name} F CIRC B 8 8 3\n")
            } else {
                format!("{name} F NORM\n")
            });
            image::GrayImage::from_pixel(16, 16, image::Luma([i as u8]))
                .save(dir.join(format!("{name}.png")))
                .unwrap();
        }
        std::fs::write(dir.join("Info.txt"), info).unwrap();
        open_data(dir, true).unwrap()
    }

    #[test]
    fn the_data_record_counts_by_hand_and_one_class_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = tiny_mini_mias(tmp.path(), &[false, true, false, false, true, false]);
        let rec = data_record(&ds, Path::new("d"), true, LabelVariant::Official).unwrap();
        let expected = DataRecord {
            dir: "d".into(),
            images: 6,
            normal: 4,
            abnormal: 2,
            verified: false,
            kind: "mini-mias".into(),
            patients: 3,
        };
        assert_eq!(rec, expected);

        let tmp = tempfile::tempdir().unwrap();
        let ds = tiny_mini_mias(tmp.path(), &[false; 4]);
        let err = data_record(&ds, tmp.path(), true, LabelVariant::Official).unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("4 of the 4 images are class 0 and 0 class 1"),
            "{err}"
        );
    }

    #[test]
    fn missing_data_and_weights_directories_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let none = tmp.path().join("none");
        let err = format!("{:#}", open_dataset(&none).unwrap_err());
        assert!(
            err.contains("no dataset at") && err.contains("none"),
            "{err}"
        );
        let err = find_weights(Some(&none), &[BackboneKind::Vgg16], Precision::F32).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
