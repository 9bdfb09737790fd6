//! A dataset directory on disk: Mini-MIAS (the label table, the 322 images, and their
//! verification), or any collection described by a `manifest.csv` or laid out as CBIS-DDSM.
//!
//! Mini-MIAS comes in two layouts: the official one (`Info.txt` beside `mdbNNN.pgm`) and the
//! staged lossless copy (`Info.txt` with `png/mdbNNN.png`; `mdbNNN.png` beside `Info.txt`
//! works too). A directory without `Info.txt` is opened from its `manifest.csv`, else from
//! CBIS-DDSM's case-description files (see [`crate::collection`] for how such images become
//! working images; VinDr-Mammo's tables are read too). Either way the pipeline sees the same [`ImageRecord`]s (woman and other
//! breast included) and 8-bit working images. Images are decoded lazily, one call to
//! [`Dataset::image`] at a time.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use image::GrayImage;
use sha2::{Digest, Sha256};

#[cfg(feature = "collections")]
use crate::cbis;
use crate::collection::Collection;
#[cfg(feature = "collections")]
use crate::collection::CollectionKind;
use crate::error::{Error, Result};
use crate::info::{
    IMAGE_SIDE, ImageId, ImageRecord, InfoTable, Label, LabelVariant, Labelling, PatientId, Subset,
    Summary, mdb_name, mdb_patient_name, mdb_side, parse_mdb,
};
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestImage, ManifestLesion, View};

/// The name of the label table in a dataset directory.
pub const INFO_FILE: &str = "Info.txt";

/// SHA-256 of the official `Info.txt` (identical in every faithful copy of the distribution).
pub const INFO_SHA256: &str = "78821d5ff471c27364d429424370b846a6e3fe06f470936776858103c05fbddd";

const PGM_MANIFEST: &str = include_str!("../../../data/manifests/mini-mias.pgm.sha256");
const PNG_MANIFEST: &str = include_str!("../../../data/manifests/mini-mias.png.sha256");

/// How the images of a dataset directory are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Binary PGM (`P5`), as distributed officially.
    Pgm,
    /// Lossless 8-bit greyscale PNG.
    Png,
}

impl ImageFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Pgm => "pgm",
            ImageFormat::Png => "png",
        }
    }

    /// The committed manifest of the official images in this format: `(file name, sha256)`.
    pub fn manifest(self) -> Vec<(&'static str, &'static str)> {
        let text = match self {
            ImageFormat::Pgm => PGM_MANIFEST,
            ImageFormat::Png => PNG_MANIFEST,
        };
        text.lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(hash, name)| (name.trim(), hash.trim()))
            .collect()
    }
}

/// How much [`Dataset::open_with`] checks before it returns (Mini-MIAS; a collection's
/// images are checked as they are decoded).
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Require exactly mdb001..mdb322 and verify every image and `Info.txt` against the
    /// committed SHA-256 manifests. Off only for generated test data.
    pub official: bool,
    /// The side every image must have when decoded; `None` accepts any size.
    pub side: Option<u32>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            official: true,
            side: Some(IMAGE_SIDE),
        }
    }
}

/// An opened dataset directory.
#[derive(Clone, Debug)]
pub struct Dataset {
    dir: PathBuf,
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    MiniMias {
        image_dir: PathBuf,
        format: ImageFormat,
        table: InfoTable,
        side: Option<u32>,
    },
    // Built only by the collection readers of the `collections` feature.
    #[cfg_attr(not(feature = "collections"), allow(dead_code))]
    Collection(Box<Collection>),
}

