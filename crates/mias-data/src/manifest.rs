//! `manifest.csv`: the label table of any mammography collection, one row per lesion.
//!
//! ```text
//! image,patient,laterality,view,label,x,y,radius
//! P_00173/LEFT_CC.dcm,P_00173,L,CC,benign,1520,2210,180
//! P_00173/RIGHT_CC.dcm,P_00173,R,CC,normal,,,
//! P_00820/LEFT_MLO.dcm,P_00820,L,MLO,malignant,,,
//! ```
//!
//! - `image`: the file, relative to the directory of the manifest (any format
//!   [`crate::image_file::load_image`] reads: DICOM, PNG, JPEG, TIFF, PGM);
//! - `patient`: groups the images of one woman (splits keep her on one side);
//! - `laterality`: `L` or `R`; `view`: `CC` or `MLO` (case does not matter);
//! - `label`: `normal`, `benign` or `malignant`;
//! - `x`, `y`, `radius` (optional columns, optional values): a lesion's centre and radius in
//!   pixels of the image file, origin at the top-left corner (Mini-MIAS's Info.txt counts `y`
//!   from the bottom; a manifest does not);
//! - `split` (optional): the collection's official subset, `train` or `test`; when every image
//!   has one, `reproduce` runs the `official` protocol on it.
//!
//! An abnormal image has one row per lesion (its label is malignant when any lesion is); a
//! normal image has exactly one row and no lesion values. Rows of one image must agree on
//! patient, laterality and view. Other columns are refused, so a misspelt `radius` is an error
//! and not a silently missing value. Errors name the file, the line and the column.
//!
//! Patient + view + opposite laterality gives the other breast ([`Manifest::contralateral`]),
//! which bilateral scores compare.
//!
//! ```
//! # #[cfg(feature = "collections")] {
//! use mias_data::{Manifest, View};
//!
//! let text = "image,patient,laterality,view,label,x,y,radius\n\
//!             p1/l_cc.dcm,p1,L,CC,malignant,812,1033,60\n\
//!             p1/l_cc.dcm,p1,L,CC,benign,,,\n\
//!             p1/r_cc.dcm,p1,R,CC,normal,,,\n";
//! let m = Manifest::parse(text, "collection/manifest.csv".as_ref())?;
//! let s = m.summary();
//! assert_eq!((s.images, s.normal, s.malignant, s.lesions, s.pairs), (2, 1, 1, 2, 1));
//! assert_eq!(m.contralateral(0), Some(1));
//! assert_eq!(m.images()[0].view, View::Cc);
//! # }
//! # Ok::<(), mias_data::Error>(())
//! ```
//!
//! # One view of Mini-MIAS and of any manifest
//!
//! [`Manifest::from_dataset`] turns an opened Mini-MIAS [`crate::Dataset`] into the same
//! types (image paths, patients `woman001`..., sides from the ids, view MLO, lesion centres
//! already flipped to the top-left origin), and [`Manifest::summary`] gives the keys of
//! [`crate::Summary`]. The other way round, [`crate::Dataset::open`] opens a directory with a
//! `manifest.csv` for the pipeline: the manifest's images become [`crate::ImageRecord`]s (woman,
//! other breast and split as fields) and working images ([`crate::collection`]), which is all
//! protocols, splits, the feature cache and both methods read. Mini-MIAS-only facts (tissue,
//! abnormality class, the paper's relabelling) stay in [`crate::info`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg(feature = "collections")]
use crate::error::{Error, Result};
use crate::info::{Label, Pixel, Severity, Side};

/// The name of the manifest in a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.csv";

/// The columns a manifest must have.
pub const REQUIRED_COLUMNS: [&str; 5] = ["image", "patient", "laterality", "view", "label"];

/// The columns a manifest may have.
pub const OPTIONAL_COLUMNS: [&str; 4] = ["x", "y", "radius", "split"];

pub use crate::info::Subset;

/// A mammographic view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum View {
    /// Cranio-caudal.
    #[serde(rename = "CC")]
    Cc,
    /// Medio-lateral oblique (every Mini-MIAS image).
    #[serde(rename = "MLO")]
    Mlo,
}

impl View {
    /// `CC` or `MLO`.
    pub fn code(self) -> &'static str {
        match self {
            View::Cc => "CC",
            View::Mlo => "MLO",
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for View {
    type Err = String;
    /// `CC` or `MLO`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CC" => Ok(View::Cc),
            "MLO" => Ok(View::Mlo),
            _ => Err(format!("{s:?} is not CC or MLO")),
        }
    }
}

