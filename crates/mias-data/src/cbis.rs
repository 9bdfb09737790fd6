//! CBIS-DDSM as distributed: the case-description CSVs (mass and calcification, training and
//! test) beside the DICOM tree of the TCIA download, read into a [`Manifest`] with each
//! image's official subset.
//!
//! ```text
//! DIR/mass_case_description_train_set.csv      (any of the four files; at least one)
//! DIR/calc_case_description_test_set.csv
//! DIR/CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/<study uid>/<series uid>/1-1.dcm
//! ```
//!
//! Facts of the distribution this reader handles:
//! - a row is one lesion (`abnormality id`); an image with several lesions has several rows;
//! - `pathology` is `MALIGNANT`, `BENIGN` or `BENIGN_WITHOUT_CALLBACK` (read as benign); every
//!   image of CBIS-DDSM holds a lesion, so there are no normal images;
//! - the CSV's `image file path` names `.../000000.dcm`, while the TCIA download names the file
//!   `1-1.dcm` under the same folder: the first path component (e.g.
//!   `Mass-Training_P_00001_LEFT_CC`) is looked up under `DIR/CBIS-DDSM/` then `DIR/`, and
//!   must hold exactly one DICOM file (the full mammogram);
//! - the mass files spell the density column `breast_density`, the calcification files
//!   `breast density`: headers are matched case-insensitively with spaces and underscores
//!   alike, and unused columns are ignored;
//! - quoted paths may end in a newline; fields are trimmed.
//!
//! Lesion positions: CBIS-DDSM gives them as ROI mask images, not as centres and radii; they
//! are not read here (every lesion has no position), which leaves the lesion method's cell
//! labels to a later reader of the masks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::{Severity, Side};
use crate::manifest::{Manifest, ManifestImage, ManifestLesion, View};

/// The four case-description files and the official subset each belongs to.
pub const CASE_FILES: [(&str, Subset); 4] = [
    ("mass_case_description_train_set.csv", Subset::Train),
    ("calc_case_description_train_set.csv", Subset::Train),
    ("mass_case_description_test_set.csv", Subset::Test),
    ("calc_case_description_test_set.csv", Subset::Test),
];

/// CBIS-DDSM's official split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subset {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// A CBIS-DDSM directory read: the manifest of its full mammograms and each image's subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CbisDdsm {
    /// Every full mammogram with its lesions.
    pub manifest: Manifest,
    /// The official subset of each image (by the manifest's image path).
    pub subsets: BTreeMap<PathBuf, Subset>,
}

/// True when `dir` holds at least one of the case-description files.
pub fn is_cbis_ddsm(dir: &Path) -> bool {
    CASE_FILES.iter().any(|(f, _)| dir.join(f).is_file())
}

/// Reads the case-description files present in `dir` and finds every image's DICOM file.
pub fn open(dir: impl AsRef<Path>) -> Result<CbisDdsm> {
    let dir = dir.as_ref();
    let mut images: Vec<ManifestImage> = Vec::new();
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut subsets = BTreeMap::new();
    let mut read_any = false;
    for (name, subset) in CASE_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        read_any = true;
        for row in read_case_file(&path)? {
            let image = find_dicom(dir, &row.folder).map_err(|reason| Error::Manifest {
                path: path.clone(),
                line: row.line,
                column: Some("image file path".into()),
                reason,
            })?;
            let lesion = ManifestLesion {
                severity: row.severity,
                centre: None,
                radius: None,
                line: row.line,
            };
            match index.get(&image) {
                Some(&i) => images[i].lesions.push(lesion),
                None => {
                    index.insert(image.clone(), images.len());
                    subsets.insert(image.clone(), subset);
                    images.push(ManifestImage {
                        image,
                        patient: row.patient,
                        laterality: row.side,
                        view: row.view,
                        lesions: vec![lesion],
                        line: row.line,
                    });
                }
            }
        }
    }
    if !read_any {
        return Err(Error::Manifest {
            path: dir.to_path_buf(),
            line: 0,
            column: None,
            reason: format!(
                "no CBIS-DDSM case-description file ({})",
                CASE_FILES.map(|(f, _)| f).join(", ")
            ),
        });
    }
    Ok(CbisDdsm {
        manifest: Manifest::from_images(dir.join(CASE_FILES[0].0), dir.to_path_buf(), images),
        subsets,
    })
}