impl Dataset {
    /// Opens the complete official database and verifies every file against the manifests.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// Opens a dataset directory with explicit checks (see [`OpenOptions`]).
    pub fn open_with(dir: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let meta = std::fs::metadata(&dir).map_err(|e| Error::Directory {
            path: dir.clone(),
            reason: format!("cannot open the dataset directory: {e}"),
        })?;
        if !meta.is_dir() {
            return Err(Error::Directory {
                path: dir,
                reason: "not a directory".into(),
            });
        }
        let info = dir.join(INFO_FILE);
        if !info.is_file() {
            #[cfg(feature = "collections")]
            if dir.join(MANIFEST_FILE).is_file() {
                let manifest = Manifest::open(&dir)?;
                let collection = Collection::new(CollectionKind::Manifest, manifest)?;
                return Ok(Dataset {
                    dir,
                    source: Source::Collection(Box::new(collection)),
                });
            }
            #[cfg(feature = "collections")]
            if cbis::is_cbis_ddsm(&dir) {
                let manifest = cbis::open(&dir)?;
                let collection = Collection::new(CollectionKind::CbisDdsm, manifest)?;
                return Ok(Dataset {
                    dir,
                    source: Source::Collection(Box::new(collection)),
                });
            }
            #[cfg(feature = "collections")]
            if crate::vindr::is_vindr(&dir) {
                let manifest = crate::vindr::open(&dir)?;
                let collection = Collection::new(CollectionKind::VinDr, manifest)?;
                return Ok(Dataset {
                    dir,
                    source: Source::Collection(Box::new(collection)),
                });
            }
            let empty = std::fs::read_dir(&dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            return Err(Error::Directory {
                path: dir,
                reason: if empty {
                    "the directory is empty; import the dataset with `cargo xtask fetch-data` \
                     (offline: `--from ../shared/data/mini-mias`)"
                        .into()
                } else {
                    #[cfg(feature = "collections")]
                    let reason = format!(
                        "no {INFO_FILE} (the Mini-MIAS label table), {MANIFEST_FILE}, \
                         CBIS-DDSM case-description file or VinDr-Mammo {} in this directory",
                        crate::vindr::BREAST_FILE
                    );
                    #[cfg(not(feature = "collections"))]
                    let reason = format!(
                        "no {INFO_FILE} (the Mini-MIAS label table) in this directory; this \
                         build reads no other collection (mias-data's `collections` feature, \
                         on by default, is off)"
                    );
                    reason
                },
            });
        }
        let table = InfoTable::read(&info)?;
        if options.official {
            table.check_complete()?;
        }
        let (image_dir, format) = locate_images(&dir, &table)?;
        let dataset = Dataset {
            dir,
            source: Source::MiniMias {
                image_dir,
                format,
                table,
                side: options.side,
            },
        };
        let missing: Vec<String> = dataset
            .records()
            .iter()
            .map(|r| dataset.image_path(r.id))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            let shown = missing
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::Directory {
                path: dataset.dir,
                reason: format!("{} image(s) missing: {shown}", missing.len()),
            });
        }
        if options.official {
            dataset.verify_checksums()?;
        }
        Ok(dataset)
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `mini-mias`, `manifest`, `cbis-ddsm` or `vindr-mammo`.
    pub fn kind(&self) -> &'static str {
        match &self.source {
            Source::MiniMias { .. } => "mini-mias",
            Source::Collection(c) => c.kind.name(),
        }
    }

    /// True for Mini-MIAS (its label variants, tissue and classes apply).
    pub fn is_mini_mias(&self) -> bool {
        matches!(self.source, Source::MiniMias { .. })
    }

    /// How Mini-MIAS's images are stored (`None` for a collection, whose files may mix
    /// formats).
    pub fn format(&self) -> Option<ImageFormat> {
        match &self.source {
            Source::MiniMias { format, .. } => Some(*format),
            Source::Collection(_) => None,
        }
    }

    /// Mini-MIAS's label table (`None` for a collection).
    pub fn table(&self) -> Option<&InfoTable> {
        match &self.source {
            Source::MiniMias { table, .. } => Some(table),
            Source::Collection(_) => None,
        }
    }

    /// A collection's manifest (`None` for Mini-MIAS).
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.source {
            Source::MiniMias { .. } => None,
            Source::Collection(c) => Some(&c.manifest),
        }
    }

    /// All image records, ordered by id.
    pub fn records(&self) -> &[ImageRecord] {
        match &self.source {
            Source::MiniMias { table, .. } => table.records(),
            Source::Collection(c) => &c.records,
        }
    }

    /// The record of one image; an id the dataset does not hold is an error naming it.
    pub fn record(&self, id: ImageId) -> Result<&ImageRecord> {
        match &self.source {
            Source::MiniMias { table, .. } => table.get(id),
            Source::Collection(c) => {
                c.image_file(id)?;
                Ok(&c.records[id.index()])
            }
        }
    }

    /// The image's name in outputs: `mdbNNN`, or the collection's path as its manifest
    /// writes it.
    pub fn name(&self, id: ImageId) -> String {
        match &self.source {
            Source::MiniMias { .. } => mdb_name(id),
            Source::Collection(c) => c.name(id).unwrap_or_else(|_| format!("#{}", id.ordinal())),
        }
    }

    /// The image a name given on a command line means: `mdbNNN`, or a collection's path as its
    /// manifest writes it. The error names what was looked for and where.
    pub fn find(&self, name: &str) -> Result<ImageId> {
        let found = match &self.source {
            Source::MiniMias { table, .. } => {
                let id = parse_mdb(name)?;
                table.get(id)?;
                Some(id)
            }
            Source::Collection(c) => c.find(name),
        };
        found.ok_or_else(|| Error::UnknownImage {
            id: name.to_string(),
            reason: format!(
                "not an image of {} (give the `image` path as the manifest writes it)",
                self.dir.display()
            ),
        })
    }

    /// A woman's name in outputs: `womanNNN`, or the collection's `patient`.
    pub fn patient_name(&self, patient: PatientId) -> String {
        match &self.source {
            Source::MiniMias { .. } => mdb_patient_name(patient),
            Source::Collection(c) => c
                .patient_name(patient)
                .map_or_else(|| format!("#{}", patient.0), str::to_string),
        }
    }

    /// The name of an image's entries in the feature cache: `mdbNNN` for Mini-MIAS (verified
    /// images, so the name is the content), a hash of path and byte length for a collection.
    pub fn cache_name(&self, id: ImageId) -> String {
        match &self.source {
            Source::MiniMias { .. } => mdb_name(id),
            Source::Collection(c) => c
                .cache_name(id)
                .map_or_else(|_| format!("#{}", id.ordinal()), str::to_string),
        }
    }

    /// What the working images depend on besides their files, for the feature cache's key:
    /// `None` for Mini-MIAS (its files are the working images),
    /// [`crate::collection::WORKING_FRAME`] for a collection.
    pub fn working_frame(&self) -> Option<&'static str> {
        match &self.source {
            Source::MiniMias { .. } => None,
            Source::Collection(_) => Some(crate::collection::WORKING_FRAME),
        }
    }

    /// The official subset of an image (a manifest's `split`, CBIS-DDSM's case files), where
    /// the collection has one.
    pub fn subset(&self, id: ImageId) -> Option<Subset> {
        self.record(id).ok().and_then(|r| r.subset)
    }

    /// True when every image has an official subset and both subsets have images.
    pub fn has_official_split(&self) -> bool {
        has_official_split(self.records())
    }

    /// The labels a requested variant gives this dataset: the one place a variant is
    /// resolved. `paper` names two Mini-MIAS films, so on a collection it is `official` (the
    /// labels as written); every other variant applies as asked.
    pub fn labelling(&self, variant: LabelVariant) -> Labelling {
        match &self.source {
            Source::MiniMias { table, .. } => table.labelling(variant),
            Source::Collection(_) => match variant {
                LabelVariant::Malignant => Labelling::MALIGNANT,
                LabelVariant::Official | LabelVariant::Paper => Labelling::OFFICIAL,
            },
        }
    }

    /// The variant that applies when `variant` is asked for ([`Self::labelling`]'s).
    pub fn label_variant(&self, variant: LabelVariant) -> LabelVariant {
        self.labelling(variant).variant()
    }

    /// Counts under a label variant.
    pub fn summary(&self, variant: LabelVariant) -> Summary {
        crate::info::summarise(self.records(), self.labelling(variant), |id| self.name(id))
    }

    /// The file of one image (which need not exist for an id outside the table).
    pub fn image_path(&self, id: ImageId) -> PathBuf {
        match &self.source {
            Source::MiniMias {
                image_dir, format, ..
            } => image_dir.join(format!("{}.{}", mdb_name(id), format.extension())),
            Source::Collection(c) => match c.image_file(id) {
                Ok(m) => c.manifest.path(m),
                Err(_) => self.dir.join(format!("#{}", id.ordinal())),
            },
        }
    }

    /// Decodes one image as 8-bit greyscale: Mini-MIAS's file through
    /// [`crate::image_file::load_image`] (the one entry for every format), its size checked; a
    /// collection's working image (see [`crate::collection`]).
    pub fn image(&self, id: ImageId) -> Result<GrayImage> {
        let (table, side) = match &self.source {
            Source::MiniMias { table, side, .. } => (table, *side),
            Source::Collection(c) => return c.image(id),
        };
        table.get(id)?;
        let path = self.image_path(id);
        let image = crate::image_file::load_image(&path)?;
        if let Some(side) = side
            && image.dimensions() != (side, side)
        {
            return Err(Error::Image {
                path,
                reason: format!(
                    "expected {side}x{side} pixels, found {}x{}",
                    image.width(),
                    image.height()
                ),
            });
        }
        Ok(image)
    }

    /// Verifies `Info.txt` and every image against the committed SHA-256 manifests.
    /// Nothing to verify for a collection (it has no published checksums).
    pub fn verify_checksums(&self) -> Result<()> {
        let Source::MiniMias { table, format, .. } = &self.source else {
            return Ok(());
        };
        verify_file(&self.dir.join(INFO_FILE), INFO_SHA256)?;
        let manifest = format.manifest();
        for id in table.ids() {
            let path = self.image_path(id);
            let name = format!("{}.{}", mdb_name(id), format.extension());
            let expected = manifest
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, h)| *h)
                .ok_or_else(|| Error::Image {
                    path: path.clone(),
                    reason: "not in the official manifest".into(),
                })?;
            verify_file(&path, expected)?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Mini-MIAS as a manifest: every image of the dataset (paths relative to its directory),
    /// patients `woman001`..., sides from the ids, view MLO, labels under `variant` (images
    /// relabelled normal lose their lesions), lesion centres in the top-left origin.
    pub fn from_dataset(ds: &Dataset, variant: LabelVariant) -> Self {
        let labelling = ds.labelling(variant);
        let images = ds
            .records()
            .iter()
            .map(|r| {
                let path = ds.image_path(r.id);
                let image = path
                    .strip_prefix(ds.dir())
                    .map(Path::to_path_buf)
                    .unwrap_or(path);
                let lesions = if r.label(labelling) == Label::Normal {
                    Vec::new()
                } else {
                    r.lesions
                        .iter()
                        .map(|l| ManifestLesion {
                            severity: l.severity,
                            centre: l.centre,
                            radius: l.radius,
                            line: l.line,
                        })
                        .collect()
                };
                ManifestImage {
                    image,
                    patient: ds.patient_name(r.patient),
                    laterality: if ds.is_mini_mias() {
                        mdb_side(r.id)
                    } else {
                        ds.manifest()
                            .map_or(crate::Side::Right, |m| m.images()[r.id.index()].laterality)
                    },
                    view: View::Mlo,
                    lesions,
                    line: 0,
                    subset: None,
                }
            })
            .collect();
        Manifest::from_images(
            ds.table().map_or_else(
                || ds.dir().join(MANIFEST_FILE),
                |t| t.source().to_path_buf(),
            ),
            ds.dir().to_path_buf(),
            images,
        )
    }
}

