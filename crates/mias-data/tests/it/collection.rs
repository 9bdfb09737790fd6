//! A manifest or CBIS-DDSM directory opened as a `Dataset`: the records the pipeline reads
//! (women, other breasts, lesions in the working frame), the working images, names, and the
//! official subsets. Expected values are worked out by hand in the comments.

use std::path::Path;

use image::{GrayImage, Luma};
use mias_data::cbis::Subset;
use mias_data::{Dataset, ImageId, LabelVariant, OpenOptions, PatientId, split};

use crate::common::fixture;

fn id(n: u16) -> ImageId {
    ImageId::from_index(usize::from(n) - 1).unwrap()
}

/// Six PNGs of three women. `a.png` is 600 x 2400 (w x h), grey 50, with a white square of
/// side 121 centred on (x 300, y 1200); the others are small grey squares.
fn write_collection(dir: &Path) {
    let a = GrayImage::from_fn(600, 2400, |x, y| {
        if x.abs_diff(300) <= 60 && y.abs_diff(1200) <= 60 {
            Luma([255])
        } else {
            Luma([50])
        }
    });
    a.save(dir.join("a.png")).unwrap();
    for (k, name) in ["b.png", "c.png", "d.png", "e.png", "f.png"]
        .iter()
        .enumerate()
    {
        GrayImage::from_pixel(64, 64, Luma([40 + 10 * k as u8]))
            .save(dir.join(name))
            .unwrap();
    }
    std::fs::write(
        dir.join("manifest.csv"),
        "image,patient,laterality,view,label,x,y,radius\n\
         a.png,P1,L,CC,malignant,300,1200,60\n\
         b.png,P1,R,CC,normal,,,\n\
         c.png,P2,L,MLO,benign,,,\n\
         d.png,P3,L,CC,normal,,,\n\
         e.png,P3,R,CC,normal,,,\n\
         f.png,P3,L,MLO,normal,,,\n",
    )
    .unwrap();
}

