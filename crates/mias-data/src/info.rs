//! The Mini-MIAS label table (`Info.txt`): images, women, tissue, lesions and labels.
//!
//! The table is a free-text preamble, a NOTES section and one row per lesion:
//!
//! ```text
//! mdb005 F CIRC B 477 133 30      id, tissue, class, severity, x, y, radius
//! mdb003 D NORM                   normal rows carry a trailing space in the original
//! mdb216 D CALC M *NOTE 3*        abnormal, no coordinates (calcifications spread out)
//! mdb059 F CIRC B                 abnormal, no coordinates and no note
//! ```
//!
//! Several rows for one id are several lesions of one image; the image is malignant if any of
//! them is. Coordinates in the file have their origin at the bottom-left corner; [`Pixel`]
//! holds them converted to the usual top-left origin (`row = 1023 - y`). Consecutive images
//! `mdb(2k-1)` and `mdb(2k)` are the right and left breasts of woman `k`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Side of every Mini-MIAS image, in pixels.
pub const IMAGE_SIDE: u32 = 1024;

/// Number of images in the complete Mini-MIAS database.
pub const IMAGE_COUNT: u16 = 322;

/// A film of a dataset: its index among the dataset's films, wide enough for any collection
/// (up to 2^32 - 1 films). It carries no name and no woman: [`crate::Dataset::name`] gives the
/// name the dataset uses (Mini-MIAS `mdb001`, a manifest's path) and the film's
/// [`ImageRecord`] its woman and other breast. Only Info.txt's reader knows Mini-MIAS's
/// numbering: `mdbNNN` is the film at index NNN - 1 ([`mdb`], [`mdb_name`]).
/// Serialised as the index (a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(u32);

impl ImageId {
    /// The film at 0-based `index` of a dataset; an index past `u32::MAX - 1` is an error.
    pub fn from_index(index: usize) -> Result<Self> {
        u32::try_from(index)
            .ok()
            .filter(|&i| i < u32::MAX)
            .map(ImageId)
            .ok_or_else(|| Error::UnknownImage {
                id: format!("#{index}"),
                reason: format!("a dataset holds at most {} films", u32::MAX),
            })
    }

    /// The 0-based index.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The film's 1-based ordinal: what random streams (an augmented view's seed) and a
    /// collection's cache entry names are keyed by. 1-based so that Mini-MIAS's `mdbNNN` keys
    /// its streams by NNN, as it did when the id was the Mini-MIAS number.
    pub fn ordinal(self) -> u64 {
        u64::from(self.0) + 1
    }
}

/// Mini-MIAS's film `mdbNNN` for NNN = `number` (1..=999).
pub fn mdb(number: u16) -> Result<ImageId> {
    if (1..=999).contains(&number) {
        Ok(ImageId(u32::from(number) - 1))
    } else {
        Err(Error::UnknownImage {
            id: number.to_string(),
            reason: "Mini-MIAS image numbers run from 1 to 999".into(),
        })
    }
}

/// Mini-MIAS's name of a film: `mdbNNN`, NNN = index + 1.
pub fn mdb_name(id: ImageId) -> String {
    format!("mdb{:03}", id.ordinal())
}

/// Parses Mini-MIAS's `mdbNNN` (exactly three digits, 001..999).
pub fn parse_mdb(s: &str) -> Result<ImageId> {
    let bad = |reason: &str| Error::UnknownImage {
        id: s.to_string(),
        reason: reason.to_string(),
    };
    let digits = s
        .strip_prefix("mdb")
        .ok_or_else(|| bad("expected mdbNNN, e.g. mdb001"))?;
    if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected mdb followed by three digits, e.g. mdb001"));
    }
    let number: u16 = digits.parse().map_err(|_| bad("not a number"))?;
    mdb(number).map_err(|_| bad("image numbers run from 001 to 999"))
}

/// Every film of the complete Mini-MIAS database, `mdb001` to `mdb322`, in order.
pub fn mdb_all() -> impl Iterator<Item = ImageId> {
    (0..u32::from(IMAGE_COUNT)).map(ImageId)
}

