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
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("Info.txt"), "mdb001 F NORM \n").unwrap();
    RgbImage::new(8, 8)
        .save(tmp.path().join("mdb001.png"))
        .unwrap();
    let ds = Dataset::open_with(tmp.path(), &small()).unwrap();
    let e = message(ds.image(mias_data::info::mdb(1).unwrap()).unwrap_err());
    assert!(e.contains("expected 8-bit greyscale"), "{e}");
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
