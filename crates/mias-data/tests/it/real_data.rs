//! Facts about the real Mini-MIAS files (../shared/data/mini-mias), checked end to end.
//! Expected counts come from the dataset's README and published summaries, not from this code.

use mias_data::preprocess::{Normalisation, Preprocess};
use mias_data::split::{self, Fractions};
use mias_data::{Dataset, ImageId, Label, LabelVariant, Severity, augment::Augment, pgm};

use crate::common::real_data;

fn id(n: u16) -> ImageId {
    mias_data::info::mdb(n).unwrap()
}

#[test]
fn counts_match_the_published_table() {
    let Some(dir) = real_data("counts_match_the_published_table") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let s = ds.summary(LabelVariant::Official);
    assert_eq!(s.images, 322);
    assert_eq!((s.normal, s.abnormal), (207, 115));
    assert_eq!((s.benign, s.malignant), (63, 52));
    assert_eq!(s.patients, 161);
    assert_eq!(s.lesions, 115 + 8); // 330 rows - 207 normal rows = 123 lesion rows
    let class = |c: &str| s.by_class[c];
    assert_eq!(
        [
            class("CALC"),
            class("CIRC"),
            class("SPIC"),
            class("ARCH"),
            class("ASYM"),
            class("MISC")
        ],
        [25, 23, 19, 19, 15, 14]
    );
    assert_eq!(class("NORM"), 207);
    assert_eq!(
        [s.by_tissue["F"], s.by_tissue["G"], s.by_tissue["D"]],
        [106, 104, 112]
    );
    assert_eq!(
        s.without_coordinates,
        ["mdb059", "mdb216", "mdb233", "mdb245"]
    );
    let p = ds.summary(LabelVariant::Paper);
    assert_eq!((p.normal, p.abnormal), (209, 113));
}

#[test]
fn multi_lesion_images_and_coordinates() {
    let Some(dir) = real_data("multi_lesion_images_and_coordinates") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let t = ds.table().expect("Mini-MIAS");
    let multi: Vec<(u64, usize)> = t
        .records()
        .iter()
        .filter(|r| r.lesions.len() > 1)
        .map(|r| (r.id.ordinal(), r.lesions.len()))
        .collect();
    assert_eq!(
        multi,
        [
            (5, 2),
            (132, 2),
            (144, 2),
            (223, 2),
            (226, 3),
            (239, 2),
            (249, 2)
        ]
    );
    let r144 = t.get(id(144)).unwrap();
    assert_eq!(r144.severity(), Some(Severity::Malignant));
    // mdb001 G CIRC B 535 425 197: row = 1023 - 425.
    let c = t.get(id(1)).unwrap().lesions[0].centre.unwrap();
    assert_eq!((c.row, c.col), (598, 535));
    assert_eq!(
        t.get(id(212))
            .unwrap()
            .label(t.labelling(LabelVariant::Paper)),
        Label::Normal
    );
    assert_eq!(
        t.get(id(212))
            .unwrap()
            .label(mias_data::Labelling::OFFICIAL),
        Label::Abnormal
    );
}

#[test]
fn grouped_folds_never_share_a_woman_and_keep_the_balance() {
    let Some(dir) = real_data("grouped_folds_never_share_a_woman_and_keep_the_balance") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    for seed in [0, 42] {
        let folds =
            split::patient_folds(ds.records(), mias_data::Labelling::OFFICIAL, 5, seed).unwrap();
        let mut covered = 0;
        for fold in &folds {
            let (train, test) = fold.items();
            let audit = split::audit(ds.records(), &[("train", &train), ("test", &test)]);
            assert!(
                audit.is_clean(),
                "seed {seed} fold {}:\n{audit}",
                fold.index
            );
            covered += fold.test.len();
            // 161 women over 5 folds: 32 or 33 women, so 64 or 66 images.
            assert!([64, 66].contains(&fold.test.len()), "{}", fold.test.len());
            let abnormal = fold
                .test
                .iter()
                .filter(|i| {
                    ds.record(**i)
                        .unwrap()
                        .label(mias_data::Labelling::OFFICIAL)
                        == Label::Abnormal
                })
                .count();
            // 115 abnormal of 322 overall: each fold within a few images of 23.
            assert!(
                (19..=27).contains(&abnormal),
                "fold {}: {abnormal}",
                fold.index
            );
        }
        assert_eq!(covered, 322);
    }
}