/// Mini-MIAS's woman of a film: `mdb(2k-1)` (right) and `mdb(2k)` (left) are woman `k`.
pub fn mdb_patient(id: ImageId) -> PatientId {
    PatientId(id.ordinal().div_ceil(2) as u32)
}

/// Mini-MIAS's side of a film: odd numbers are right breasts, even left (Info.txt, note 1).
pub fn mdb_side(id: ImageId) -> Side {
    if id.ordinal() % 2 == 1 {
        Side::Right
    } else {
        Side::Left
    }
}

/// Mini-MIAS's other breast of a film: `mdb(2k-1)` and `mdb(2k)`.
pub fn mdb_contralateral(id: ImageId) -> ImageId {
    if id.ordinal() % 2 == 1 {
        ImageId(id.0 + 1)
    } else {
        ImageId(id.0 - 1)
    }
}

/// A woman of a dataset, as the dataset numbers them (Mini-MIAS: woman `k` of films
/// `mdb(2k-1)` and `mdb(2k)`; a collection: her order of first appearance, from 1).
/// [`crate::Dataset::patient_name`] gives her name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatientId(pub u32);

/// Mini-MIAS's name of a woman: `womanNNN`.
pub fn mdb_patient_name(patient: PatientId) -> String {
    format!("woman{:03}", patient.0)
}

/// Where a DICOM header's laterality or view was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MetaSource {
    /// ImageLaterality (0020,0062), the attribute the mammography IODs require.
    ImageLaterality,
    /// Laterality (0020,0060) of the series.
    Laterality,
    /// ViewPosition (0018,5101).
    ViewPosition,
    /// PatientOrientation (0020,0020) holding `CC` or `MLO`, as CBIS-DDSM writes it.
    PatientOrientation,
    /// A CBIS-DDSM-style PatientID (`Mass-Test_P_00173_LEFT_CC`).
    PatientId,
}

/// Which breast an image shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Odd image numbers.
    Right,
    /// Even image numbers.
    Left,
}

/// Character of the background tissue (column 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tissue {
    /// `F`.
    Fatty,
    /// `G`.
    FattyGlandular,
    /// `D`.
    DenseGlandular,
}

impl Tissue {
    /// The one-letter code used in Info.txt.
    pub fn code(self) -> &'static str {
        match self {
            Tissue::Fatty => "F",
            Tissue::FattyGlandular => "G",
            Tissue::DenseGlandular => "D",
        }
    }

    /// All tissues, in Info.txt's order.
    pub const ALL: [Tissue; 3] = [
        Tissue::Fatty,
        Tissue::FattyGlandular,
        Tissue::DenseGlandular,
    ];
}

/// Class of abnormality (column 3), for abnormal rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AbnormalityClass {
    /// `CALC`: calcification.
    Calc,
    /// `CIRC`: well-defined, circumscribed mass.
    Circ,
    /// `SPIC`: spiculated mass.
    Spic,
    /// `MISC`: other, ill-defined mass.
    Misc,
    /// `ARCH`: architectural distortion.
    Arch,
    /// `ASYM`: asymmetry.
    Asym,
    /// A lesion of a collection that gives no Mini-MIAS class (a manifest row); never read
    /// from Info.txt.
    Unspecified,
}

impl AbnormalityClass {
    /// The four-letter code used in Info.txt.
    pub fn code(self) -> &'static str {
        match self {
            AbnormalityClass::Calc => "CALC",
            AbnormalityClass::Circ => "CIRC",
            AbnormalityClass::Spic => "SPIC",
            AbnormalityClass::Misc => "MISC",
            AbnormalityClass::Arch => "ARCH",
            AbnormalityClass::Asym => "ASYM",
            AbnormalityClass::Unspecified => "UNSPECIFIED",
        }
    }

    /// All classes of Info.txt, in its order (not [`AbnormalityClass::Unspecified`]).
    pub const ALL: [AbnormalityClass; 6] = [
        AbnormalityClass::Calc,
        AbnormalityClass::Circ,
        AbnormalityClass::Spic,
        AbnormalityClass::Misc,
        AbnormalityClass::Arch,
        AbnormalityClass::Asym,
    ];
}

