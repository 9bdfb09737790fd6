//! Fuzz the entry point of every image format, DICOM above all (dicom-rs parsing and decoding,
//! then mias's header checks, rescale and window): any bytes give an 8-bit grey image or an
//! error, never a panic; a decoded DICOM's stored values fit its bit depth.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mias_data::image_file::decode_mammogram;
use mias_data::window::WindowRule;
use mias_data::{LoadOptions, Side, dicom};

fuzz_target!(|data: &[u8]| {
    let options = LoadOptions {
        canonical_side: Some(Side::Left),
        long_side: Some(64),
        ..LoadOptions::default()
    };
    if let Ok(m) = decode_mammogram(data, &options, Some(Side::Right)) {
        assert!(m.image.width().max(m.image.height()) <= 64);
        assert_eq!(m.image.as_raw().len(), (m.image.width() * m.image.height()) as usize);
    }
    if let Ok(d) = dicom::decode(data) {
        let (w, h) = d.dimensions();
        assert_eq!(d.samples.values.len(), (w as usize) * (h as usize));
        let bits = d.samples.bits;
        let (lo, hi) = if d.samples.signed {
            (-(1i32 << (bits - 1)), (1i32 << (bits - 1)) - 1)
        } else {
            (0, (1i32 << bits) - 1)
        };
        assert!(d.samples.values.iter().all(|v| (lo..=hi).contains(v)));
        for rule in [WindowRule::Header, WindowRule::Percentile { low: 1.0, high: 99.0 }] {
            if let Ok((img, _)) = d.to_gray8(&rule) {
                assert_eq!(img.dimensions(), (w, h));
            }
        }
    }
});