#[test]
fn a_manifest_opens_as_a_dataset_with_women_pairs_and_the_working_frame() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    let ds = Dataset::open(tmp.path()).unwrap();
    assert_eq!(ds.kind(), "manifest");
    assert!(!ds.is_mini_mias() && ds.table().is_none() && ds.format().is_none());
    let records = ds.records();
    assert_eq!(records.len(), 6);
    // Women by first appearance: P1 = 1, P2 = 2, P3 = 3.
    let women: Vec<u32> = records.iter().map(|r| r.patient.0).collect();
    assert_eq!(women, [1, 1, 2, 3, 3, 3]);
    assert_eq!(ds.patient_name(PatientId(3)), "P3");
    // Other breast: same woman and view, other side; c and f have none.
    let pairs: Vec<Option<ImageId>> = records.iter().map(|r| r.pair).collect();
    assert_eq!(
        pairs,
        [
            Some(id(2)),
            Some(id(1)),
            None,
            Some(id(5)),
            Some(id(4)),
            None
        ]
    );
    assert!(records.iter().all(|r| r.tissue.is_none()));

    // The lesion in the working frame: scale 1024 / 2400, so the film is 256 x 1024 (600 *
    // 0.42667 = 256), padded by (1024 - 256) / 2 = 384 columns on each side. Centre column
    // (300.5 * 256 / 600 - 0.5) + 384 = 511.71 -> 512, row 1200.5 * 1024 / 2400 - 0.5 =
    // 511.71 -> 512; radius 60 * 0.42667 = 25.6 -> 26.
    let lesion = &records[0].lesions[0];
    let c = lesion.centre.unwrap();
    assert_eq!((c.row, c.col, lesion.radius), (512, 512, Some(26)));
    let film = ds.image(id(1)).unwrap();
    assert_eq!(film.dimensions(), (1024, 1024));
    // The white square is where the lesion centre says, the padding is black, the film grey.
    assert_eq!(film.get_pixel(512, 512).0, [255]);
    assert_eq!(film.get_pixel(0, 0).0, [0]);
    assert_eq!(film.get_pixel(383, 700).0, [0]);
    assert_eq!(film.get_pixel(390, 100).0, [50]);
    assert_eq!(film.get_pixel(1023, 1023).0, [0]);
    // The square's half side, 60 px, is 25.6 working pixels: 26 px from the centre is past
    // its edge, 24 px is inside.
    assert_eq!(film.get_pixel(512, 512 + 24).0, [255]);
    assert_eq!(film.get_pixel(512 + 28, 512).0, [50]);
    // Small films are neither enlarged nor padded.
    assert_eq!(ds.image(id(2)).unwrap().dimensions(), (64, 64));

    // Names, lookup, counts.
    assert_eq!(ds.name(id(3)), "c.png");
    assert_eq!(ds.find("e.png").unwrap(), id(5));
    let err = ds.find("mdb001").unwrap_err().to_string();
    assert!(err.contains("mdb001") && err.contains("manifest"), "{err}");
    let s = ds.summary(LabelVariant::Paper);
    assert_eq!((s.images, s.normal, s.abnormal, s.patients), (6, 4, 2, 3));
    assert_eq!(
        ds.label_variant(LabelVariant::Paper),
        LabelVariant::Official
    );
    assert!(!ds.has_official_split());

    // Cache names: by position and file, all distinct, and a changed file gets a new one.
    let names: Vec<String> = records.iter().map(|r| ds.cache_name(r.id)).collect();
    assert!(names[0].starts_with("img00001-"), "{}", names[0]);
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    GrayImage::from_pixel(65, 64, Luma([1]))
        .save(tmp.path().join("b.png"))
        .unwrap();
    let again = Dataset::open(tmp.path()).unwrap();
    assert_ne!(again.cache_name(id(2)), names[1]);
    assert_eq!(again.cache_name(id(1)), names[0]);

    // Folds grouped by woman: P3's three images always together.
    let folds = split::patient_folds(records, mias_data::Labelling::OFFICIAL, 3, 1).unwrap();
    for f in &folds {
        let (train, test) = f.items();
        let audit = split::audit(records, &[("train", &train), ("test", &test)]);
        assert!(audit.is_clean(), "{audit}");
    }
    // The same items with one of P3's images moved: the audit names the woman.
    let (mut train, test) = folds[0].items();
    let moved = *test.first().unwrap();
    train.push(moved);
    let audit = split::audit(records, &[("train", &train), ("test", &test)]);
    assert_eq!(audit.shared_images.len(), 1);
}

#[test]
fn bad_collections_name_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.png"), b"not a png").unwrap();
    std::fs::write(
        tmp.path().join("manifest.csv"),
        "image,patient,laterality,view,label,x,y,radius\na.png,P1,L,CC,benign,3,4,5\n",
    )
    .unwrap();
    // The lesion's frame needs the file's size: a broken file is named at open.
    let err = Dataset::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("a.png"), "{err}");
    std::fs::write(
        tmp.path().join("manifest.csv"),
        "image,patient,laterality,view,label\na.png,P1,L,CC,benign\n",
    )
    .unwrap();
    let ds = Dataset::open(tmp.path()).unwrap();
    let err = ds.image(id(1)).unwrap_err().to_string();
    assert!(err.contains("a.png"), "{err}");
    assert!(ds.record(id(2)).is_err());
    // A directory with none of the three tables says what it looked for.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("readme.txt"), "x").unwrap();
    let err = Dataset::open_with(empty.path(), &OpenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Info.txt") && err.contains("manifest.csv") && err.contains("CBIS-DDSM"),
        "{err}"
    );
}

