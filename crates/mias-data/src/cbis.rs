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
//! Lesion positions: CBIS-DDSM gives them as ROI mask images. When a row's `ROI mask file path`
//! folder (its first component, e.g. `Mass-Training_P_00001_LEFT_CC_1`) is present under
//! `DIR/CBIS-DDSM/` or `DIR/`, the lesion gets the mask's centroid (mean row and column of its
//! non-zero pixels) and the radius of the circle about it that encloses every such pixel centre
//! (rounded, at least 1), in pixels of the full mammogram, as Info.txt gives its lesions. The
//! folder holds the mask and the cropped lesion under names that do not say which is which (the
//! CSV's `000000.dcm` / `000001.dcm` and the download's `1-1.dcm` / `1-2.dcm` disagree between
//! cases): the mask is the one file of the full mammogram's size, read from the headers. A
//! folder without such a file, or with two, or an empty mask, is an error naming the line; an
//! absent folder (full mammograms downloaded alone) leaves the lesion without a position.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::csv_table::{Table, fail, normalise};
use crate::error::{Error, Result};
use crate::info::{Pixel, Severity, Side};
use crate::manifest::{Manifest, ManifestImage, ManifestLesion, View};

/// The four case-description files and the official subset each belongs to.
pub const CASE_FILES: [(&str, Subset); 4] = [
    ("mass_case_description_train_set.csv", Subset::Train),
    ("calc_case_description_train_set.csv", Subset::Train),
    ("mass_case_description_test_set.csv", Subset::Test),
    ("calc_case_description_test_set.csv", Subset::Test),
];

/// CBIS-DDSM's official split (the manifest's `split` column).
pub use crate::manifest::Subset;

/// True when `dir` holds at least one of the case-description files.
pub fn is_cbis_ddsm(dir: &Path) -> bool {
    CASE_FILES.iter().any(|(f, _)| dir.join(f).is_file())
}