/// Severity of an abnormality (column 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// `B`.
    Benign,
    /// `M`.
    Malignant,
}

/// A pixel position with the origin at the top-left corner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pixel {
    /// Row, 0 at the top.
    pub row: u32,
    /// Column, 0 at the left.
    pub col: u32,
}

/// One row of the table: one lesion of one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lesion {
    /// Class of the abnormality.
    pub class: AbnormalityClass,
    /// Benign or malignant.
    pub severity: Severity,
    /// Centre of the lesion (top-left origin), where the table gives one.
    pub centre: Option<Pixel>,
    /// Approximate radius in pixels of a circle enclosing the lesion, where given.
    pub radius: Option<u32>,
    /// A note the row refers to instead of coordinates, e.g. `NOTE 3`.
    pub note: Option<String>,
    /// 1-based line of the row in the table.
    pub line: usize,
}

/// Everything the table says about one image.
///
/// The woman and the other breast are fields, not arithmetic on the id: Mini-MIAS's records
/// get them from the numbering (woman k = `mdb(2k-1)`, `mdb(2k)`), a manifest's from its
/// `patient`, `laterality` and `view` columns. Code that groups or pairs images reads them
/// here, and so serves every dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image.
    pub id: ImageId,
    /// Background tissue (Mini-MIAS; `None` for a collection that does not give it).
    pub tissue: Option<Tissue>,
    /// The lesions; empty for a normal (`NORM`) image.
    pub lesions: Vec<Lesion>,
    /// The woman.
    pub patient: PatientId,
    /// Her other breast in the same view, when the dataset has exactly one.
    pub pair: Option<ImageId>,
    /// The collection's official subset (train or test), where it has one; never for
    /// Mini-MIAS.
    pub subset: Option<Subset>,
}

impl ImageRecord {
    /// A Mini-MIAS record whose woman and other breast follow from the numbering (the other
    /// breast taken as listed); for generated tables.
    pub fn numbered(id: ImageId, tissue: Tissue, lesions: Vec<Lesion>) -> Self {
        ImageRecord {
            id,
            tissue: Some(tissue),
            lesions,
            patient: mdb_patient(id),
            pair: Some(mdb_contralateral(id)),
            subset: None,
        }
    }

    /// True for a `NORM` row.
    pub fn is_normal(&self) -> bool {
        self.lesions.is_empty()
    }

    /// The image's severity: malignant if any lesion is; `None` for a normal image.
    pub fn severity(&self) -> Option<Severity> {
        self.lesions.iter().map(|l| l.severity).max()
    }

    /// The distinct abnormality classes of the image's lesions, in Info.txt's order.
    pub fn classes(&self) -> Vec<AbnormalityClass> {
        let mut classes: Vec<_> = self.lesions.iter().map(|l| l.class).collect();
        classes.sort();
        classes.dedup();
        classes
    }

    /// The binary label under a labelling ([`LabelVariant::Malignant`]: `Abnormal` means
    /// malignant, benign and normal images are both `Normal`).
    pub fn label(&self, labelling: Labelling) -> Label {
        let positive = match labelling.variant {
            LabelVariant::Malignant => self.severity() == Some(Severity::Malignant),
            LabelVariant::Official => !self.is_normal(),
            LabelVariant::Paper => !self.is_normal() && !PAPER_NORMAL.contains(&self.id),
        };
        if positive {
            Label::Abnormal
        } else {
            Label::Normal
        }
    }
}

/// The films the paper's reading takes as normal although Info.txt lists a lesion: mdb212 and
/// mdb214 (indices 211 and 213), two tiny benign calcification clusters.
const PAPER_NORMAL: [ImageId; 2] = [ImageId(211), ImageId(213)];

/// A label variant resolved for one dataset: the only way to turn records into labels, so no
/// code can apply a variant to a dataset it does not fit. [`crate::Dataset::labelling`] (or
/// [`InfoTable::labelling`]) makes one; `paper` exists only for Mini-MIAS (its two relabelled
/// films are Mini-MIAS films), and a collection asked for it gets `official` there, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Labelling {
    variant: LabelVariant,
}

