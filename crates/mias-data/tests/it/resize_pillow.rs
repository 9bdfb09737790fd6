//! The resize against Pillow's own `Image.resize`, every filter, down and up
//! (fixture made by `tests/data/make_resize_reference.py`).

use mias_data::preprocess::{Interpolation, resize};

use crate::common::fixture_with_ramp;

#[test]
fn every_filter_equals_pillow_exactly() {
    let (reference, img) = fixture_with_ramp("resize_reference.json");
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
