//! VinDr-Mammo as distributed (PhysioNet): two CSVs beside the DICOM tree, read into a
//! [`Manifest`] with each image's official split.
//!
//! ```text
//! DIR/breast-level_annotations.csv    one row per image: study_id, image_id, laterality (L/R),
//!                                     view_position (CC/MLO), breast_birads, split
//! DIR/finding_annotations.csv         one row per finding: image_id, finding_categories,
//!                                     xmin, ymin, xmax, ymax (pixels, top-left origin)
//! DIR/images/<study_id>/<image_id>.dicom
//! ```
//!
//! What the reader makes of them, since VinDr-Mammo has no biopsy results but BI-RADS
//! assessments by radiologists:
//! - `breast_birads` `BI-RADS 1` is **normal**, `BI-RADS 2` and `3` **benign**, `BI-RADS 4` and
//!   `5` **malignant** (suspicious: a radiologist's call, not a pathology result; a run on
//!   VinDr-Mammo learns the assessment, and says so in the README);
//! - a study is one woman (the collection has one study per woman), so `study_id` is the patient;
//! - `split` `training` / `test` is the official split (the `official` protocol);
//! - each finding with a box and a category other than `No Finding` on an image read as benign
//!   or malignant is a lesion: centre the box's centre, radius half its diagonal (rounded), so
//!   the lesion method's cells see it; an abnormal image without such a finding has one lesion
//!   without a position.
//!
//! Columns are found by name, case aside (unused ones ignored); errors name the file, the line
//! and the column.

use std::collections::BTreeMap;
use std::path::Path;

use crate::csv_table::{Table, fail, lowercase};
use crate::error::Result;
use crate::info::{Pixel, Severity, Side};
use crate::manifest::{Manifest, ManifestImage, ManifestLesion, Subset, View};

/// The image table.
pub const BREAST_FILE: &str = "breast-level_annotations.csv";

/// The finding table.
pub const FINDING_FILE: &str = "finding_annotations.csv";

/// True when `dir` holds VinDr-Mammo's image table.
pub fn is_vindr(dir: &Path) -> bool {
    dir.join(BREAST_FILE).is_file()
}

/// Reads both tables of `dir` (the finding table is optional) and finds every image's file.
pub fn open(dir: impl AsRef<Path>) -> Result<Manifest> {
    let dir = dir.as_ref();
    let breast = Table::read(&dir.join(BREAST_FILE), lowercase)?;
    let (study, image) = (breast.column("study_id")?, breast.column("image_id")?);
    let (side, view) = (
        breast.column("laterality")?,
        breast.column("view_position")?,
    );
    let (birads, split) = (breast.column("breast_birads")?, breast.column("split")?);
    let mut images: Vec<ManifestImage> = Vec::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for (line, r) in &breast.rows {
        let line = *line;
        let at = |k: usize| r.get(k).unwrap_or("").trim();
        let bad = |column: &str, reason: String| fail(&breast.path, line, Some(column), reason);
        let (study_id, image_id) = (at(study), at(image));
        if study_id.is_empty() || image_id.is_empty() {
            let column = if study_id.is_empty() {
                "study_id"
            } else {
                "image_id"
            };
            return Err(bad(column, "empty".into()));
        }
        let laterality = match at(side).to_ascii_uppercase().as_str() {
            "L" => Side::Left,
            "R" => Side::Right,
            other => return Err(bad("laterality", format!("{other:?} is not L or R"))),
        };
        let view: View = at(view).parse().map_err(|e| bad("view_position", e))?;
        let severity = match at(birads).to_ascii_uppercase().as_str() {
            "BI-RADS 1" => None,
            "BI-RADS 2" | "BI-RADS 3" => Some(Severity::Benign),
            "BI-RADS 4" | "BI-RADS 5" => Some(Severity::Malignant),
            other => {
                return Err(bad(
                    "breast_birads",
                    format!("{other:?} is not BI-RADS 1 to BI-RADS 5"),
                ));
            }
        };
        let subset = match at(split).to_ascii_lowercase().as_str() {
            "training" | "train" => Subset::Train,
            "test" => Subset::Test,
            other => return Err(bad("split", format!("{other:?} is not training or test"))),
        };
        let file = Path::new("images")
            .join(study_id)
            .join(format!("{image_id}.dicom"));
        if !dir.join(&file).is_file() {
            return Err(bad(
                "image_id",
                format!("no file {}", dir.join(&file).display()),
            ));
        }
        if by_id.insert(image_id.to_string(), images.len()).is_some() {
            return Err(bad("image_id", format!("{image_id} is listed twice")));
        }
        images.push(ManifestImage {
            image: file,
            patient: study_id.to_string(),
            laterality,
            view,
            lesions: severity
                .map(|severity| ManifestLesion {
                    severity,
                    centre: None,
                    radius: None,
                    line,
                })
                .into_iter()
                .collect(),
            line,
            subset: Some(subset),
        });
    }
    if images.is_empty() {
        return Err(fail(&breast.path, 0, None, "no image rows".into()));
    }
    let findings = dir.join(FINDING_FILE);
    if findings.is_file() {
        add_findings(&Table::read(&findings, lowercase)?, &by_id, &mut images)?;
    }
    Ok(Manifest::from_images(
        breast.path.clone(),
        dir.to_path_buf(),
        images,
    ))
}

