//! Fuzz the one image entry on the formats other than DICOM (`dicom_loader` covers DICOM):
//! PGM by hand, PNG, JPEG and TIFF through `image`, all through
//! `image_file::decode_mammogram` (what `load_image` and `load_mammogram` call). Any bytes give
//! an 8-bit grey image or an error, never a panic; a decoded PGM re-encodes to an equal image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mias_data::image_file::{FileFormat, decode_mammogram};
use mias_data::{LoadOptions, pgm};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_mammogram(data, &LoadOptions::default(), None) {
        let img = &m.image;
        assert_eq!(img.as_raw().len(), (img.width() * img.height()) as usize);
        assert_eq!(m.original_size, img.dimensions());
        if m.format == FileFormat::Pgm {
            assert_eq!(&pgm::decode(&pgm::encode(img)).unwrap(), img);
        }
    }
});