impl Labelling {
    /// Info.txt's or a manifest's labels as written: any lesion is abnormal.
    pub const OFFICIAL: Labelling = Labelling {
        variant: LabelVariant::Official,
    };
    /// Malignant against benign and normal.
    pub const MALIGNANT: Labelling = Labelling {
        variant: LabelVariant::Malignant,
    };

    /// The variant that applies (what outputs and run records name).
    pub fn variant(self) -> LabelVariant {
        self.variant
    }

    /// The label of one record.
    pub fn label(self, record: &ImageRecord) -> Label {
        record.label(self)
    }
}

/// A collection's official split (a manifest's `split` column: `train` or `test`; CBIS-DDSM's and
/// VinDr-Mammo's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subset {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

impl Subset {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Subset::Train => "train",
            Subset::Test => "test",
        }
    }
}

/// The binary target of the classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Label {
    /// No abnormality (class 0).
    Normal,
    /// Any abnormality, benign or malignant (class 1).
    Abnormal,
}

impl Label {
    /// 0 for normal, 1 for abnormal.
    pub fn index(self) -> usize {
        match self {
            Label::Normal => 0,
            Label::Abnormal => 1,
        }
    }
}

/// Which reading of the table turns into binary labels. Recorded with every result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelVariant {
    /// The table as published: 207 normal, 115 abnormal.
    #[default]
    Official,
    /// The counts the paper reports (209 normal, 113 abnormal): exactly what results when
    /// mdb212 and mdb214, two tiny benign calcification clusters, are read as normal.
    Paper,
    /// Malignant against everything else (benign and normal): the target a collection that
    /// lists only images with lesions (CBIS-DDSM) allows. Class 1 is then "malignant".
    Malignant,
}

impl LabelVariant {
    /// The variant's name on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            LabelVariant::Official => "official",
            LabelVariant::Paper => "paper",
            LabelVariant::Malignant => "malignant",
        }
    }
}

impl fmt::Display for LabelVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LabelVariant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "official" => Ok(LabelVariant::Official),
            "paper" => Ok(LabelVariant::Paper),
            "malignant" => Ok(LabelVariant::Malignant),
            _ => Err(Error::parameter(
                "label variant",
                s,
                "expected `official`, `paper` or `malignant`",
            )),
        }
    }
}

/// The parsed label table: one record per image, ordered by id.
#[derive(Clone, Debug)]
pub struct InfoTable {
    source: PathBuf,
    records: Vec<ImageRecord>,
}