/// Gives each abnormal image its findings' boxes as lesions (replacing the one without a
/// position it was read with).
fn add_findings(
    table: &Table,
    by_id: &BTreeMap<String, usize>,
    images: &mut [ManifestImage],
) -> Result<()> {
    let image = table.column("image_id")?;
    let category = table.column("finding_categories")?;
    let (x0, y0) = (table.column("xmin")?, table.column("ymin")?);
    let (x1, y1) = (table.column("xmax")?, table.column("ymax")?);
    let mut boxes: BTreeMap<usize, Vec<ManifestLesion>> = BTreeMap::new();
    for (line, r) in &table.rows {
        let line = *line;
        let at = |k: usize| r.get(k).unwrap_or("").trim();
        let bad = |column: &str, reason: String| fail(&table.path, line, Some(column), reason);
        let Some(&i) = by_id.get(at(image)) else {
            return Err(bad(
                "image_id",
                format!("{} is not in {BREAST_FILE}", at(image)),
            ));
        };
        if at(category).contains("No Finding") || at(x0).is_empty() {
            continue;
        }
        let Some(severity) = images[i].severity() else {
            // A finding on a BI-RADS 1 breast: the image stays normal, as its assessment says.
            continue;
        };
        let number = |k: usize, name: &str| -> Result<f64> {
            at(k)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(name, format!("{:?} is not a pixel coordinate", at(k))))
        };
        let (a, b, c, d) = (
            number(x0, "xmin")?,
            number(y0, "ymin")?,
            number(x1, "xmax")?,
            number(y1, "ymax")?,
        );
        if c < a || d < b {
            return Err(bad(
                "xmax",
                format!("the box ({a}, {b}) - ({c}, {d}) is empty"),
            ));
        }
        boxes.entry(i).or_default().push(ManifestLesion {
            severity,
            centre: Some(Pixel {
                row: ((b + d) / 2.0).round() as u32,
                col: ((a + c) / 2.0).round() as u32,
            }),
            radius: Some(
                ((((c - a).powi(2) + (d - b).powi(2)).sqrt() / 2.0).round() as u32).max(1),
            ),
            line,
        });
    }
    for (i, lesions) in boxes {
        images[i].lesions = lesions;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(dir: &Path, findings: &str) {
        let breast = "study_id,series_id,image_id,laterality,view_position,height,width,\
                      breast_birads,breast_density,split\n\
                      s1,x,i1,L,CC,10,10,BI-RADS 4,DENSITY C,training\n\
                      s1,x,i2,R,CC,10,10,BI-RADS 1,DENSITY C,training\n\
                      s2,x,i3,L,MLO,10,10,BI-RADS 2,DENSITY B,test\n";
        std::fs::write(dir.join(BREAST_FILE), breast).unwrap();
        std::fs::write(dir.join(FINDING_FILE), findings).unwrap();
        for (s, i) in [("s1", "i1"), ("s1", "i2"), ("s2", "i3")] {
            std::fs::create_dir_all(dir.join("images").join(s)).unwrap();
            std::fs::write(dir.join(format!("images/{s}/{i}.dicom")), b"x").unwrap();
        }
    }

    const FINDING_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,\
                                  width,breast_birads,breast_density,finding_categories,\
                                  finding_birads,xmin,ymin,xmax,ymax,split\n";

    #[test]
    fn tables_become_a_manifest_with_labels_boxes_and_splits() {
        let tmp = tempfile::tempdir().unwrap();
        dataset(
            tmp.path(),
            &format!(
                "{FINDING_HEADER}\
                 s1,x,i1,L,CC,10,10,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,100,200,160,280,training\n\
                 s1,x,i1,L,CC,10,10,BI-RADS 4,DENSITY C,['Suspicious Calcification'],BI-RADS 4,10.5,20.5,11.5,21.5,training\n\
                 s1,x,i2,R,CC,10,10,BI-RADS 1,DENSITY C,['No Finding'],,,,,,training\n"
            ),
        );
        let m = open(tmp.path()).unwrap();
        let s = m.summary();
        // i1 malignant (BI-RADS 4), i2 normal, i3 benign (BI-RADS 2) without a finding box.
        assert_eq!((s.images, s.normal, s.benign, s.malignant), (3, 1, 1, 1));
        assert_eq!((s.patients, s.pairs, s.lesions), (2, 1, 3));
        let i1 = &m.images()[0];
        assert_eq!(i1.image, Path::new("images/s1/i1.dicom"));
        // Box (100, 200)-(160, 280): centre (row 240, col 130), half diagonal 50.
        let l = &i1.lesions[0];
        assert_eq!(
            (l.centre.map(|p| (p.row, p.col)), l.radius),
            (Some((240, 130)), Some(50))
        );
        // A box of 1 x 1: half diagonal 0.71 -> at least 1.
        assert_eq!(i1.lesions[1].radius, Some(1));
        assert_eq!(m.images()[2].lesions[0].centre, None);
        let subsets: Vec<_> = m.images().iter().map(|i| i.subset).collect();
        assert_eq!(
            subsets,
            [Some(Subset::Train), Some(Subset::Train), Some(Subset::Test)]
        );
    }

    #[test]
    fn bad_rows_name_the_file_line_and_column() {
        let tmp = tempfile::tempdir().unwrap();
        dataset(
            tmp.path(),
            &format!("{FINDING_HEADER}s9,x,i9,L,CC,1,1,BI-RADS 4,D,['Mass'],,1,1,2,2,test\n"),
        );
        let err = open(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains(FINDING_FILE) && err.contains(":2") && err.contains("i9"),
            "{err}"
        );
        let breast = std::fs::read_to_string(tmp.path().join(BREAST_FILE)).unwrap();
        std::fs::write(
            tmp.path().join(BREAST_FILE),
            breast.replace("BI-RADS 2", "BI-RADS 0"),
        )
        .unwrap();
        let err = open(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains(":4") && err.contains("breast_birads") && err.contains("BI-RADS 0"),
            "{err}"
        );
        std::fs::remove_file(tmp.path().join("images/s2/i3.dicom")).unwrap();
        std::fs::write(tmp.path().join(BREAST_FILE), breast).unwrap();
        let err = open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("i3.dicom"), "{err}");
    }
}
