//! The resize against Pillow's own `Image.resize`, every filter, down and up
//! (fixture made by `tests/data/make_resize_reference.py`).

use image::{GrayImage, Luma};
use mias_data::preprocess::{Interpolation, resize};
use serde_json::Value;

use crate::common::fixture;

#[test]
fn every_filter_equals_pillow_exactly() {
    let text = std::fs::read_to_string(fixture("resize_reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let (h, w) = (
        reference["height"].as_u64().unwrap() as u32,
        reference["width"].as_u64().unwrap() as u32,
    );
    let img = GrayImage::from_fn(w, h, |x, y| {
        Luma([((x * 7 + y * 13 + (x * y) % 31) % 256) as u8])
    });
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let filter: Interpolation = case["filter"].as_str().unwrap().parse().unwrap();
        let (tw, th) = (
            case["width"].as_u64().unwrap() as u32,
            case["height"].as_u64().unwrap() as u32,
        );
        let out = resize(&img, tw, th, filter);
        let expected: Vec<u8> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let off = out
            .as_raw()
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            off, 0,
            "{filter:?} to {tw}x{th}: {off} pixels differ from Pillow"
        );
    }
}