#[test]
fn a_cbis_ddsm_directory_opens_with_its_official_subsets() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "patient_id,breast density,left or right breast,image view,abnormality id,\
                  abnormality type,calc type,calc distribution,assessment,pathology,subtlety,\
                  image file path,cropped image file path,ROI mask file path\n";
    let mut train = String::from(header);
    let mut test = String::from(header);
    let rows = [
        ("P_00001", "LEFT", "CC", "MALIGNANT", "rle_u16.dcm", true),
        ("P_00001", "RIGHT", "CC", "BENIGN", "sigmoid.dcm", true),
        (
            "P_00002",
            "LEFT",
            "MLO",
            "BENIGN_WITHOUT_CALLBACK",
            "mono2_u8_percentile.dcm",
            false,
        ),
    ];
    for (k, (patient, side, view, pathology, file, in_train)) in rows.iter().enumerate() {
        let subset = if *in_train { "Training" } else { "Test" };
        let folder = format!("Calc-{subset}_{patient}_{side}_{view}");
        let target = tmp
            .path()
            .join("CBIS-DDSM")
            .join(&folder)
            .join(format!("1.{k}"))
            .join(format!("2.{k}"))
            .join("1-1.dcm");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(fixture(&format!("dicom/{file}")), &target).unwrap();
        let row = format!(
            "{patient},2,{side},{view},1,calcification,PLEOMORPHIC,CLUSTERED,4,{pathology},3,\
             {folder}/1.{k}/2.{k}/000000.dcm,{folder}_1/x/y/000000.dcm,{folder}_1/x/y/000001.dcm\n"
        );
        if *in_train {
            train.push_str(&row);
        } else {
            test.push_str(&row);
        }
    }
    std::fs::write(
        tmp.path().join("calc_case_description_train_set.csv"),
        train,
    )
    .unwrap();
    std::fs::write(tmp.path().join("calc_case_description_test_set.csv"), test).unwrap();
    let ds = Dataset::open(tmp.path()).unwrap();
    assert_eq!(ds.kind(), "cbis-ddsm");
    assert!(ds.has_official_split());
    let subsets: Vec<Option<Subset>> = ds.records().iter().map(|r| ds.subset(r.id)).collect();
    assert_eq!(
        subsets,
        [Some(Subset::Train), Some(Subset::Train), Some(Subset::Test)]
    );
    let s = ds.summary(LabelVariant::Official);
    // CBIS-DDSM lists images with lesions only: every image abnormal.
    assert_eq!((s.images, s.normal, s.abnormal, s.malignant), (3, 0, 3, 1));
    assert_eq!(ds.records()[0].pair, Some(id(2)));
    for r in ds.records() {
        let film = ds.image(r.id).unwrap();
        assert_eq!(film.width(), film.height(), "{}", ds.name(r.id));
    }
}

#[test]
fn the_real_mammograms_as_a_manifest_dataset() {
    let Some(cache) = super::dicom::real_dir("the_real_mammograms_as_a_manifest_dataset") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("image,patient,laterality,view,label\n");
    for (folder, patient, first) in [
        ("sfm-benign-0", "P_00173", 130),
        ("sfm-malign-0", "P_00820", 280),
    ] {
        for (k, (side, view)) in [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]
            .iter()
            .enumerate()
        {
            let name = format!("{folder}/1-{}.dcm", first + k);
            let target = tmp.path().join(&name);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(cache.join(&name), &target).unwrap();
            let label = if *side == "L" { "benign" } else { "normal" };
            csv.push_str(&format!("{name},{patient},{side},{view},{label}\n"));
        }
    }
    std::fs::write(tmp.path().join("manifest.csv"), csv).unwrap();
    let ds = Dataset::open(tmp.path()).unwrap();
    assert_eq!(ds.records().iter().filter(|r| r.pair.is_some()).count(), 8);
    let first = ds.records()[0].id;
    let (w, h) = mias_data::image_file::dimensions(&ds.image_path(first)).unwrap();
    let film = ds.image(first).unwrap();
    assert_eq!(film.dimensions(), (1024, 1024));
    // Portrait film: its width scaled by 1024 / height, centred; the columns outside are
    // padding (black), the centre column is film.
    assert!(h > w, "{w} x {h}");
    let width = (f64::from(w) * 1024.0 / f64::from(h) + 0.5).floor() as u32;
    let left = (1024 - width) / 2;
    assert!(left > 0);
    assert!((0..1024).all(|y| film.get_pixel(left - 1, y).0 == [0]));
    assert!((0..1024).any(|y| film.get_pixel(512, y).0 != [0]));
}