impl InfoTable {
    /// Reads and parses a label table file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::InfoTable {
            path: path.to_path_buf(),
            reason: format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a label table; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Self> {
        let mut rows: BTreeMap<ImageId, (usize, Tissue, Vec<Lesion>, bool)> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let Some(row) = parse_row(raw, line, source)? else {
                continue;
            };
            let row_error = |reason: String| Error::InfoRow {
                path: source.to_path_buf(),
                line,
                text: raw.to_string(),
                reason,
            };
            match rows.get_mut(&row.id) {
                None => {
                    let normal = row.lesion.is_none();
                    rows.insert(
                        row.id,
                        (line, row.tissue, row.lesion.into_iter().collect(), normal),
                    );
                }
                Some((first, tissue, lesions, normal)) => {
                    if *tissue != row.tissue {
                        return Err(row_error(format!(
                            "tissue {} differs from {} on line {first} for the same image",
                            row.tissue.code(),
                            tissue.code()
                        )));
                    }
                    match row.lesion {
                        Some(lesion) if !*normal => lesions.push(lesion),
                        _ => {
                            return Err(row_error(format!(
                                "{} already has a row on line {first}; only abnormal images \
                                 may have several rows (one per lesion)",
                                mdb_name(row.id)
                            )));
                        }
                    }
                }
            }
        }
        if rows.is_empty() {
            return Err(Error::InfoTable {
                path: source.to_path_buf(),
                reason: "no image rows (lines of the form `mdbNNN TISSUE CLASS ...`)".into(),
            });
        }
        let listed: Vec<ImageId> = rows.keys().copied().collect();
        let records = rows
            .into_iter()
            .map(|(id, (_, tissue, lesions, _))| ImageRecord {
                id,
                tissue: Some(tissue),
                lesions,
                patient: mdb_patient(id),
                pair: listed
                    .binary_search(&mdb_contralateral(id))
                    .is_ok()
                    .then(|| mdb_contralateral(id)),
                subset: None,
            })
            .collect();
        Ok(InfoTable {
            source: source.to_path_buf(),
            records,
        })
    }

    /// Where the table was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// All records, ordered by image id.
    pub fn records(&self) -> &[ImageRecord] {
        &self.records
    }

    /// The record of one image.
    pub fn get(&self, id: ImageId) -> Result<&ImageRecord> {
        self.records
            .binary_search_by_key(&id, |r| r.id)
            .map(|i| &self.records[i])
            .map_err(|_| Error::UnknownImage {
                id: mdb_name(id),
                reason: format!("not listed in {}", self.source.display()),
            })
    }

    /// The table's images, ordered.
    pub fn ids(&self) -> impl Iterator<Item = ImageId> + '_ {
        self.records.iter().map(|r| r.id)
    }

    /// Checks that the table lists exactly mdb001..mdb322, the complete database.
    pub fn check_complete(&self) -> Result<()> {
        let missing: Vec<String> = mdb_all()
            .filter(|id| self.get(*id).is_err())
            .map(mdb_name)
            .collect();
        let extra: Vec<String> = self
            .ids()
            .filter(|id| id.ordinal() > u64::from(IMAGE_COUNT))
            .map(mdb_name)
            .collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        let mut reason = format!(
            "expected the {IMAGE_COUNT} images mdb001..mdb{IMAGE_COUNT}, found {}",
            self.records.len()
        );
        if !missing.is_empty() {
            reason += &format!("; missing {}", abbreviate(&missing));
        }
        if !extra.is_empty() {
            reason += &format!("; unexpected {}", abbreviate(&extra));
        }
        Err(Error::InfoTable {
            path: self.source.clone(),
            reason,
        })
    }

    /// The labelling a variant means for this table: every variant applies to Mini-MIAS.
    pub fn labelling(&self, variant: LabelVariant) -> Labelling {
        Labelling { variant }
    }

    /// Counts of images by label, severity, class, tissue and of women, under a label variant.
    pub fn summary(&self, variant: LabelVariant) -> Summary {
        summarise(&self.records, self.labelling(variant), mdb_name)
    }
}

/// Counts of images by label, severity, class, tissue and of women, under a label variant
/// (classes and tissues where the records give them).
pub(crate) fn summarise(
    records: &[ImageRecord],
    labelling: Labelling,
    name: impl Fn(ImageId) -> String,
) -> Summary {
    let mut s = Summary {
        labels: labelling.variant(),
        images: records.len(),
        normal: 0,
        abnormal: 0,
        benign: 0,
        malignant: 0,
        patients: 0,
        lesions: 0,
        by_class: BTreeMap::new(),
        by_tissue: BTreeMap::new(),
        without_coordinates: Vec::new(),
    };
    for c in AbnormalityClass::ALL {
        s.by_class.insert(c.code().to_string(), 0);
    }
    s.by_class.insert("NORM".to_string(), 0);
    for t in Tissue::ALL {
        s.by_tissue.insert(t.code().to_string(), 0);
    }
    let mut patients: Vec<PatientId> = records.iter().map(|r| r.patient).collect();
    patients.sort_unstable();
    patients.dedup();
    s.patients = patients.len();
    for r in records {
        if let Some(tissue) = r.tissue {
            *s.by_tissue.entry(tissue.code().to_string()).or_default() += 1;
        }
        if r.label(labelling) == Label::Normal {
            s.normal += 1;
            *s.by_class.entry("NORM".to_string()).or_default() += 1;
            continue;
        }
        s.abnormal += 1;
        s.lesions += r.lesions.len();
        match r.severity() {
            Some(Severity::Malignant) => s.malignant += 1,
            _ => s.benign += 1,
        }
        for c in r.classes() {
            *s.by_class.entry(c.code().to_string()).or_default() += 1;
        }
        if r.lesions.iter().any(|l| l.centre.is_none()) {
            s.without_coordinates.push(name(r.id));
        }
    }
    s
}