/// Reads the case-description files present in `dir` and finds every image's DICOM file: the
/// manifest of the full mammograms, each image with its official subset.
pub fn open(dir: impl AsRef<Path>) -> Result<Manifest> {
    let dir = dir.as_ref();
    let mut images: Vec<ManifestImage> = Vec::new();
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
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
            let position = match &row.roi_folder {
                Some(folder) => {
                    mask_position(dir, &image, folder).map_err(|reason| Error::Manifest {
                        path: path.clone(),
                        line: row.line,
                        column: Some("ROI mask file path".into()),
                        reason,
                    })?
                }
                None => None,
            };
            let lesion = ManifestLesion {
                severity: row.severity,
                centre: position.map(|p| p.0),
                radius: position.map(|p| p.1),
                line: row.line,
            };
            match index.get(&image) {
                Some(&i) => images[i].lesions.push(lesion),
                None => {
                    index.insert(image.clone(), images.len());
                    images.push(ManifestImage {
                        image,
                        patient: row.patient,
                        laterality: row.side,
                        view: row.view,
                        lesions: vec![lesion],
                        line: row.line,
                        subset: Some(subset),
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
    Ok(Manifest::from_images(
        dir.join(CASE_FILES[0].0),
        dir.to_path_buf(),
        images,
    ))
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
    /// The first component of `ROI mask file path`, where the column is there and not empty.
    roi_folder: Option<String>,
}

fn read_case_file(path: &Path) -> Result<Vec<CaseRow>> {
    let fail = |line: usize, column: Option<&str>, reason: String| fail(path, line, column, reason);
    let table = Table::read(path, normalise)?;
    let wanted = [
        "patient_id",
        "left or right breast",
        "image view",
        "pathology",
        "image file path",
    ];
    let at = wanted
        .iter()
        .map(|name| table.column(name))
        .collect::<Result<Vec<usize>>>()?;
    let roi_at = table.find("ROI mask file path");
    let mut rows = Vec::new();
    for (line, record) in &table.rows {
        let line = *line;
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
        let first_component = |value: &str| {
            value
                .split(['/', '\\'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let folder = first_component(field(4));
        let roi_folder = roi_at
            .and_then(|k| record.get(k))
            .map(first_component)
            .filter(|f| !f.is_empty());
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
            roi_folder,
        });
    }
    Ok(rows)
}

/// The folder `folder` under `dir/CBIS-DDSM/` or `dir/`, relative to `dir`, if present.
fn locate(dir: &Path, folder: &str) -> Option<PathBuf> {
    [Path::new("CBIS-DDSM").join(folder), PathBuf::from(folder)]
        .into_iter()
        .find(|c| dir.join(c).is_dir())
}

/// Every `.dcm` file under `base` (relative to `dir`), relative to `dir`, sorted.
fn dicoms_under(dir: &Path, base: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut stack = vec![base.to_path_buf()];
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
    found.sort();
    Ok(found)
}

/// The lesion position a ROI mask folder gives for the full mammogram `image` (both relative
/// to `dir`): `None` when the folder is absent; the error says why a present one gives none.
fn mask_position(
    dir: &Path,
    image: &Path,
    folder: &str,
) -> std::result::Result<Option<(Pixel, u32)>, String> {
    let Some(base) = locate(dir, folder) else {
        return Ok(None);
    };
    let size = crate::dicom::dimensions(&dir.join(image)).map_err(|e| e.to_string())?;
    let mut masks = Vec::new();
    let mut seen = Vec::new();
    for file in dicoms_under(dir, &base)? {
        let dims = crate::dicom::dimensions(&dir.join(&file)).map_err(|e| e.to_string())?;
        if dims == size {
            masks.push(file);
        } else {
            seen.push(format!("{} {}x{}", file.display(), dims.0, dims.1));
        }
    }
    let mask = match masks.as_slice() {
        [one] => one,
        [] => {
            return Err(format!(
                "no ROI mask of the full mammogram's size {}x{} under {} (found: {})",
                size.0,
                size.1,
                dir.join(&base).display(),
                if seen.is_empty() {
                    "no .dcm file".to_string()
                } else {
                    seen.join(", ")
                }
            ));
        }
        _ => {
            return Err(format!(
                "{} files of the full mammogram's size under {}: which is the mask?",
                masks.len(),
                dir.join(&base).display()
            ));
        }
    };
    let decoded = crate::dicom::read(&dir.join(mask)).map_err(|e| e.to_string())?;
    mask_circle(&decoded)
        .map(Some)
        .ok_or_else(|| format!("the ROI mask {} is empty", dir.join(mask).display()))
}

/// The centroid of a mask's non-zero pixels and the radius enclosing every such pixel centre
/// (rounded, at least 1); `None` for an empty mask.
fn mask_circle(mask: &crate::dicom::DicomImage) -> Option<(Pixel, u32)> {
    let (w, h) = mask.dimensions();
    let mut on = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if mask.stored(x, y).is_some_and(|v| v != 0) {
                on.push((f64::from(y), f64::from(x)));
            }
        }
    }
    if on.is_empty() {
        return None;
    }
    let n = on.len() as f64;
    let row = on.iter().map(|p| p.0).sum::<f64>() / n;
    let col = on.iter().map(|p| p.1).sum::<f64>() / n;
    let reach = on
        .iter()
        .map(|p| ((p.0 - row).powi(2) + (p.1 - col).powi(2)).sqrt())
        .fold(0.0, f64::max);
    Some((
        Pixel {
            row: row.round() as u32,
            col: col.round() as u32,
        },
        (reach.round() as u32).max(1),
    ))
}

/// The one DICOM file under `folder` (in `dir/CBIS-DDSM/` or `dir/`), relative to `dir`.
fn find_dicom(dir: &Path, folder: &str) -> std::result::Result<PathBuf, String> {
    let Some(base) = locate(dir, folder) else {
        return Err(format!(
            "no folder {folder} under {} or {}",
            dir.join("CBIS-DDSM").display(),
            dir.display()
        ));
    };
    let mut found = dicoms_under(dir, &base)?;
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
        let s = c.summary();
        // Hand count: two images of two patients; the first with two lesions, one malignant.
        assert_eq!((s.images, s.normal, s.abnormal), (2, 0, 2));
        assert_eq!((s.benign, s.malignant, s.lesions, s.patients), (1, 1, 3, 2));
        let first = &c.images()[0];
        assert_eq!(
            first.image,
            Path::new("CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/1.2.3/4.5.6/1-1.dcm")
        );
        assert_eq!((first.laterality, first.view), (Side::Left, View::Cc));
        assert_eq!(first.subset, Some(Subset::Train));
        assert_eq!(c.images()[1].subset, Some(Subset::Test));
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
        assert_eq!(open(dir.path()).unwrap().images().len(), 1);
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