/// `mono2_u8_percentile.dcm` (20 x 14, 8-bit, implicit VR: its last 280 bytes are the pixels)
/// with every pixel 0 except those where `on(row, col)`, which are 255.
fn mask_like_the_fixture(on: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let mut bytes = std::fs::read(fixture("dicom/mono2_u8_percentile.dcm")).unwrap();
    let n = bytes.len();
    assert_eq!(
        &bytes[n - 288..n - 280],
        &[0xE0, 0x7F, 0x10, 0x00, 0x18, 0x01, 0, 0]
    );
    for (i, b) in bytes[n - 280..].iter_mut().enumerate() {
        let (row, col) = (i as u32 / 20, i as u32 % 20);
        *b = if on(row, col) { 255 } else { 0 };
    }
    bytes
}

#[test]
fn cbis_ddsm_roi_masks_give_the_lesions_centres_and_radii() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("CBIS-DDSM");
    let folder = "Mass-Training_P_00007_LEFT_CC";
    let full = root.join(folder).join("1.1/2.1/1-1.dcm");
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::copy(fixture("dicom/mono2_u8_percentile.dcm"), &full).unwrap();
    // Lesion 1: a 5 x 5 square at rows 4-8, columns 10-14: centroid (6, 12), farthest pixel
    // centre sqrt(2^2 + 2^2) = 2.83 away -> radius 3. The cropped lesion beside it is another
    // size (sigmoid.dcm, 12 x 10) and must not be taken for the mask.
    let roi1 = root.join(format!("{folder}_1/1.2/2.2"));
    std::fs::create_dir_all(&roi1).unwrap();
    std::fs::write(
        roi1.join("1-1.dcm"),
        mask_like_the_fixture(|r, c| (4..=8).contains(&r) && (10..=14).contains(&c)),
    )
    .unwrap();
    std::fs::copy(fixture("dicom/sigmoid.dcm"), roi1.join("1-2.dcm")).unwrap();
    // Lesion 2: a single pixel at row 1, column 2 -> radius 1 (at least one pixel).
    let roi2 = root.join(format!("{folder}_2/1.3/2.3"));
    std::fs::create_dir_all(&roi2).unwrap();
    std::fs::write(
        roi2.join("1-2.dcm"),
        mask_like_the_fixture(|r, c| (r, c) == (1, 2)),
    )
    .unwrap();
    let header = "patient_id,breast_density,left or right breast,image view,abnormality id,\
                  abnormality type,mass shape,mass margins,assessment,pathology,subtlety,\
                  image file path,cropped image file path,ROI mask file path\n";
    let row = |k: u32, roi: &str| {
        format!(
            "P_00007,2,LEFT,CC,{k},mass,OVAL,CIRCUMSCRIBED,4,BENIGN,3,{folder}/1.1/2.1/000000.dcm,\
             {roi}/x/y/000000.dcm,{roi}/x/y/000001.dcm\n"
        )
    };
    let csv = tmp.path().join("mass_case_description_train_set.csv");
    std::fs::write(
        &csv,
        format!(
            "{header}{}{}",
            row(1, &format!("{folder}_1")),
            row(2, &format!("{folder}_2"))
        ),
    )
    .unwrap();
    let c = mias_data::cbis::open(tmp.path()).unwrap();
    let lesions: Vec<(u32, u32, u32)> = c.images()[0]
        .lesions
        .iter()
        .map(|l| {
            let p = l.centre.unwrap();
            (p.row, p.col, l.radius.unwrap())
        })
        .collect();
    assert_eq!(lesions, [(6, 12, 3), (1, 2, 1)]);
    // As a dataset: the film is 20 x 14, so its working image is itself padded to 20 x 20
    // (3 rows above): the first lesion's centre moves to row 9.
    let ds = Dataset::open(tmp.path()).unwrap();
    let c = ds.records()[0].lesions[0].centre.unwrap();
    assert_eq!((c.row, c.col), (9, 12));

    // An empty mask, and a folder with no file of the film's size, are named with the line.
    std::fs::write(roi2.join("1-2.dcm"), mask_like_the_fixture(|_, _| false)).unwrap();
    let err = mias_data::cbis::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains(":3") && err.contains("is empty"), "{err}");
    std::fs::copy(fixture("dicom/sigmoid.dcm"), roi2.join("1-2.dcm")).unwrap();
    let err = mias_data::cbis::open(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("ROI mask file path") && err.contains("20x14") && err.contains("12x10"),
        "{err}"
    );
    // Without the mask folders (full mammograms downloaded alone): no positions, no error.
    std::fs::remove_dir_all(root.join(format!("{folder}_1"))).unwrap();
    std::fs::remove_dir_all(root.join(format!("{folder}_2"))).unwrap();
    let c = mias_data::cbis::open(tmp.path()).unwrap();
    assert!(c.images()[0].lesions.iter().all(|l| l.centre.is_none()));
}