/// The other side.
pub fn opposite(side: Side) -> Side {
    match side {
        Side::Left => Side::Right,
        Side::Right => Side::Left,
    }
}

/// One lesion row of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLesion {
    /// Benign or malignant.
    pub severity: Severity,
    /// Centre in pixels of the image file, top-left origin (`row` = y, `col` = x).
    pub centre: Option<Pixel>,
    /// Radius in pixels.
    pub radius: Option<u32>,
    /// 1-based line of the manifest (0 when made from another table).
    pub line: usize,
}

/// One image of a manifest, with all its rows gathered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestImage {
    /// The file, relative to the dataset directory, as written.
    pub image: PathBuf,
    /// The woman.
    pub patient: String,
    /// Which breast.
    pub laterality: Side,
    /// Which view.
    pub view: View,
    /// The lesions; empty for a normal image.
    pub lesions: Vec<ManifestLesion>,
    /// The line of the image's first row (0 when made from another table).
    pub line: usize,
    /// The collection's official subset, where it has one.
    #[serde(default)]
    pub subset: Option<Subset>,
}

impl ManifestImage {
    /// Normal or abnormal.
    pub fn label(&self) -> Label {
        if self.lesions.is_empty() {
            Label::Normal
        } else {
            Label::Abnormal
        }
    }

    /// The worst lesion's severity; `None` for a normal image.
    pub fn severity(&self) -> Option<Severity> {
        self.lesions.iter().map(|l| l.severity).max()
    }
}

/// A parsed `manifest.csv`: images in the order of their first row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    source: PathBuf,
    dir: PathBuf,
    images: Vec<ManifestImage>,
}

/// Counts over a manifest, under the keys of [`crate::Summary`] (Mini-MIAS's `dataset --json`)
/// plus a few of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManifestSummary {
    /// `"manifest"` (Mini-MIAS gives its label variant here).
    pub labels: &'static str,
    /// Number of images.
    pub images: usize,
    /// Images labelled normal.
    pub normal: usize,
    /// Images with at least one lesion.
    pub abnormal: usize,
    /// Abnormal images whose lesions are all benign.
    pub benign: usize,
    /// Abnormal images with at least one malignant lesion.
    pub malignant: usize,
    /// Distinct patients.
    pub patients: usize,
    /// Lesion rows of the abnormal images.
    pub lesions: usize,
    /// Empty: a manifest carries no abnormality class (kept for the same keys as Mini-MIAS).
    pub by_class: BTreeMap<String, usize>,
    /// Empty: a manifest carries no tissue type (kept for the same keys as Mini-MIAS).
    pub by_tissue: BTreeMap<String, usize>,
    /// Abnormal images with at least one lesion without coordinates.
    pub without_coordinates: Vec<PathBuf>,
    /// Images per view (`CC`, `MLO`).
    pub by_view: BTreeMap<String, usize>,
    /// Images per laterality (`L`, `R`).
    pub by_laterality: BTreeMap<String, usize>,
    /// Left-right pairs (same patient and view).
    pub pairs: usize,
    /// Images without exactly one other breast (same patient and view, other side).
    pub unpaired: usize,
}