/// One lesion row of a case-description file.
struct CaseRow {
    line: usize,
    patient: String,
    side: Side,
    view: View,
    severity: Severity,
    /// The first component of `image file path`: the image's folder.
    folder: String,
}

/// `breast density`, `breast_density` and `Breast Density` alike.
fn normalise(header: &str) -> String {
    header.trim().to_ascii_lowercase().replace(['_', ' '], "")
}

fn read_case_file(path: &Path) -> Result<Vec<CaseRow>> {
    let fail = |line: usize, column: Option<&str>, reason: String| Error::Manifest {
        path: path.to_path_buf(),
        line,
        column: column.map(str::to_string),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| fail(1, None, format!("cannot read the header row: {e}")))?
        .iter()
        .map(normalise)
        .collect();
    let wanted = [
        "patient_id",
        "left or right breast",
        "image view",
        "pathology",
        "image file path",
    ];
    let mut at = Vec::with_capacity(wanted.len());
    for name in wanted {
        let position = header.iter().position(|h| *h == normalise(name));
        at.push(position.ok_or_else(|| fail(1, Some(name), "missing column".into()))?);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            fail(line, None, format!("unreadable row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |k: usize| record.get(at[k]).unwrap_or("").trim();
        let side = match field(1).to_ascii_uppercase().as_str() {
            "LEFT" => Side::Left,
            "RIGHT" => Side::Right,
            other => {
                return Err(fail(
                    line,
                    Some(wanted[1]),
                    format!("{other:?} is not LEFT or RIGHT"),
                ));
            }
        };
        let view: View = field(2)
            .parse()
            .map_err(|e: String| fail(line, Some(wanted[2]), e))?;
        let severity = match field(3).to_ascii_uppercase().as_str() {
            "MALIGNANT" => Severity::Malignant,
            "BENIGN" | "BENIGN_WITHOUT_CALLBACK" => Severity::Benign,
            other => {
                return Err(fail(
                    line,
                    Some(wanted[3]),
                    format!("{other:?} is not MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK"),
                ));
            }
        };
        let patient = field(0).to_string();
        if patient.is_empty() {
            return Err(fail(line, Some(wanted[0]), "empty".into()));
        }
        let folder = field(4)
            .split(['/', '\\'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if folder.is_empty() {
            return Err(fail(line, Some(wanted[4]), "empty".into()));
        }
        rows.push(CaseRow {
            line,
            patient,
            side,
            view,
            severity,
            folder,
        });
    }
    Ok(rows)
}

/// The one DICOM file under `folder` (in `dir/CBIS-DDSM/` or `dir/`), relative to `dir`.
fn find_dicom(dir: &Path, folder: &str) -> std::result::Result<PathBuf, String> {
    let candidates = [Path::new("CBIS-DDSM").join(folder), PathBuf::from(folder)];
    let Some(base) = candidates.iter().find(|c| dir.join(c).is_dir()) else {
        return Err(format!(
            "no folder {folder} under {} or {}",
            dir.join("CBIS-DDSM").display(),
            dir.display()
        ));
    };
    let mut found = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(rel) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .map_err(|e| format!("cannot list {}: {e}", dir.join(&rel).display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
            let name = rel.join(entry.file_name());
            if dir.join(&name).is_dir() {
                stack.push(name);
            } else if name
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
            {
                found.push(name);
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("no .dcm file under {}", dir.join(base).display())),
        n => Err(format!(
            "{n} .dcm files under {} where the full mammogram should be the only one",
            dir.join(base).display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "patient_id,breast_density,left or right breast,image view,\
                          abnormality id,abnormality type,mass shape,mass margins,assessment,\
                          pathology,subtlety,image file path,cropped image file path,ROI mask \
                          file path\n";

    fn layout(dir: &Path, folders: &[&str]) {
        for f in folders {
            let d = dir.join("CBIS-DDSM").join(f).join("1.2.3").join("4.5.6");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("1-1.dcm"), b"not read here").unwrap();
        }
    }

    #[test]
    fn case_files_become_a_manifest_with_the_official_subsets() {
        let dir = tempfile::tempdir().unwrap();
        layout(
            dir.path(),
            &[
                "Mass-Training_P_00001_LEFT_CC",
                "Mass-Test_P_00002_RIGHT_MLO",
            ],
        );
        let train = format!(
            "{HEADER}P_00001,3,LEFT,CC,1,mass,OVAL,CIRCUMSCRIBED,4,MALIGNANT,4,\
             Mass-Training_P_00001_LEFT_CC/1.2/3.4/000000.dcm,x,y\n\
             P_00001,3,LEFT,CC,2,mass,OVAL,CIRCUMSCRIBED,3,BENIGN,4,\
             \"Mass-Training_P_00001_LEFT_CC/1.2/3.4/000000.dcm\n\",x,y\n"
        );
        std::fs::write(
            dir.path().join("mass_case_description_train_set.csv"),
            train,
        )
        .unwrap();
        let test = format!(
            "{HEADER}P_00002,2,RIGHT,MLO,1,mass,ROUND,OBSCURED,3,BENIGN_WITHOUT_CALLBACK,2,\
             Mass-Test_P_00002_RIGHT_MLO/9/9/000000.dcm,x,y\n"
        );
        std::fs::write(dir.path().join("mass_case_description_test_set.csv"), test).unwrap();
        assert!(is_cbis_ddsm(dir.path()));
        let c = open(dir.path()).unwrap();
        let s = c.manifest.summary();
        // Hand count: two images of two patients; the first with two lesions, one malignant.
        assert_eq!((s.images, s.normal, s.abnormal), (2, 0, 2));
        assert_eq!((s.benign, s.malignant, s.lesions, s.patients), (1, 1, 3, 2));
        let first = &c.manifest.images()[0];
        assert_eq!(
            first.image,
            Path::new("CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/1.2.3/4.5.6/1-1.dcm")
        );
        assert_eq!((first.laterality, first.view), (Side::Left, View::Cc));
        assert_eq!(c.subsets[&first.image], Subset::Train);
        assert_eq!(c.subsets[&c.manifest.images()[1].image], Subset::Test);
    }

    #[test]
    fn bad_rows_name_the_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        layout(dir.path(), &["Calc-Training_P_00005_RIGHT_CC"]);
        let path = dir.path().join("calc_case_description_train_set.csv");
        let good = "patient_id,breast density,left or right breast,image view,abnormality id,\
                    abnormality type,calc type,calc distribution,assessment,pathology,subtlety,\
                    image file path,cropped image file path,ROI mask file path\n\
                    P_00005,3,RIGHT,CC,1,calcification,AMORPHOUS,CLUSTERED,3,MALIGNANT,3,\
                    Calc-Training_P_00005_RIGHT_CC/1/2/000000.dcm,x,y\n";
        std::fs::write(&path, good).unwrap();
        assert_eq!(open(dir.path()).unwrap().manifest.images().len(), 1);
        for (from, to, expect) in [
            ("MALIGNANT", "UNKNOWN", ":2: column \"pathology\""),
            (",RIGHT,", ",MIDDLE,", "column \"left or right breast\""),
            (
                "RIGHT_CC/1/2",
                "RIGHT_MLO/1/2",
                "no folder Calc-Training_P_00005_RIGHT_MLO",
            ),
            ("image view", "view", "missing column"),
        ] {
            std::fs::write(&path, good.replace(from, to)).unwrap();
            let err = open(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("calc_case_description_train_set.csv") && err.contains(expect),
                "{to}: {err}"
            );
        }
        std::fs::remove_file(&path).unwrap();
        let err = open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no CBIS-DDSM case-description file"), "{err}");
    }
}