#[test]
fn the_papers_protocol_leaks_and_the_audit_shows_it() {
    let Some(dir) = real_data("the_papers_protocol_leaks_and_the_audit_shows_it") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let ids: Vec<ImageId> = ds.records().iter().map(|r| r.id).collect();
    let fractions = Fractions {
        train: 0.8,
        val: 0.1,
        test: 0.1,
    };
    // Even without augmented copies, an image-level split puts both breasts of many women on
    // both sides.
    let plain = split::paper_split(&ids, 1, fractions, 7).unwrap();
    let audit = split::audit(ds.records(), &plain.parts());
    assert!(audit.shared_images.is_empty());
    assert!(audit.shared_women.len() > 20, "{audit}");
    // With augmented copies made first, copies of test images sit in training.
    let augmented = split::paper_split(&ids, 4, fractions, 7).unwrap();
    let audit = split::audit(ds.records(), &augmented.parts());
    assert!(audit.leaked_items("test") > 100, "{audit}");
    // The leakage-free split of the same data shares nothing.
    let honest =
        split::patient_split(ds.records(), mias_data::Labelling::OFFICIAL, fractions, 7).unwrap();
    assert!(split::audit(ds.records(), &honest.parts()).is_clean());
}

#[test]
fn pgm_layout_reproduces_the_official_checksums() {
    // Re-encoding the lossless PNGs as PGM must give the official files byte for byte: this
    // checks the PNG decoding, the PGM writer and the PGM manifest in one go.
    let Some(dir) = real_data("pgm_layout_reproduces_the_official_checksums") else {
        return;
    };
    let png = Dataset::open(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("Info.txt"), tmp.path().join("Info.txt")).unwrap();
    for r in png.records() {
        let img = png.image(r.id).unwrap();
        std::fs::write(
            tmp.path().join(format!("{}.pgm", png.name(r.id))),
            pgm::encode(&img),
        )
        .unwrap();
    }
    let pgm_ds = Dataset::open(tmp.path()).unwrap();
    assert_eq!(pgm_ds.format(), Some(mias_data::ImageFormat::Pgm));
    assert_eq!(pgm_ds.image(id(100)).unwrap(), png.image(id(100)).unwrap());
}

#[test]
fn augmented_views_are_reproducible() {
    let Some(dir) = real_data("augmented_views_are_reproducible") else {
        return;
    };
    let ds = Dataset::open(&dir).unwrap();
    let img = ds.image(id(28)).unwrap();
    let aug = Augment::paper();
    let a = aug.view(&img, id(28), 3, 2024);
    let b = aug.view(&img, id(28), 3, 2024);
    let c = aug.view(&img, id(28), 4, 2024);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(aug.view(&img, id(28), 0, 2024), img);
}

#[test]
fn preprocessing_matches_the_inputs_keras_was_given() {
    // ../shared/reference holds the pixel_values Keras was fed: Pillow BILINEAR resize of the
    // grey PNG, rounded to 8 bits, replicated to RGB, normalised per backbone. Pillow is the
    // independent reference for our resize.
    let Some(dir) = real_data("preprocessing_matches_the_inputs_keras_was_given") else {
        return;
    };
    let reference = dir.join("../../reference");
    let ds = Dataset::open(&dir).unwrap();
    let images: Vec<_> = [1, 28, 5].map(|n| ds.image(id(n)).unwrap()).to_vec();
    for (file, side, norm, grey_step) in [
        ("vgg16", 224, Normalisation::Caffe, 1.0f32),
        ("mobilenetv2", 224, Normalisation::Tf, 1.0 / 127.5),
        ("xception", 299, Normalisation::Tf, 1.0 / 127.5),
    ] {
        let path = reference.join(format!("{file}.keras_reference.safetensors"));
        let (shape, expected) = crate::common::read_f32_tensor(&path, "pixel_values");
        assert_eq!(shape, [3, 3, side as usize, side as usize]);
        let ours = Preprocess::new(side, norm).nchw(&images);
        assert_eq!(ours.len(), expected.len());
        let max = ours
            .iter()
            .zip(&expected)
            .map(|(a, b)| ((a - b) / grey_step).abs())
            .fold(0.0f32, f32::max);
        // Pillow's resize reproduced to the bit: only float rounding of the normalisation.
        assert!(max < 1e-3, "{file}: off by {max} grey levels");
    }
}