impl Manifest {
    /// Reads `dir/manifest.csv` and checks that every image file exists.
    #[cfg(feature = "collections")]
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let manifest = Self::read(&dir.join(MANIFEST_FILE))?;
        let missing: Vec<String> = manifest
            .images
            .iter()
            .filter(|m| !manifest.path(m).is_file())
            .map(|m| format!("{} (line {})", m.image.display(), m.line))
            .collect();
        if !missing.is_empty() {
            let shown = missing.iter().take(5).cloned().collect::<Vec<_>>();
            return Err(Error::Manifest {
                path: manifest.source,
                line: 0,
                column: Some("image".into()),
                reason: format!(
                    "{} image file(s) missing: {}",
                    missing.len(),
                    shown.join(", ")
                ),
            });
        }
        Ok(manifest)
    }

    /// Reads and parses a manifest file; image paths are relative to its directory.
    #[cfg(feature = "collections")]
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `source` names it in errors and its directory anchors the paths.
    #[cfg(feature = "collections")]
    pub fn parse(text: &str, source: &Path) -> Result<Self> {
        let fail = |line: usize, column: Option<&str>, reason: String| Error::Manifest {
            path: source.to_path_buf(),
            line,
            column: column.map(str::to_string),
            reason,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| fail(1, None, format!("cannot read the header row: {e}")))?
            .clone();
        let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
        let mut index = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            if !REQUIRED_COLUMNS.contains(&name.as_str())
                && !OPTIONAL_COLUMNS.contains(&name.as_str())
            {
                return Err(fail(
                    1,
                    Some(name),
                    format!(
                        "unknown column; the columns are {} and optionally {}",
                        REQUIRED_COLUMNS.join(", "),
                        OPTIONAL_COLUMNS.join(", ")
                    ),
                ));
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(fail(1, Some(name), "column given twice".into()));
            }
        }
        for required in REQUIRED_COLUMNS {
            if !index.contains_key(required) {
                return Err(fail(1, Some(required), "required column missing".into()));
            }
        }

        let mut images: Vec<ManifestImage> = Vec::new();
        let mut by_path: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                fail(line, None, format!("malformed CSV row: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.iter().all(str::is_empty) {
                continue;
            }
            let field = |name: &str| -> &str {
                index
                    .get(name)
                    .and_then(|&i| record.get(i))
                    .unwrap_or_default()
            };
            let required = |name: &'static str| -> Result<&str> {
                let value = field(name);
                if value.is_empty() {
                    Err(fail(line, Some(name), "empty".into()))
                } else {
                    Ok(value)
                }
            };
            let image = PathBuf::from(required("image")?);
            if image.is_absolute() {
                return Err(fail(
                    line,
                    Some("image"),
                    format!(
                        "{} is absolute; give the path relative to the manifest's directory",
                        image.display()
                    ),
                ));
            }
            let patient = required("patient")?.to_string();
            let laterality = match required("laterality")?.to_ascii_uppercase().as_str() {
                "L" => Side::Left,
                "R" => Side::Right,
                other => {
                    return Err(fail(
                        line,
                        Some("laterality"),
                        format!("{other:?} is not L or R"),
                    ));
                }
            };
            let view: View = required("view")?
                .parse()
                .map_err(|e| fail(line, Some("view"), e))?;
            let severity = match required("label")?.to_ascii_lowercase().as_str() {
                "normal" => None,
                "benign" => Some(Severity::Benign),
                "malignant" => Some(Severity::Malignant),
                other => {
                    return Err(fail(
                        line,
                        Some("label"),
                        format!("{other:?} is not normal, benign or malignant"),
                    ));
                }
            };
            let number = |name: &'static str| -> Result<Option<u32>> {
                let value = field(name);
                if value.is_empty() {
                    return Ok(None);
                }
                value.parse::<u32>().map(Some).map_err(|_| {
                    fail(
                        line,
                        Some(name),
                        format!("{value:?} is not a whole number of pixels (0 or more)"),
                    )
                })
            };
            let subset = match field("split").to_ascii_lowercase().as_str() {
                "" => None,
                "train" | "training" => Some(Subset::Train),
                "test" => Some(Subset::Test),
                other => {
                    return Err(fail(
                        line,
                        Some("split"),
                        format!("{other:?} is not train or test"),
                    ));
                }
            };
            let (x, y, radius) = (number("x")?, number("y")?, number("radius")?);
            let centre = match (x, y) {
                (Some(x), Some(y)) => Some(Pixel { row: y, col: x }),
                (None, None) => None,
                (Some(_), None) => return Err(fail(line, Some("y"), "x without y".into())),
                (None, Some(_)) => return Err(fail(line, Some("x"), "y without x".into())),
            };
            if radius.is_some() && centre.is_none() {
                return Err(fail(
                    line,
                    Some("radius"),
                    "a radius without x and y".into(),
                ));
            }
            let lesion = match severity {
                Some(severity) => Some(ManifestLesion {
                    severity,
                    centre,
                    radius,
                    line,
                }),
                None if centre.is_some() || radius.is_some() => {
                    let column = if centre.is_some() { "x" } else { "radius" };
                    return Err(fail(
                        line,
                        Some(column),
                        "a normal row gives no lesion position".into(),
                    ));
                }
                None => None,
            };
            match by_path.get(&image) {
                None => {
                    by_path.insert(image.clone(), images.len());
                    images.push(ManifestImage {
                        image,
                        patient,
                        laterality,
                        view,
                        lesions: lesion.into_iter().collect(),
                        line,
                        subset,
                    });
                }
                Some(&i) => {
                    let first = &mut images[i];
                    let clash = |column: &str, was: String, now: String| {
                        fail(
                            line,
                            Some(column),
                            format!(
                                "{now} differs from {was} on line {} for the same image",
                                first.line
                            ),
                        )
                    };
                    if first.patient != patient {
                        return Err(clash("patient", first.patient.clone(), patient));
                    }
                    if first.laterality != laterality {
                        return Err(clash(
                            "laterality",
                            format!("{:?}", first.laterality),
                            format!("{laterality:?}"),
                        ));
                    }
                    if first.view != view {
                        return Err(clash("view", first.view.to_string(), view.to_string()));
                    }
                    if first.subset != subset {
                        let name = |s: Option<Subset>| s.map_or("(none)", Subset::name).to_string();
                        return Err(clash("split", name(first.subset), name(subset)));
                    }
                    match lesion {
                        Some(lesion) if !first.lesions.is_empty() => first.lesions.push(lesion),
                        _ => {
                            return Err(fail(
                                line,
                                Some("label"),
                                format!(
                                    "{} already has a row on line {}; only abnormal images \
                                     have several rows (one per lesion)",
                                    first.image.display(),
                                    first.line
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if images.is_empty() {
            return Err(fail(0, None, "no image rows".into()));
        }
        Ok(Manifest {
            source: source.to_path_buf(),
            dir: source.parent().map(Path::to_path_buf).unwrap_or_default(),
            images,
        })
    }

    /// A manifest of `images` (paths relative to `dir`) made from another table, `source`.
    pub(crate) fn from_images(source: PathBuf, dir: PathBuf, images: Vec<ManifestImage>) -> Self {
        Manifest {
            source,
            dir,
            images,
        }
    }

    /// The manifest file (or the table it was made from).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The directory the image paths are relative to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The images, in the order of their first row.
    pub fn images(&self) -> &[ManifestImage] {
        &self.images
    }

    /// The file of an image.
    pub fn path(&self, image: &ManifestImage) -> PathBuf {
        self.dir.join(&image.image)
    }

    /// The distinct patients, sorted.
    pub fn patients(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.images.iter().map(|m| m.patient.as_str()).collect();
        set.into_iter().collect()
    }

    /// The other breast of image `index`: same patient and view, opposite laterality. `None`
    /// when there is none or more than one (several exams of one woman make it ambiguous).
    pub fn contralateral(&self, index: usize) -> Option<usize> {
        let me = self.images.get(index)?;
        let mut matches = self.images.iter().enumerate().filter(|(_, m)| {
            m.patient == me.patient && m.view == me.view && m.laterality == opposite(me.laterality)
        });
        match (matches.next(), matches.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// Every left-right pair `(right, left)` found by [`Self::contralateral`] both ways, in
    /// the order of the right image.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        (0..self.images.len())
            .filter(|&i| self.images[i].laterality == Side::Right)
            .filter_map(|i| {
                let j = self.contralateral(i)?;
                (self.contralateral(j) == Some(i)).then_some((i, j))
            })
            .collect()
    }

    /// Counts under the keys of Mini-MIAS's summary, plus views, sides and pairs.
    pub fn summary(&self) -> ManifestSummary {
        let mut s = ManifestSummary {
            labels: "manifest",
            images: self.images.len(),
            normal: 0,
            abnormal: 0,
            benign: 0,
            malignant: 0,
            patients: self.patients().len(),
            lesions: 0,
            by_class: BTreeMap::new(),
            by_tissue: BTreeMap::new(),
            without_coordinates: Vec::new(),
            by_view: BTreeMap::from([("CC".into(), 0), ("MLO".into(), 0)]),
            by_laterality: BTreeMap::from([("L".into(), 0), ("R".into(), 0)]),
            pairs: 0,
            unpaired: 0,
        };
        for m in &self.images {
            *s.by_view.entry(m.view.to_string()).or_default() += 1;
            let side = if m.laterality == Side::Left { "L" } else { "R" };
            *s.by_laterality.entry(side.into()).or_default() += 1;
            match m.severity() {
                None => s.normal += 1,
                Some(severity) => {
                    s.abnormal += 1;
                    s.lesions += m.lesions.len();
                    if severity == Severity::Malignant {
                        s.malignant += 1;
                    } else {
                        s.benign += 1;
                    }
                    if m.lesions.iter().any(|l| l.centre.is_none()) {
                        s.without_coordinates.push(m.image.clone());
                    }
                }
            }
        }
        s.pairs = self.pairs().len();
        s.unpaired = s.images - 2 * s.pairs;
        s
    }
}

#[cfg(all(test, feature = "collections"))]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, Path::new("data/manifest.csv"))
    }

    #[test]
    fn several_rows_are_several_lesions() {
        let m = parse(
            "image,patient,laterality,view,label,x,y,radius\n\
             a/1.dcm,P1,L,CC,benign,10,20,5\n\
             a/1.dcm,P1,L,CC,malignant,,,\n\
             a/2.dcm,P1,r,cc,normal,,,\n\
             a/3.dcm,P1,R,MLO,Normal,,,\n",
        )
        .unwrap();
        assert_eq!(m.images().len(), 3);
        let first = &m.images()[0];
        assert_eq!(first.lesions.len(), 2);
        assert_eq!(first.severity(), Some(Severity::Malignant));
        assert_eq!(first.lesions[0].centre, Some(Pixel { row: 20, col: 10 }));
        assert_eq!(first.lesions[0].line, 2);
        assert_eq!(m.path(first), Path::new("data/a/1.dcm"));
        assert_eq!(m.contralateral(0), Some(1));
        assert_eq!(m.contralateral(1), Some(0));
        assert_eq!(m.contralateral(2), None);
        assert_eq!(m.pairs(), [(1, 0)]);
        let s = m.summary();
        assert_eq!((s.images, s.normal, s.abnormal), (3, 2, 1));
        assert_eq!((s.benign, s.malignant, s.lesions), (0, 1, 2));
        assert_eq!((s.patients, s.pairs, s.unpaired), (1, 1, 1));
        assert_eq!(s.without_coordinates, [PathBuf::from("a/1.dcm")]);
        assert_eq!((s.by_view["CC"], s.by_view["MLO"]), (2, 1));
    }

    #[test]
    fn optional_columns_may_be_absent() {
        // Columns in any order; a spreadsheet's byte-order mark is no part of the first name.
        let m =
            parse("\u{feff}view,label,image,laterality,patient\nMLO,benign,x.png,R,7\n").unwrap();
        assert_eq!(m.images()[0].lesions[0].centre, None);
        assert_eq!(m.summary().without_coordinates.len(), 1);
    }

    #[test]
    fn errors_name_line_and_column() {
        let head = "image,patient,laterality,view,label,x,y,radius\n";
        let cases = [
            (
                "image,patient,view,label\n",
                ":1: column \"laterality\": required column missing",
            ),
            (
                "image,patient,laterality,view,label,raduis\n",
                "column \"raduis\": unknown column",
            ),
            (
                "a.dcm,P,X,CC,normal,,,\n",
                ":2: column \"laterality\": \"X\" is not L or R",
            ),
            (
                "a.dcm,P,L,ML,normal,,,\n",
                ":2: column \"view\": \"ML\" is not CC or MLO",
            ),
            ("a.dcm,P,L,CC,cancer,,,\n", ":2: column \"label\""),
            ("a.dcm,,L,CC,normal,,,\n", ":2: column \"patient\": empty"),
            (
                "a.dcm,P,L,CC,benign,1.5,2,3\n",
                ":2: column \"x\": \"1.5\" is not a whole",
            ),
            (
                "a.dcm,P,L,CC,benign,1,,3\n",
                ":2: column \"y\": x without y",
            ),
            ("a.dcm,P,L,CC,benign,,,3\n", ":2: column \"radius\""),
            (
                "a.dcm,P,L,CC,normal,4,5,\n",
                ":2: column \"x\": a normal row",
            ),
            (
                "a.dcm,P,L,CC,normal,,,\na.dcm,P,L,CC,normal,,,\n",
                ":3: column \"label\"",
            ),
            (
                "a.dcm,P,L,CC,benign,,,\na.dcm,P,R,CC,benign,,,\n",
                ":3: column \"laterality\"",
            ),
            (
                "a.dcm,P,L,CC,benign,,,\na.dcm,Q,L,CC,benign,,,\n",
                ":3: column \"patient\"",
            ),
            ("a.dcm,P,L,CC,normal\n", ":2: malformed CSV row"),
            ("/abs/a.dcm,P,L,CC,normal,,,\n", "is absolute"),
        ];
        for (body, expected) in cases {
            let text = if body.starts_with("image,") {
                body.to_string()
            } else {
                format!("{head}{body}")
            };
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with("data/manifest.csv"), "{err}");
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
        assert!(
            parse(head)
                .unwrap_err()
                .to_string()
                .contains("no image rows")
        );
    }
}
