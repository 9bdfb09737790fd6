//! Broken inputs give errors that name the file, line or value: never a panic.

use std::path::Path;

use image::{GrayImage, Luma, RgbImage};
use mias_data::{Dataset, Error, OpenOptions, pgm};

use crate::common::real_data;

fn small() -> OpenOptions {
    OpenOptions {
        official: false,
        side: Some(8),
    }
}

/// A small dataset: Info.txt with two images stored as 8x8 PGM.
fn tiny_dataset(dir: &Path) {
    std::fs::write(
        dir.join("Info.txt"),
        "preamble\nmdb001 G CIRC B 5 5 2\nmdb002 G NORM \n",
    )
    .unwrap();
    for n in 1..=2 {
        let img = GrayImage::from_fn(8, 8, |x, y| Luma([(x * 8 + y) as u8]));
        std::fs::write(dir.join(format!("mdb00{n}.pgm")), pgm::encode(&img)).unwrap();
    }
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn a_tiny_dataset_opens() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_dataset(tmp.path());
    let ds = Dataset::open_with(tmp.path(), &small()).unwrap();
    assert_eq!(ds.records().len(), 2);
    assert_eq!(
        ds.image(mias_data::info::mdb(2).unwrap())
            .unwrap()
            .dimensions(),
        (8, 8)
    );
}

#[test]
fn missing_and_empty_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = message(Dataset::open(&missing).unwrap_err());
    assert!(
        e.contains("nope") && e.contains("cannot open the dataset directory"),
        "{e}"
    );
    let e = message(Dataset::open(tmp.path()).unwrap_err());
    assert!(
        e.contains("the directory is empty") && e.contains("fetch-data"),
        "{e}"
    );
    std::fs::write(tmp.path().join("other.txt"), "x").unwrap();
    let e = message(Dataset::open(tmp.path()).unwrap_err());
    assert!(e.contains("no Info.txt"), "{e}");
}

#[test]
fn a_malformed_row_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_dataset(tmp.path());
    std::fs::write(
        tmp.path().join("Info.txt"),
        "preamble\nmdb001 G CIRC B 5 5 2\nmdb002 G CIRC X\n",
    )
    .unwrap();
    let e = message(Dataset::open_with(tmp.path(), &small()).unwrap_err());
    assert!(
        e.contains("Info.txt:3: severity \"X\" is not B or M"),
        "{e}"
    );
}

#[test]
fn a_missing_image_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_dataset(tmp.path());
    std::fs::remove_file(tmp.path().join("mdb002.pgm")).unwrap();
    let e = message(Dataset::open_with(tmp.path(), &small()).unwrap_err());
    assert!(
        e.contains("1 image(s) missing") && e.contains("mdb002.pgm"),
        "{e}"
    );
}

#[test]
fn broken_images_are_named_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_dataset(tmp.path());
    let ds = Dataset::open_with(tmp.path(), &small()).unwrap();
    let path = tmp.path().join("mdb001.pgm");
    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 10].to_vec(), "truncated"),
        (b"P6\n8 8\n255\n".to_vec(), "expected magic `P5`"),
        (
            pgm::encode(&GrayImage::new(9, 8)),
            "expected 8x8 pixels, found 9x8",
        ),
        (Vec::new(), "empty file"),
    ];
    let id = mias_data::info::mdb(1).unwrap();
    for (bytes, expected) in cases {
        std::fs::write(&path, bytes).unwrap();
        let e = message(ds.image(id).unwrap_err());
        assert!(e.contains("mdb001.pgm") && e.contains(expected), "{e}");
    }
    let e = message(ds.image(mias_data::info::mdb(3).unwrap()).unwrap_err());
    assert!(e.contains("mdb003") && e.contains("not listed in"), "{e}");
}

#[test]
fn a_colour_png_is_refused() {
    // Mini-MIAS images go through the one image entry (`image_file`): grey stored as RGB is
    // read as grey, real colour is refused.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("Info.txt"), "mdb001 F NORM \n").unwrap();
    let path = tmp.path().join("mdb001.png");
    RgbImage::from_pixel(8, 8, image::Rgb([90, 90, 90]))
        .save(&path)
        .unwrap();
    let ds = Dataset::open_with(tmp.path(), &small()).unwrap();
    let grey = ds.image(mias_data::info::mdb(1).unwrap()).unwrap();
    assert_eq!(grey, GrayImage::from_pixel(8, 8, Luma([90])));
    RgbImage::from_pixel(8, 8, image::Rgb([90, 10, 10]))
        .save(&path)
        .unwrap();
    let e = message(ds.image(mias_data::info::mdb(1).unwrap()).unwrap_err());
    assert!(
        e.contains("mdb001.png") && e.contains("convert the file to grey"),
        "{e}"
    );
}

/// Without a format's feature its files are recognised and refused, naming the feature.
#[cfg(not(all(feature = "dicom", feature = "jpeg", feature = "tiff")))]
#[test]
fn a_format_left_out_of_the_build_names_its_feature() {
    use mias_data::{LoadOptions, image_file::decode_mammogram};
    let mut dicom = vec![0u8; 128];
    dicom.extend_from_slice(b"DICM\x02\x00\x00\x00UL\x04\x00");
    for (bytes, feature, on) in [
        (dicom, "`dicom`", cfg!(feature = "dicom")),
        (
            vec![0xFF, 0xD8, 0xFF, 0xE0],
            "`jpeg`",
            cfg!(feature = "jpeg"),
        ),
        (
            b"II*\0\x08\0\0\0".to_vec(),
            "`tiff`",
            cfg!(feature = "tiff"),
        ),
    ] {
        if on {
            continue;
        }
        let e = decode_mammogram(&bytes, &LoadOptions::default(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("compiled without its") && e.contains(feature),
            "{e}"
        );
    }
    #[cfg(not(feature = "collections"))]
    {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("manifest.csv"), "image\n").unwrap();
        let e = message(Dataset::open(tmp.path()).unwrap_err());
        assert!(e.contains("`collections` feature"), "{e}");
    }
}

#[test]
fn an_incomplete_table_fails_official_opening() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_dataset(tmp.path());
    let e = message(Dataset::open(tmp.path()).unwrap_err());
    assert!(
        e.contains("expected the 322 images") && e.contains("missing mdb003"),
        "{e}"
    );
}

#[test]
fn a_checksum_mismatch_names_the_file() {
    let Some(dir) = real_data("a_checksum_mismatch_names_the_file") else {
        return;
    };
    // Link the real files into a temporary copy, then replace one image by a valid PNG with
    // one pixel changed.
    let tmp = tempfile::tempdir().unwrap();
    crate::common::link_copy(&dir, tmp.path());
    let png = tmp.path().join("png");
    Dataset::open(tmp.path()).unwrap();
    let target = png.join("mdb100.png");
    let mut img = image::open(&target).unwrap().to_luma8();
    let p = img.get_pixel_mut(0, 0);
    p[0] = p[0].wrapping_add(1);
    std::fs::remove_file(&target).unwrap();
    img.save(&target).unwrap();
    match Dataset::open(tmp.path()).unwrap_err() {
        Error::Checksum { path, .. } => assert!(path.ends_with("png/mdb100.png")),
        other => panic!("expected a checksum error, got {other}"),
    }
}
