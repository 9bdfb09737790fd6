//! Fuzz the image decoder (PGM by hand, PNG through `image`): any bytes give an 8-bit grey
//! image or an error, never a panic; a decoded PGM re-encodes to an equal image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mias_data::{dataset::decode_image, pgm};

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = decode_image(data) {
        assert_eq!(img.as_raw().len(), (img.width() * img.height()) as usize);
        if data.starts_with(b"P5") {
            assert_eq!(pgm::decode(&pgm::encode(&img)).unwrap(), img);
        }
    }
});