/// True when every record has an official subset and both subsets have records.
pub fn has_official_split(records: &[ImageRecord]) -> bool {
    records.iter().all(|r| r.subset.is_some())
        && records.iter().any(|r| r.subset == Some(Subset::Train))
        && records.iter().any(|r| r.subset == Some(Subset::Test))
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn verify_file(path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual == expected {
        Ok(())
    } else {
        Err(Error::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Finds where the images of `table` live: `png/`, or beside Info.txt as PNG or PGM.
fn locate_images(dir: &Path, table: &InfoTable) -> Result<(PathBuf, ImageFormat)> {
    let Some(first) = table.ids().next().map(mdb_name) else {
        return Err(Error::Directory {
            path: dir.to_path_buf(),
            reason: "the label table lists no image".into(),
        });
    };
    let candidates = [
        (dir.to_path_buf(), ImageFormat::Pgm),
        (dir.join("png"), ImageFormat::Png),
        (dir.to_path_buf(), ImageFormat::Png),
    ];
    for (image_dir, format) in &candidates {
        if image_dir
            .join(format!("{first}.{}", format.extension()))
            .is_file()
        {
            return Ok((image_dir.clone(), *format));
        }
    }
    Err(Error::Directory {
        path: dir.to_path_buf(),
        reason: format!("no images found: looked for {first}.pgm, png/{first}.png and {first}.png"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_list_every_official_image() {
        for format in [ImageFormat::Pgm, ImageFormat::Png] {
            let m = format.manifest();
            assert_eq!(m.len(), 322);
            assert_eq!(m[0].0, format!("mdb001.{}", format.extension()));
            assert!(m.iter().all(|(_, h)| h.len() == 64));
        }
    }
}
