//! Fuzz the Info.txt parser: any bytes give a table or an error, never a panic, and a parsed
//! table's summary is self-consistent.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mias_data::{InfoTable, LabelVariant};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(table) = InfoTable::parse(text, Path::new("fuzz/Info.txt")) {
        for variant in [LabelVariant::Official, LabelVariant::Paper] {
            let s = table.summary(variant);
            assert_eq!(s.normal + s.abnormal, s.images);
            assert_eq!(s.benign + s.malignant, s.abnormal);
        }
        let _ = table.check_complete();
    }
});
