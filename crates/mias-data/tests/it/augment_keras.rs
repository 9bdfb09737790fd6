//! The augmentation engine against Keras's own `ImageDataGenerator.apply_transform`
//! (fixture made by `tests/data/make_augment_reference.py`).

use mias_data::augment::{FillMode, Transform};
use serde_json::Value;

use crate::common::fixture_with_ramp;

#[test]
fn matches_keras_within_half_a_grey_level() {
    let (reference, img) = fixture_with_ramp("augment_reference.json");
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 40);
    for case in cases {
        let p = &case["params"];
        let get = |k: &str, default: f64| p.get(k).and_then(Value::as_f64).unwrap_or(default);
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let t = Transform {
            theta: get("theta", 0.0),
            tx: get("tx", 0.0),
            ty: get("ty", 0.0),
            shear: get("shear", 0.0),
            zx: get("zx", 1.0),
            zy: get("zy", 1.0),
            flip_horizontal: flag("flip_horizontal"),
            flip_vertical: flag("flip_vertical"),
        };
        let mode: FillMode = case["fill_mode"].as_str().unwrap().parse().unwrap();
        let cval = case["cval"].as_f64().unwrap() as u8;
        let out = t.apply(&img, mode, cval);
        let expected = case["expected"].as_array().unwrap();
        let mut worst = (0.0f64, 0usize);
        for (i, (&got, want)) in out.as_raw().iter().zip(expected).enumerate() {
            let d = (f64::from(got) - want.as_f64().unwrap()).abs();
            if d > worst.0 {
                worst = (d, i);
            }
        }
        assert!(
            worst.0 <= 0.5 + 1e-3,
            "{p} {mode:?}: pixel (row {}, col {}) differs by {:.4} from {}",
            worst.1 / img.width() as usize,
            worst.1 % img.width() as usize,
            worst.0,
            case["source"]
        );
    }
}