/// A collection past every 16-bit limit: 70,000 films of 35,000 women (a right and a left MLO
/// each), hard links to small PNGs (a new one every 10,000 links: file systems cap the links of
/// one file). Films 212 and 214 (the positions of Mini-MIAS's two
/// relabelled films) are malignant: `paper` must not touch a collection's labels.
#[test]
fn a_70000_film_manifest_opens_with_every_film_named_and_paired() {
    const FILMS: usize = 70_000;
    let tmp = tempfile::tempdir().unwrap();
    GrayImage::from_pixel(8, 8, Luma([90]))
        .save(tmp.path().join("film.png"))
        .unwrap();
    let img = tmp.path().join("source.png");
    std::fs::create_dir(tmp.path().join("f")).unwrap();
    let mut csv = String::from("image,patient,laterality,view,label\n");
    for i in 0..FILMS {
        let name = format!("f/{i:05}.png");
        if i % 10_000 == 0 {
            // A new file (a new inode), not the old one overwritten.
            if i > 0 {
                std::fs::remove_file(&img).unwrap();
            }
            std::fs::copy(tmp.path().join("film.png"), &img).unwrap();
        }
        std::fs::hard_link(&img, tmp.path().join(&name)).unwrap();
        let side = if i % 2 == 0 { "R" } else { "L" };
        let label = if i == 211 || i == 213 {
            "malignant"
        } else {
            "normal"
        };
        csv.push_str(&format!("{name},W{},{side},MLO,{label}\n", i / 2));
    }
    std::fs::write(tmp.path().join("manifest.csv"), csv).unwrap();

    let ds = Dataset::open(tmp.path()).unwrap();
    assert_eq!(ds.records().len(), FILMS);
    let last = ImageId::from_index(FILMS - 1).unwrap();
    assert_eq!(ds.name(last), "f/69999.png");
    assert_eq!(ds.find("f/69999.png").unwrap(), last);
    let rec = ds.record(last).unwrap();
    assert_eq!(rec.patient, PatientId(35_000));
    assert_eq!(ds.patient_name(rec.patient), "W34999");
    assert_eq!(rec.pair, Some(ImageId::from_index(FILMS - 2).unwrap()));
    for variant in [LabelVariant::Official, LabelVariant::Paper] {
        let s = ds.summary(variant);
        assert_eq!(
            (s.images, s.abnormal, s.patients),
            (FILMS, 2, 35_000),
            "{variant}"
        );
        assert_eq!(
            s.labels,
            LabelVariant::Official,
            "{variant} applies as official"
        );
    }
    let folds =
        split::patient_folds(ds.records(), ds.labelling(LabelVariant::Paper), 5, 1).unwrap();
    let held: usize = folds.iter().map(|f| f.test.len()).sum();
    assert_eq!(held, FILMS);
    let audit = split::audit(
        ds.records(),
        &[
            ("train", &folds[0].items().0),
            ("test", &folds[0].items().1),
        ],
    );
    assert!(audit.is_clean());
}