/// Counts over the table under one label variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The label variant the counts follow.
    pub labels: LabelVariant,
    /// Number of images.
    pub images: usize,
    /// Images labelled normal.
    pub normal: usize,
    /// Images labelled abnormal.
    pub abnormal: usize,
    /// Abnormal images whose lesions are all benign.
    pub benign: usize,
    /// Abnormal images with at least one malignant lesion.
    pub malignant: usize,
    /// Women with at least one image in the table.
    pub patients: usize,
    /// Lesion rows of the abnormal images.
    pub lesions: usize,
    /// Images per class code (`NORM` for normal); an image with lesions of two classes counts
    /// under both.
    pub by_class: BTreeMap<String, usize>,
    /// Images per tissue code (F, G, D).
    pub by_tissue: BTreeMap<String, usize>,
    /// Abnormal images with at least one lesion that has no coordinates, by name.
    pub without_coordinates: Vec<String>,
}

fn abbreviate(items: &[String]) -> String {
    if items.len() <= 8 {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..8].join(", "), items.len() - 8)
    }
}

struct Row {
    id: ImageId,
    tissue: Tissue,
    lesion: Option<Lesion>,
}

/// Parses one line; `Ok(None)` for preamble, notes and blank lines.
fn parse_row(raw: &str, line: usize, source: &Path) -> Result<Option<Row>> {
    let tokens: Vec<&str> = raw.split_whitespace().collect();
    let Some(first) = tokens.first() else {
        return Ok(None);
    };
    // Image rows are the lines whose first word is `mdb` followed by something with a digit
    // in it (a malformed id is an error, not prose); every other line is preamble or notes.
    let is_row = first
        .strip_prefix("mdb")
        .is_some_and(|rest| rest.bytes().any(|b| b.is_ascii_digit()));
    if !is_row {
        return Ok(None);
    }
    let error = |reason: String| Error::InfoRow {
        path: source.to_path_buf(),
        line,
        text: raw.to_string(),
        reason,
    };
    let id = parse_mdb(first).map_err(|e: Error| error(e.to_string()))?;
    let tissue = match tokens.get(1) {
        Some(&"F") => Tissue::Fatty,
        Some(&"G") => Tissue::FattyGlandular,
        Some(&"D") => Tissue::DenseGlandular,
        Some(other) => return Err(error(format!("tissue {other:?} is not F, G or D"))),
        None => return Err(error("missing tissue (column 2)".into())),
    };
    let class = match tokens.get(2) {
        Some(&"NORM") => None,
        Some(&"CALC") => Some(AbnormalityClass::Calc),
        Some(&"CIRC") => Some(AbnormalityClass::Circ),
        Some(&"SPIC") => Some(AbnormalityClass::Spic),
        Some(&"MISC") => Some(AbnormalityClass::Misc),
        Some(&"ARCH") => Some(AbnormalityClass::Arch),
        Some(&"ASYM") => Some(AbnormalityClass::Asym),
        Some(other) => {
            return Err(error(format!(
                "class {other:?} is not one of CALC, CIRC, SPIC, MISC, ARCH, ASYM, NORM"
            )));
        }
        None => return Err(error("missing class of abnormality (column 3)".into())),
    };
    let Some(class) = class else {
        if tokens.len() > 3 {
            return Err(error(format!(
                "a NORM row has no further columns, found {:?}",
                tokens[3..].join(" ")
            )));
        }
        return Ok(Some(Row {
            id,
            tissue,
            lesion: None,
        }));
    };
    let severity = match tokens.get(3) {
        Some(&"B") => Severity::Benign,
        Some(&"M") => Severity::Malignant,
        Some(other) => return Err(error(format!("severity {other:?} is not B or M"))),
        None => {
            return Err(error(
                "an abnormal row needs a severity, B or M (column 4)".into(),
            ));
        }
    };
    let rest = &tokens[4..];
    let mut lesion = Lesion {
        class,
        severity,
        centre: None,
        radius: None,
        note: None,
        line,
    };
    match rest {
        [] => {}
        [x, y, r] => {
            let coordinate = |name: &str, v: &str| -> Result<u32> {
                let n: u32 = v
                    .parse()
                    .map_err(|_| error(format!("{name} {v:?} is not a whole number")))?;
                if n >= IMAGE_SIDE {
                    return Err(error(format!(
                        "{name} {n} is outside the image (0..={})",
                        IMAGE_SIDE - 1
                    )));
                }
                Ok(n)
            };
            let x = coordinate("x", x)?;
            let y = coordinate("y", y)?;
            let radius: u32 = r
                .parse()
                .map_err(|_| error(format!("radius {r:?} is not a whole number")))?;
            if radius == 0 {
                return Err(error("radius 0: a lesion has a positive radius".into()));
            }
            lesion.centre = Some(Pixel {
                row: IMAGE_SIDE - 1 - y,
                col: x,
            });
            lesion.radius = Some(radius);
        }
        _ if rest.join(" ").starts_with('*') && rest.join(" ").ends_with('*') => {
            let note = rest.join(" ");
            lesion.note = Some(note.trim_matches('*').trim().to_string());
        }
        _ => {
            return Err(error(format!(
                "expected x, y and radius (three whole numbers), a `*NOTE n*` marker or \
                 nothing after the severity, found {:?}",
                rest.join(" ")
            )));
        }
    }
    Ok(Some(Row {
        id,
        tissue,
        lesion: Some(lesion),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
  MINI MIAS preamble, free text
1st column: reference number.
mdb files are listed below (prose that starts with the word mdb)
NOTES
=====
1) pairs of films
mdb001 G CIRC B 535 425 197
mdb002 G CIRC B 522 280 69
mdb003 D NORM \n\
mdb004 D NORM \n\
mdb005 F CIRC B 477 133 30
mdb005 F CIRC B 500 168 26
mdb059 F CIRC B
mdb144 F MISC B 233 994 29
mdb144 F MISC M 313 540 27
mdb216 D CALC M *NOTE 3* \n\
=================================================================
";

    fn parse(text: &str) -> Result<InfoTable> {
        InfoTable::parse(text, Path::new("Info.txt"))
    }

    fn m(number: u16) -> ImageId {
        mdb(number).unwrap()
    }

    #[test]
    fn parses_rows_lesions_and_notes() {
        let t = parse(SAMPLE).unwrap();
        let ids: Vec<String> = t.ids().map(mdb_name).collect();
        assert_eq!(
            ids,
            [
                "mdb001", "mdb002", "mdb003", "mdb004", "mdb005", "mdb059", "mdb144", "mdb216"
            ]
        );
        let r5 = t.get(parse_mdb("mdb005").unwrap()).unwrap();
        assert_eq!(r5.lesions.len(), 2);
        assert_eq!(r5.tissue, Some(Tissue::Fatty));
        // Bottom-left origin: y = 133 is row 1023 - 133 = 890.
        assert_eq!(r5.lesions[0].centre, Some(Pixel { row: 890, col: 477 }));
        assert_eq!(r5.lesions[1].radius, Some(26));
        assert!(t.get(m(3)).unwrap().is_normal());
        let r59 = t.get(m(59)).unwrap();
        assert_eq!(
            (r59.lesions[0].centre, r59.lesions[0].note.as_deref()),
            (None, None)
        );
        let r216 = t.get(m(216)).unwrap();
        assert_eq!(r216.lesions[0].note.as_deref(), Some("NOTE 3"));
        assert_eq!(r216.severity(), Some(Severity::Malignant));
        // One benign and one malignant lesion: the image is malignant.
        assert_eq!(t.get(m(144)).unwrap().severity(), Some(Severity::Malignant));
    }

    #[test]
    fn summary_counts_images_not_rows() {
        let s = parse(SAMPLE).unwrap().summary(LabelVariant::Official);
        assert_eq!((s.images, s.normal, s.abnormal), (8, 2, 6));
        assert_eq!((s.benign, s.malignant), (4, 2));
        assert_eq!(s.lesions, 8);
        assert_eq!(s.patients, 6); // women 1, 2, 3, 30, 72 and 108
        assert_eq!(s.by_class["CIRC"], 4);
        assert_eq!(s.without_coordinates, ["mdb059", "mdb216"]);
    }

    #[test]
    fn patients_and_sides() {
        assert_eq!(mdb_patient(m(1)), PatientId(1));
        assert_eq!(mdb_patient(m(2)), PatientId(1));
        assert_eq!(mdb_patient(m(3)), PatientId(2));
        assert_eq!(mdb_patient(m(322)), PatientId(161));
        assert_eq!(mdb_side(m(7)), Side::Right);
        assert_eq!(mdb_side(m(8)), Side::Left);
        assert_eq!(mdb_contralateral(m(7)), m(8));
        assert_eq!(mdb_contralateral(m(8)), m(7));
        assert_eq!(m(1).index(), 0);
        assert_eq!(mdb_name(m(7)), "mdb007");
        assert_eq!(mdb_patient_name(PatientId(7)), "woman007");
    }

    #[test]
    fn image_ids_parse_strictly() {
        assert_eq!(parse_mdb("mdb042").unwrap(), m(42));
        for bad in ["mdb42", "mdb0042", "MDB042", "42", "mdb000", "mdb04x", ""] {
            assert!(parse_mdb(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let cases = [
            ("mdb001 X NORM", "tissue \"X\""),
            ("mdb001 F", "missing class"),
            ("mdb001 F BLOB B", "class \"BLOB\""),
            ("mdb001 F CIRC", "needs a severity"),
            ("mdb001 F CIRC Q 1 2 3", "severity \"Q\""),
            ("mdb001 F CIRC B 1 2", "expected x, y and radius"),
            ("mdb001 F CIRC B 1 2 x", "radius \"x\""),
            ("mdb001 F CIRC B 1 2000 5", "outside the image"),
            ("mdb001 F CIRC B 1 2 0", "radius 0"),
            ("mdb001 F NORM 5", "NORM row has no further columns"),
            ("mdbx01 F NORM", "expected mdb followed by three digits"),
            ("  mdb01 F NORM", "expected mdb followed by three digits"),
        ];
        for (row, expected) in cases {
            let text = format!("preamble\n\n{row}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with("Info.txt:3: ") && err.contains(expected),
                "{row:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn inconsistent_repeated_rows_are_errors() {
        let normal_twice = parse("mdb001 F NORM \nmdb001 F NORM \n").unwrap_err();
        assert!(
            normal_twice
                .to_string()
                .contains("Info.txt:2: mdb001 already has a row on line 1")
        );
        let mixed = parse("mdb001 F CIRC B 1 2 3\nmdb001 F NORM\n").unwrap_err();
        assert!(mixed.to_string().contains("already has a row"));
        let tissue = parse("mdb001 F CIRC B 1 2 3\nmdb001 D CIRC B 4 5 6\n").unwrap_err();
        assert!(
            tissue
                .to_string()
                .contains("tissue D differs from F on line 1")
        );
        let empty = parse("only prose\n").unwrap_err();
        assert!(empty.to_string().contains("no image rows"));
    }

    #[test]
    fn paper_variant_relabels_two_calcifications() {
        let t = parse("mdb212 G CALC B 687 882 3\nmdb213 G CALC M 547 520 45\n").unwrap();
        let official = t.summary(LabelVariant::Official);
        let paper = t.summary(LabelVariant::Paper);
        assert_eq!((official.normal, official.abnormal), (0, 2));
        assert_eq!((paper.normal, paper.abnormal), (1, 1));
        assert_eq!(paper.by_class["CALC"], 1);
    }

    #[test]
    fn incomplete_table_is_reported() {
        let t = parse("mdb001 F NORM\nmdb400 F NORM\n").unwrap();
        let err = t.check_complete().unwrap_err().to_string();
        assert!(err.contains("missing mdb002"), "{err}");
        assert!(err.contains("unexpected mdb400"), "{err}");
    }
}
