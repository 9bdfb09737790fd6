//! DICOM mammograms through dicom-rs (`dicom-object` parses, `dicom-pixeldata` decodes):
//! greyscale single-frame images, 8 or 16 bits allocated, signed or not, MONOCHROME1 or
//! MONOCHROME2, uncompressed (implicit or explicit VR, little or big endian, deflated), RLE
//! Lossless, JPEG baseline (8-bit) and lossless (process 14, any predictor, up to 16 bits)
//! through `jpeg-decoder`, JPEG 2000 through the pure-Rust `openjp2` port of OpenJPEG (no
//! native library), and JPEG-LS (lossless and near-lossless) through `pure_jpegls`, called
//! here because dicom-rs's own JPEG-LS decoder is CharLS (C++). Built only with the `dicom`
//! feature of mias-data (on by default).
//!
//! 12-bit lossy JPEG (JPEG Extended, process 4) is refused with its own error: `jpeg-decoder`
//! and `zune-jpeg` have no 12-bit DCT, and the one pure-Rust decoder that has one
//! (`libjpeg-turbo-rs`, 0.x, some 70,000 lines with SIMD `unsafe`) is a large young
//! dependency for a transfer syntax mammography archives rarely use.
//!
//! [`decode`] reads the header and the stored sample values; [`DicomImage::to_gray8`] applies
//! the rescale and the VOI window of [`crate::window`] (the header's window, else a percentile
//! window) and inverts MONOCHROME1, giving the 8-bit image the rest of mias works on.
//! Laterality and view come from the header (see [`DicomImage::laterality`]), each with the
//! attribute it was read from.
//!
//! Everything a file can get wrong is an `Err` naming the attribute (`PixelData (7FE0,0010)`,
//! `TransferSyntaxUID (0002,0010)`, ...), never a panic: the entry point is fuzzed
//! (`fuzz/fuzz_targets/dicom_loader.rs`). Fuzzing found four ways in which dicom-rs 0.10
//! panics or takes gigabytes on a damaged file; three checks run before it, each written
//! here because dicom-rs has no option for it: declared lengths against the bytes left (and
//! binary values that are whole values), RLE segment sizes, and the JPEG / JPEG 2000 frame
//! header against Rows, Columns and Bits Allocated.
//!
//! A deflated data set is inflated once here (bounded by [`MAX_INFLATED`]) so that the same
//! length checks run on it, then dicom-rs inflates it again to parse it.
//!
//! Not supported, each with its own error: colour and multi-frame images, 1- and 32-bit
//! samples, 12-bit lossy JPEG, JPEG XL (its dicom-rs decoders add much to the build), Modality
//! LUT Sequence, and a VOI LUT Sequence without a window (read it with
//! [`WindowRule::Percentile`] to ignore it).

use std::path::Path;

use dicom_core::VR;
use dicom_object::{DefaultDicomObject, OpenFileOptions, Tag};
use dicom_pixeldata::PixelDecoder;
use image::GrayImage;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::Side;
use crate::manifest::View;
use crate::window::{Rescale, Samples, VoiFunction, Window, WindowRule, WindowSource};

/// The largest image accepted, in pixels (about 11,585 x 11,585): far above any mammogram
/// (full-field detectors give at most about 4,000 x 6,000), low enough that a forged header
/// cannot make the decoders allocate gigabytes.
pub const MAX_PIXELS: u64 = 1 << 27;

/// The most bytes a deflated data set may inflate to: the pixel data of the largest image
/// accepted ([`MAX_PIXELS`] 16-bit samples) and 64 MiB of other attributes. A deflate bomb
/// (a few kilobytes that inflate to gigabytes) is refused at this size.
pub const MAX_INFLATED: u64 = 2 * MAX_PIXELS + (64 << 20);

/// The transfer syntax UIDs of JPEG-LS, lossless and near-lossless.
const JPEG_LS: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

/// The transfer syntax UID of the deflated explicit VR little endian data set.
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// A DICOM attribute mias reads, with its keyword and tag for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The DICOM keyword.
    pub keyword: &'static str,
    /// The tag.
    pub tag: Tag,
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:04X},{:04X})",
            self.keyword, self.tag.0, self.tag.1
        )
    }
}

macro_rules! attributes {
    ($($name:ident = $keyword:literal ($g:literal, $e:literal);)*) => {
        $(
            #[doc = concat!("`", $keyword, "`")]
            pub const $name: Attribute = Attribute { keyword: $keyword, tag: Tag($g, $e) };
        )*
        /// Every attribute above.
        pub const ALL: &[Attribute] = &[$($name),*];
    };
}

/// The attributes mias reads.
pub mod tags {
    use super::{Attribute, Tag};
    attributes! {
        TRANSFER_SYNTAX_UID = "TransferSyntaxUID" (0x0002, 0x0010);
        PATIENT_ID = "PatientID" (0x0010, 0x0020);
        VIEW_POSITION = "ViewPosition" (0x0018, 0x5101);
        PATIENT_ORIENTATION = "PatientOrientation" (0x0020, 0x0020);
        LATERALITY = "Laterality" (0x0020, 0x0060);
        IMAGE_LATERALITY = "ImageLaterality" (0x0020, 0x0062);
        SAMPLES_PER_PIXEL = "SamplesPerPixel" (0x0028, 0x0002);
        PHOTOMETRIC_INTERPRETATION = "PhotometricInterpretation" (0x0028, 0x0004);
        NUMBER_OF_FRAMES = "NumberOfFrames" (0x0028, 0x0008);
        ROWS = "Rows" (0x0028, 0x0010);
        COLUMNS = "Columns" (0x0028, 0x0011);
        BITS_ALLOCATED = "BitsAllocated" (0x0028, 0x0100);
        BITS_STORED = "BitsStored" (0x0028, 0x0101);
        HIGH_BIT = "HighBit" (0x0028, 0x0102);
        PIXEL_REPRESENTATION = "PixelRepresentation" (0x0028, 0x0103);
        WINDOW_CENTER = "WindowCenter" (0x0028, 0x1050);
        WINDOW_WIDTH = "WindowWidth" (0x0028, 0x1051);
        RESCALE_INTERCEPT = "RescaleIntercept" (0x0028, 0x1052);
        RESCALE_SLOPE = "RescaleSlope" (0x0028, 0x1053);
        VOI_LUT_FUNCTION = "VOILUTFunction" (0x0028, 0x1056);
        MODALITY_LUT_SEQUENCE = "ModalityLUTSequence" (0x0028, 0x3000);
        VOI_LUT_SEQUENCE = "VOILUTSequence" (0x0028, 0x3010);
        PIXEL_DATA = "PixelData" (0x7FE0, 0x0010);
    }
}

/// Why bytes are not a DICOM image mias can decode; the caller adds the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DicomError {
    /// The attribute at fault, when one is.
    pub tag: Option<Attribute>,
    /// What is wrong.
    pub reason: String,
}

impl DicomError {
    fn at(tag: Attribute, reason: impl Into<String>) -> Self {
        DicomError {
            tag: Some(tag),
            reason: reason.into(),
        }
    }

    /// The crate error for this file.
    pub fn with_path(self, path: &Path) -> Error {
        Error::Dicom {
            path: path.to_path_buf(),
            tag: self.tag.map(|t| t.to_string()),
            reason: self.reason,
        }
    }
}

impl std::fmt::Display for DicomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tag {
            Some(tag) => write!(f, "{tag}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Photometric Interpretation of a greyscale image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Photometric {
    /// The lowest value is displayed white (inverted to 255 - v in 8 bits).
    #[serde(rename = "MONOCHROME1")]
    Monochrome1,
    /// The lowest value is displayed black.
    #[serde(rename = "MONOCHROME2")]
    Monochrome2,
}

/// Where a laterality or a view was read (defined beside [`crate::image_file::Mammogram`], which
/// carries it whether or not DICOM is built in).
pub use crate::info::MetaSource;

/// A decoded DICOM image: the header facts mias uses and the stored sample values.
#[derive(Clone, Debug)]
pub struct DicomImage {
    /// Transfer Syntax UID.
    pub transfer_syntax: String,
    /// Photometric interpretation.
    pub photometric: Photometric,
    /// Bits Allocated (8 or 16).
    pub bits_allocated: u16,
    /// The modality rescale (identity when the header has none).
    pub rescale: Rescale,
    /// The header's VOI window (the first, when there are several), if any.
    pub header_window: Option<Window>,
    /// Laterality and the attribute it was read from.
    pub laterality: Option<(Side, MetaSource)>,
    /// View and the attribute it was read from.
    pub view: Option<(View, MetaSource)>,
    /// The stored values (masked to Bits Stored and sign-extended).
    pub samples: Samples,
    /// Whether the header has a VOI LUT Sequence (which mias does not apply).
    voi_lut_sequence: bool,
}

impl DicomImage {
    /// Rows x columns as `(width, height)`.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.samples.width, self.samples.height)
    }

    /// The stored value at column `x`, row `y`.
    pub fn stored(&self, x: u32, y: u32) -> Option<i32> {
        (x < self.samples.width && y < self.samples.height)
            .then(|| self.samples.values[y as usize * self.samples.width as usize + x as usize])
    }

    /// The window [`Self::to_gray8`] applies under `rule`.
    pub fn window(&self, rule: &WindowRule) -> Result<Window, DicomError> {
        rule.check()
            .map_err(|r| DicomError::at(tags::WINDOW_CENTER, r))?;
        let header = match rule {
            WindowRule::Header => self.header_window,
            WindowRule::Percentile { .. } => None,
        };
        if let Some(window) = header {
            window
                .check()
                .map_err(|r| DicomError::at(tags::WINDOW_WIDTH, r))?;
            return Ok(window);
        }
        if self.voi_lut_sequence && *rule == WindowRule::Header {
            return Err(DicomError::at(
                tags::VOI_LUT_SEQUENCE,
                "a VOI LUT Sequence without WindowCenter/WindowWidth is not supported; \
                 ask for the percentile window to ignore it",
            ));
        }
        Ok(self
            .samples
            .percentile_window(self.rescale, rule.percentiles()))
    }

    /// The 8-bit image: rescale, window (see [`crate::window`]), MONOCHROME1 inverted.
    pub fn to_gray8(&self, rule: &WindowRule) -> Result<(GrayImage, Window), DicomError> {
        let window = self.window(rule)?;
        let invert = self.photometric == Photometric::Monochrome1;
        Ok((self.samples.to_gray8(self.rescale, &window, invert), window))
    }
}

/// Reads and decodes a DICOM file; errors name the file and the attribute.
pub fn read(path: &Path) -> Result<DicomImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|e| e.with_path(path))
}

/// `(width, height)` of a DICOM file from its header alone (the pixel data is not read):
/// Columns and Rows.
pub fn dimensions(path: &Path) -> Result<(u32, u32)> {
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA.tag)
        .open_file(path)
        .map_err(|e| parse_error(&e).with_path(path))?;
    let rows = uint(&obj, tags::ROWS)
        .and_then(|v| v.ok_or_else(|| missing(tags::ROWS)))
        .map_err(|e| e.with_path(path))?;
    let columns = uint(&obj, tags::COLUMNS)
        .and_then(|v| v.ok_or_else(|| missing(tags::COLUMNS)))
        .map_err(|e| e.with_path(path))?;
    Ok((u32::from(columns), u32::from(rows)))
}

/// Decodes a DICOM file held in memory (with or without the 128-byte preamble).
pub fn decode(bytes: &[u8]) -> Result<DicomImage, DicomError> {
    check_lengths(bytes)?;
    let obj = OpenFileOptions::new()
        .from_reader(bytes)
        .map_err(|e| parse_error(&e))?;
    let transfer_syntax = obj.meta().transfer_syntax().to_string();
    let jpeg_ls = JPEG_LS.contains(&transfer_syntax.as_str());
    if !jpeg_ls {
        check_transfer_syntax(&transfer_syntax)?;
    }

    let photometric = match text(&obj, tags::PHOTOMETRIC_INTERPRETATION)?.as_deref() {
        Some("MONOCHROME1") => Photometric::Monochrome1,
        Some("MONOCHROME2") => Photometric::Monochrome2,
        Some(other) => {
            return Err(DicomError::at(
                tags::PHOTOMETRIC_INTERPRETATION,
                format!("{other:?} is not supported (MONOCHROME1 or MONOCHROME2 only)"),
            ));
        }
        None => return Err(missing(tags::PHOTOMETRIC_INTERPRETATION)),
    };
    let samples_per_pixel = uint(&obj, tags::SAMPLES_PER_PIXEL)?.unwrap_or(1);
    if samples_per_pixel != 1 {
        return Err(DicomError::at(
            tags::SAMPLES_PER_PIXEL,
            format!("{samples_per_pixel} samples per pixel: only greyscale images are supported"),
        ));
    }
    if let Some(frames) = text(&obj, tags::NUMBER_OF_FRAMES)?
        && frames.parse::<u32>().ok() != Some(1)
    {
        return Err(DicomError::at(
            tags::NUMBER_OF_FRAMES,
            format!("{frames} frames: only single-frame images are supported"),
        ));
    }
    let rows = uint(&obj, tags::ROWS)?.ok_or_else(|| missing(tags::ROWS))?;
    let columns = uint(&obj, tags::COLUMNS)?.ok_or_else(|| missing(tags::COLUMNS))?;
    if rows == 0 || columns == 0 || u64::from(rows) * u64::from(columns) > MAX_PIXELS {
        return Err(DicomError::at(
            tags::ROWS,
            format!("{rows} rows x {columns} columns is outside 1..={MAX_PIXELS} pixels"),
        ));
    }
    let bits_allocated =
        uint(&obj, tags::BITS_ALLOCATED)?.ok_or_else(|| missing(tags::BITS_ALLOCATED))?;
    if bits_allocated != 8 && bits_allocated != 16 {
        return Err(DicomError::at(
            tags::BITS_ALLOCATED,
            format!("{bits_allocated} bits: only 8 and 16 are supported"),
        ));
    }
    let bits_stored = uint(&obj, tags::BITS_STORED)?.ok_or_else(|| missing(tags::BITS_STORED))?;
    if bits_stored == 0 || bits_stored > bits_allocated {
        return Err(DicomError::at(
            tags::BITS_STORED,
            format!("{bits_stored} bits stored in {bits_allocated} allocated"),
        ));
    }
    if let Some(high_bit) = uint(&obj, tags::HIGH_BIT)?
        && high_bit != bits_stored - 1
    {
        return Err(DicomError::at(
            tags::HIGH_BIT,
            format!(
                "high bit {high_bit} with {bits_stored} bits stored: only the usual \
                 HighBit = BitsStored - 1 is supported"
            ),
        ));
    }
    let signed = match uint(&obj, tags::PIXEL_REPRESENTATION)? {
        None | Some(0) => false,
        Some(1) => true,
        Some(other) => {
            return Err(DicomError::at(
                tags::PIXEL_REPRESENTATION,
                format!("{other} is neither 0 (unsigned) nor 1 (signed)"),
            ));
        }
    };
    if obj.get(tags::MODALITY_LUT_SEQUENCE.tag).is_some() {
        return Err(DicomError::at(
            tags::MODALITY_LUT_SEQUENCE,
            "a Modality LUT Sequence is not supported (only Rescale Slope/Intercept)",
        ));
    }
    let rescale = Rescale {
        slope: float(&obj, tags::RESCALE_SLOPE)?.unwrap_or(1.0),
        intercept: float(&obj, tags::RESCALE_INTERCEPT)?.unwrap_or(0.0),
    };
    if !(rescale.slope.is_finite() && rescale.intercept.is_finite()) || rescale.slope == 0.0 {
        return Err(DicomError::at(
            tags::RESCALE_SLOPE,
            format!(
                "slope {} and intercept {}: need finite values and a slope other than 0",
                rescale.slope, rescale.intercept
            ),
        ));
    }
    let header_window = header_window(&obj)?;
    let voi_lut_sequence = obj.get(tags::VOI_LUT_SEQUENCE.tag).is_some();
    let laterality = laterality(&obj)?;
    let view = view(&obj)?;

    if obj.get(tags::PIXEL_DATA.tag).is_none() {
        return Err(DicomError::at(
            tags::PIXEL_DATA,
            "missing: the file has no pixel data",
        ));
    }
    if transfer_syntax == RLE_LOSSLESS {
        check_rle(
            &obj,
            pixels_of(rows, columns),
            usize::from(bits_allocated / 8),
        )?;
    } else if let Some(family) = codestream_family(&transfer_syntax) {
        check_codestream(&obj, family, rows, columns, bits_allocated)?;
    }
    let values = if jpeg_ls {
        decode_jpeg_ls(&obj, rows, columns, bits_allocated, bits_stored, signed)?
    } else {
        let decoded = obj.decode_pixel_data().map_err(|e| {
            DicomError::at(
                tags::PIXEL_DATA,
                format!("cannot decode ({}): {}", transfer_syntax, chain(&e)),
            )
        })?;
        let pixels = pixels_of(rows, columns);
        let bytes_per_sample = usize::from(bits_allocated / 8);
        let data = decoded.data();
        let needed = pixels * bytes_per_sample;
        if data.len() < needed {
            return Err(DicomError::at(
                tags::PIXEL_DATA,
                format!(
                    "truncated: {rows} x {columns} pixels of {bits_allocated} bits need {needed} \
                     bytes, the pixel data holds {}",
                    data.len()
                ),
            ));
        }
        stored_values(&data[..needed], bits_allocated, bits_stored, signed)
    };
    Ok(DicomImage {
        transfer_syntax,
        photometric,
        bits_allocated,
        rescale,
        header_window,
        laterality,
        view,
        samples: Samples {
            width: u32::from(columns),
            height: u32::from(rows),
            bits: bits_stored,
            signed,
            values,
        },
        voi_lut_sequence,
    })
}

/// Checks that no element or fragment declares more bytes than the file has left, before
/// dicom-rs reads it. dicom-parser 0.10 allocates and zero-fills a value's declared length
/// before reading it, so a 500-byte file declaring a 4 GB element would take 4 GB of memory
/// (found by fuzzing). This walks the element headers the way dicom-object and dicom-parser do
/// (the meta group by its group length, then the data set in explicit or implicit VR, little or
/// big endian; sequences and items entered, encapsulated fragments and values skipped) and only
/// judges lengths: anything else it cannot follow is left to dicom-rs to report.
fn check_lengths(bytes: &[u8]) -> Result<(), DicomError> {
    let mut walker = LengthWalker {
        bytes,
        pos: if bytes.get(128..132) == Some(b"DICM") {
            132
        } else if bytes.starts_with(b"DICM") {
            4
        } else {
            return Ok(());
        },
        explicit: true,
        little: true,
        in_pixel_sequence: false,
    };
    // The meta group: (0002,0000) with a 4-byte length first, then elements until the group
    // length is used up, whatever their tags (as dicom-object reads it).
    let Some((Tag(0x0002, 0x0000), _, 4, _)) = walker.header() else {
        return Ok(());
    };
    let Some(group_length) = walker.u32_at(walker.pos + 8) else {
        return Ok(());
    };
    walker.pos += 12;
    let meta_end = walker.pos.saturating_add(group_length as usize);
    let mut syntax = String::new();
    while walker.pos < meta_end {
        let Some((tag, vr, len, header)) = walker.header() else {
            return Ok(());
        };
        let start = walker.pos + header;
        if len == u32::MAX {
            return Ok(()); // dicom-object refuses an undefined length here
        }
        walker.check(tag, vr, start, len)?;
        if tag == tags::TRANSFER_SYNTAX_UID.tag {
            syntax = String::from_utf8_lossy(&bytes[start..start + len as usize])
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
        }
        walker.pos = start + len as usize;
    }
    match syntax.as_str() {
        "1.2.840.10008.1.2" => walker.explicit = false,
        "1.2.840.10008.1.2.2" => walker.little = false,
        // The data set after the meta group is deflated explicit VR little endian: walk it
        // inflated.
        DEFLATED => {
            let inflated = inflate(&bytes[walker.pos.min(bytes.len())..])?;
            let mut inner = LengthWalker {
                bytes: &inflated,
                pos: 0,
                explicit: true,
                little: true,
                in_pixel_sequence: false,
            };
            return inner.data_set();
        }
        // Unknown syntaxes: dicom-rs refuses them before reading values.
        s if s.ends_with(".99") || s.is_empty() => return Ok(()),
        _ => {}
    }
    walker.data_set()
}

/// PS3.5 7.1.2: the VRs with a 16-bit length in explicit VR; every other one (and any two bytes
/// that are no VR at all, which dicom-rs reads as UN) has a reserved word and 32 bits.
fn is_short_vr(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS
            | AT
            | CS
            | DA
            | DS
            | DT
            | FL
            | FD
            | IS
            | LO
            | LT
            | PN
            | SH
            | SL
            | SS
            | ST
            | TM
            | UI
            | UL
            | US
    )
}

/// The size of one value of a binary VR. dicom-parser reads `len / size` values but counts
/// `len` bytes as read, so a length that is not a multiple puts it out of step with the file
/// (and the next "header" can declare anything).
fn value_size(vr: VR) -> Option<u32> {
    use VR::*;
    match vr {
        US | OW | SS => Some(2),
        AT | FL | OF | SL | OL | UL => Some(4),
        FD | OD | SV | OV | UV => Some(8),
        _ => None,
    }
}

/// The state of [`check_lengths`].
struct LengthWalker<'a> {
    bytes: &'a [u8],
    pos: usize,
    explicit: bool,
    little: bool,
    in_pixel_sequence: bool,
}

impl LengthWalker<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at.checked_add(2)?)?;
        Some(if self.little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.bytes.get(at..at.checked_add(4)?)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The element header at `pos` as dicom-rs decodes it: tag, VR (from the dictionary in
    /// implicit VR, `UN` for items), length and header size.
    fn header(&self) -> Option<(Tag, VR, u32, usize)> {
        use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
        let tag = Tag(self.u16_at(self.pos)?, self.u16_at(self.pos + 2)?);
        if tag.0 == 0xFFFE {
            return Some((tag, VR::UN, self.u32_at(self.pos + 4)?, 8));
        }
        if !self.explicit {
            let vr = if tag == tags::PIXEL_DATA.tag || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
                VR::OW
            } else {
                dicom_object::StandardDataDictionary
                    .by_tag(tag)
                    .map_or(VR::UN, |e| e.vr().relaxed())
            };
            return Some((tag, vr, self.u32_at(self.pos + 4)?, 8));
        }
        let code = self.bytes.get(self.pos + 4..self.pos + 6)?;
        let vr = VR::from_binary([code[0], code[1]]).unwrap_or(VR::UN);
        Some(if is_short_vr(vr) {
            (tag, vr, u32::from(self.u16_at(self.pos + 6)?), 8)
        } else {
            (tag, vr, self.u32_at(self.pos + 8)?, 12)
        })
    }

    /// An error when `len` bytes from `start` run past the end of the file, or do not make
    /// whole values of `vr`.
    fn check(&self, tag: Tag, vr: VR, start: usize, len: u32) -> Result<(), DicomError> {
        let left = self.bytes.len().saturating_sub(start);
        let reason = if len as usize > left {
            format!("truncated or damaged file: declares {len} bytes, {left} remain")
        } else if let Some(size) = value_size(vr).filter(|size| !len.is_multiple_of(*size)) {
            format!("damaged file: {len} bytes of {vr:?} are not whole {size}-byte values")
        } else {
            return Ok(());
        };
        let attribute = tags::ALL
            .iter()
            .copied()
            .find(|a| a.tag == tag)
            .unwrap_or(Attribute {
                keyword: "element",
                tag,
            });
        Err(DicomError::at(attribute, reason))
    }

    fn data_set(&mut self) -> Result<(), DicomError> {
        while let Some((tag, vr, len, header)) = self.header() {
            self.pos += header;
            if tag.0 == 0xFFFE {
                match tag.1 {
                    // A fragment of encapsulated pixel data is read into memory whole.
                    0xE000 if self.in_pixel_sequence => {
                        self.check(tags::PIXEL_DATA.tag, VR::OB, self.pos, len)?;
                        self.pos += len as usize;
                    }
                    0xE0DD => self.in_pixel_sequence = false,
                    // Items of a sequence hold elements: go on inside.
                    _ => {}
                }
                continue;
            }
            if len == u32::MAX {
                // Undefined length: encapsulated pixel data, or a sequence (whatever the VR).
                self.in_pixel_sequence = tag == tags::PIXEL_DATA.tag;
                continue;
            }
            if vr == VR::SQ {
                self.check(tag, VR::OB, self.pos, len)?;
            } else {
                self.check(tag, vr, self.pos, len)?;
                self.pos += len as usize;
            }
        }
        Ok(())
    }
}

/// The transfer syntax UID of RLE Lossless.
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

fn pixels_of(rows: u16, columns: u16) -> usize {
    usize::from(rows) * usize::from(columns)
}

/// Checks RLE Lossless pixel data (PS3.5 Annex G) before dicom-rs decodes it: one fragment,
/// a 64-byte header with one segment per byte of a sample, and segments that decode to at
/// least one byte per pixel. dicom-transfer-syntax-registry 0.10.1 slices the header without
/// checking its length and indexes past the end of a short segment, so a truncated or forged
/// file would panic there; this check turns those cases into errors. It replays the
/// decoder's PackBits arithmetic without writing any output.
fn check_rle(
    obj: &DefaultDicomObject,
    pixels: usize,
    bytes_per_sample: usize,
) -> Result<(), DicomError> {
    let bad = |reason: String| DicomError::at(tags::PIXEL_DATA, format!("RLE Lossless: {reason}"));
    let fragments = obj
        .get(tags::PIXEL_DATA.tag)
        .and_then(|e| e.value().fragments())
        .ok_or_else(|| bad("the pixel data is not encapsulated".into()))?;
    let [fragment] = fragments else {
        return Err(bad(format!(
            "{} fragments; a single-frame image has exactly one",
            fragments.len()
        )));
    };
    let word = |i: usize| -> u32 {
        let b = &fragment[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    if fragment.len() < 64 {
        return Err(bad(format!(
            "truncated: {} bytes, shorter than the 64-byte RLE header",
            fragment.len()
        )));
    }
    let segments = word(0) as usize;
    if segments != bytes_per_sample {
        return Err(bad(format!(
            "{segments} segments in the header, {bytes_per_sample} expected (one per byte of              a sample)"
        )));
    }
    for segment in 0..segments {
        let start = word(1 + segment) as usize;
        let end = if segment + 1 < segments {
            word(2 + segment) as usize
        } else {
            fragment.len()
        };
        let Some(bytes) = fragment.get(start..end) else {
            return Err(bad(format!(
                "segment {segment} at bytes {start}..{end} lies outside the {}-byte fragment",
                fragment.len()
            )));
        };
        let decoded = packbits_length(bytes)
            .ok_or_else(|| bad(format!("segment {segment} ends inside a run (truncated)")))?;
        if decoded < pixels {
            return Err(bad(format!(
                "segment {segment} decodes to {decoded} bytes, {pixels} needed (truncated)"
            )));
        }
    }
    Ok(())
}

/// The compressed formats whose frame size dicom-rs takes from the codestream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codestream {
    Jpeg,
    JpegLs,
    Jpeg2000,
}

fn codestream_family(uid: &str) -> Option<Codestream> {
    let number: u32 = uid.strip_prefix("1.2.840.10008.1.2.4.")?.parse().ok()?;
    match number {
        50..=70 => Some(Codestream::Jpeg),
        80 | 81 => Some(Codestream::JpegLs),
        90..=93 | 201..=203 => Some(Codestream::Jpeg2000),
        _ => None,
    }
}

/// Checks that a JPEG, JPEG-LS or JPEG 2000 codestream is one greyscale component of Rows x
/// Columns with a precision that fits Bits Allocated, before it is decoded; refuses 12-bit
/// lossy JPEG by name.
/// dicom-transfer-syntax-registry 0.10.1 copies the decoded samples into a buffer sized from
/// the DICOM header without comparing the two sizes (and writes a second JPEG 2000 component
/// past the end), so a codestream larger than the header says, or with two components, would
/// panic there (found by fuzzing). Reads only the frame header (SOF or SIZ).
fn check_codestream(
    obj: &DefaultDicomObject,
    family: Codestream,
    rows: u16,
    columns: u16,
    bits_allocated: u16,
) -> Result<(), DicomError> {
    let bad = |reason: String| DicomError::at(tags::PIXEL_DATA, reason);
    let fragments = obj
        .get(tags::PIXEL_DATA.tag)
        .and_then(|e| e.value().fragments())
        .ok_or_else(|| bad("compressed pixel data that is not encapsulated".into()))?;
    let stream: Vec<u8> = fragments.iter().flatten().copied().collect();
    let (width, height, components, precision) = match family {
        Codestream::Jpeg => jpeg_frame(&stream).filter(|f| f.4 != SOF55),
        Codestream::JpegLs => jpeg_frame(&stream).filter(|f| f.4 == SOF55),
        Codestream::Jpeg2000 => j2k_frame(&stream).map(|(w, h, c, p)| (w, h, c, p, 0)),
    }
    .map(|(w, h, c, p, marker)| {
        // SOF1 (extended, Huffman) and SOF9 (extended, arithmetic) at 12 bits: a lossy DCT.
        if matches!(marker, 0xC1 | 0xC9) && p == 12 {
            Err(bad(
                "cannot decode 12-bit lossy JPEG (JPEG Extended, process 4): no pure-Rust \
                 decoder of its 12-bit DCT is built in (jpeg-decoder and zune-jpeg stop at 8 \
                 bits); convert the file (to JPEG 2000 or uncompressed, e.g. with dcmtk's \
                 dcmdjpeg or pydicom) and read that"
                    .into(),
            ))
        } else {
            Ok((w, h, c, p))
        }
    })
    .ok_or_else(|| {
        bad(format!(
            "no readable {} frame header in the pixel data",
            match family {
                Codestream::Jpeg => "JPEG (SOF)",
                Codestream::JpegLs => "JPEG-LS (SOF55)",
                Codestream::Jpeg2000 => "JPEG 2000 (SIZ)",
            }
        ))
    })??;
    if (width, height) != (u32::from(columns), u32::from(rows)) || components != 1 {
        return Err(bad(format!(
            "the codestream holds {width} x {height} pixels with {components} component(s), \
             the header says {columns} x {rows} with one"
        )));
    }
    let fits = match family {
        // jpeg-decoder gives one byte per sample up to 8 bits, two above.
        Codestream::Jpeg => (precision > 8) == (bits_allocated == 16),
        Codestream::JpegLs => precision <= u32::from(bits_allocated),
        Codestream::Jpeg2000 => precision <= u32::from(bits_allocated),
    };
    if !fits {
        return Err(bad(format!(
            "a {precision}-bit codestream in {bits_allocated} allocated bits"
        )));
    }
    Ok(())
}

/// The start-of-frame marker of JPEG-LS (ITU-T T.87).
const SOF55: u8 = 0xF7;

/// `(width, height, components, precision, marker)` from a JPEG stream's SOF segment (any
/// DCT or lossless process, or JPEG-LS's SOF55).
fn jpeg_frame(bytes: &[u8]) -> Option<(u32, u32, u32, u32, u8)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while *bytes.get(at)? == 0xFF && *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        at += 2;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return None,
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
        if matches!(
            marker,
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | SOF55
        ) {
            let f = bytes.get(at + 2..at + 8)?;
            let precision = u32::from(f[0]);
            let height = u32::from(u16::from_be_bytes([f[1], f[2]]));
            let width = u32::from(u16::from_be_bytes([f[3], f[4]]));
            return Some((width, height, u32::from(f[5]), precision, marker));
        }
        if length < 2 {
            return None;
        }
        at += length;
    }
}

/// `(width, height, components, precision)` from a JPEG 2000 codestream's SIZ segment (also
/// inside a JP2 file); a subsampled component counts twice, so that it is refused.
fn j2k_frame(bytes: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let at = bytes
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?
        + 4;
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(at + i..at + i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (x, y, x0, y0) = (word(4)?, word(8)?, word(12)?, word(16)?);
    let count = u16::from_be_bytes([*bytes.get(at + 36)?, *bytes.get(at + 37)?]);
    let mut precision = 0;
    let mut components = u32::from(count);
    for c in 0..usize::from(count) {
        let s = bytes.get(at + 38 + 3 * c..at + 41 + 3 * c)?;
        precision = precision.max(u32::from(s[0] & 0x7F) + 1);
        if (s[1], s[2]) != (1, 1) {
            components += 1;
        }
    }
    Some((
        x.checked_sub(x0)?,
        y.checked_sub(y0)?,
        components,
        precision,
    ))
}

/// The number of bytes a PackBits stream decodes to, as the decoder reads it (a literal run cut
/// short by the end is shortened); `None` when a repeat run lacks its byte.
fn packbits_length(bytes: &[u8]) -> Option<usize> {
    let (mut at, mut total) = (0usize, 0usize);
    while at < bytes.len() {
        let header = bytes[at] as i8;
        at += 1;
        match header {
            -128 => {}
            h if h < 0 => {
                bytes.get(at)?;
                at += 1;
                total += (1 - isize::from(h)) as usize;
            }
            h => {
                let n = (h as usize + 1).min(bytes.len() - at);
                at += n;
                total += n;
            }
        }
    }
    Some(total)
}

/// Decodes JPEG-LS pixel data (lossless or near-lossless, one component) with `pure_jpegls`
/// into stored values. [`check_codestream`] has already matched its frame header to the
/// DICOM header, so the samples fit Bits Allocated.
fn decode_jpeg_ls(
    obj: &DefaultDicomObject,
    rows: u16,
    columns: u16,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
) -> Result<Vec<i32>, DicomError> {
    let bad = |reason: String| DicomError::at(tags::PIXEL_DATA, reason);
    let fragments = obj
        .get(tags::PIXEL_DATA.tag)
        .and_then(|e| e.value().fragments())
        .ok_or_else(|| bad("compressed pixel data that is not encapsulated".into()))?;
    // One frame: its fragments joined are the codestream.
    let stream: Vec<u8> = fragments.iter().flatten().copied().collect();
    let (samples, _, _) = jpegls::decode(&stream, u32::from(columns), u32::from(rows))
        .map_err(|e| bad(format!("cannot decode JPEG-LS: {e}")))?;
    let data: Vec<u8> = if bits_allocated == 8 {
        // The frame's precision is at most 8 bits here.
        samples.iter().map(|&v| v.to_le_bytes()[0]).collect()
    } else {
        samples.iter().flat_map(|v| v.to_ne_bytes()).collect()
    };
    Ok(stored_values(&data, bits_allocated, bits_stored, signed))
}

/// Inflates a deflated data set (raw DEFLATE, PS3.5 A.5) to at most [`MAX_INFLATED`] bytes.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, DicomError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| DicomError {
            tag: None,
            reason: format!("damaged deflated data set: cannot inflate it: {e}"),
        })?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(DicomError {
            tag: None,
            reason: format!(
                "the deflated data set inflates to more than {MAX_INFLATED} bytes (a damaged \
                 file or a deflate bomb)"
            ),
        });
    }
    Ok(out)
}

/// Stored values from decoded native-endian samples: masked to `bits` and sign-extended.
fn stored_values(data: &[u8], allocated: u16, bits: u16, signed: bool) -> Vec<i32> {
    let mask = (1u32 << bits) - 1;
    let extend = |raw: u32| -> i32 {
        let v = raw & mask;
        if signed && v & (1 << (bits - 1)) != 0 {
            v as i32 - (1i32 << bits)
        } else {
            v as i32
        }
    };
    if allocated == 8 {
        data.iter().map(|&b| extend(u32::from(b))).collect()
    } else {
        data.chunks_exact(2)
            .map(|c| extend(u32::from(u16::from_ne_bytes([c[0], c[1]]))))
            .collect()
    }
}

/// Refuses transfer syntaxes this build cannot decode, naming them.
fn check_transfer_syntax(uid: &str) -> Result<(), DicomError> {
    use dicom_transfer_syntax_registry::{TransferSyntaxIndex as _, TransferSyntaxRegistry};
    match TransferSyntaxRegistry.get(uid) {
        None => Err(DicomError::at(
            tags::TRANSFER_SYNTAX_UID,
            format!("unsupported transfer syntax {uid}: not a transfer syntax mias knows"),
        )),
        Some(ts) if !ts.can_decode_all() => Err(DicomError::at(
            tags::TRANSFER_SYNTAX_UID,
            format!(
                "unsupported transfer syntax {} ({uid}): no decoder in this build (mias \
                 decodes uncompressed, deflated, RLE Lossless, JPEG incl. lossless, JPEG-LS \
                 and JPEG 2000)",
                ts.name()
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn missing(tag: Attribute) -> DicomError {
    DicomError::at(tag, "missing")
}

/// The trimmed text of an attribute, `None` when absent or empty.
fn text(obj: &DefaultDicomObject, tag: Attribute) -> Result<Option<String>, DicomError> {
    let Some(element) = obj.get(tag.tag) else {
        return Ok(None);
    };
    let value = element
        .to_str()
        .map_err(|e| DicomError::at(tag, format!("unreadable value: {e}")))?;
    let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    Ok((!value.is_empty()).then(|| value.to_string()))
}

/// An unsigned 16-bit attribute (US, or a number in text), `None` when absent or empty.
fn uint(obj: &DefaultDicomObject, tag: Attribute) -> Result<Option<u16>, DicomError> {
    let Some(value) = text(obj, tag)? else {
        return Ok(None);
    };
    value
        .parse::<u16>()
        .map(Some)
        .map_err(|_| DicomError::at(tag, format!("{value:?} is not an integer in 0..=65535")))
}

/// The first value of a decimal attribute (DS), `None` when absent or empty.
fn float(obj: &DefaultDicomObject, tag: Attribute) -> Result<Option<f64>, DicomError> {
    let Some(value) = text(obj, tag)? else {
        return Ok(None);
    };
    let first = value.split('\\').next().unwrap_or("").trim();
    first
        .parse::<f64>()
        .map(Some)
        .map_err(|_| DicomError::at(tag, format!("{value:?} is not a decimal number")))
}

fn header_window(obj: &DefaultDicomObject) -> Result<Option<Window>, DicomError> {
    let center = float(obj, tags::WINDOW_CENTER)?;
    let width = float(obj, tags::WINDOW_WIDTH)?;
    let function = match text(obj, tags::VOI_LUT_FUNCTION)? {
        None => VoiFunction::Linear,
        Some(code) => VoiFunction::from_code(&code).ok_or_else(|| {
            DicomError::at(
                tags::VOI_LUT_FUNCTION,
                format!("{code:?} is not LINEAR, LINEAR_EXACT or SIGMOID"),
            )
        })?,
    };
    match (center, width) {
        (Some(center), Some(width)) => Ok(Some(Window {
            center,
            width,
            function,
            source: WindowSource::Header,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing(tags::WINDOW_WIDTH)),
        (None, Some(_)) => Err(missing(tags::WINDOW_CENTER)),
    }
}

fn side_code(value: &str) -> Option<Side> {
    match value {
        "L" => Some(Side::Left),
        "R" => Some(Side::Right),
        _ => None,
    }
}

/// ImageLaterality, else Laterality, else a CBIS-DDSM PatientID. `B` (both) and `U` (unpaired)
/// give no laterality.
fn laterality(obj: &DefaultDicomObject) -> Result<Option<(Side, MetaSource)>, DicomError> {
    for (tag, source) in [
        (tags::IMAGE_LATERALITY, MetaSource::ImageLaterality),
        (tags::LATERALITY, MetaSource::Laterality),
    ] {
        if let Some(side) = text(obj, tag)?.as_deref().and_then(side_code) {
            return Ok(Some((side, source)));
        }
    }
    let from_id = text(obj, tags::PATIENT_ID)?.and_then(|id| {
        let words: Vec<&str> = id.split('_').collect();
        match (words.contains(&"LEFT"), words.contains(&"RIGHT")) {
            (true, false) => Some(Side::Left),
            (false, true) => Some(Side::Right),
            _ => None,
        }
    });
    Ok(from_id.map(|side| (side, MetaSource::PatientId)))
}

/// ViewPosition, else PatientOrientation or PatientID as CBIS-DDSM writes them. Views other
/// than CC and MLO (ML, XCCL, ...) give no view.
fn view(obj: &DefaultDicomObject) -> Result<Option<(View, MetaSource)>, DicomError> {
    for (tag, source) in [
        (tags::VIEW_POSITION, MetaSource::ViewPosition),
        (tags::PATIENT_ORIENTATION, MetaSource::PatientOrientation),
    ] {
        if let Some(view) = text(obj, tag)?.and_then(|v| v.parse::<View>().ok()) {
            return Ok(Some((view, source)));
        }
    }
    let from_id = text(obj, tags::PATIENT_ID)?
        .and_then(|id| id.rsplit('_').next().and_then(|w| w.parse::<View>().ok()));
    Ok(from_id.map(|view| (view, MetaSource::PatientId)))
}

/// A read error of dicom-object as one line, naming the attribute the parser was reading
/// when it stopped (its messages say `tagged (gggg,eeee)`) or the transfer syntax.
fn parse_error(error: &dicom_object::ReadError) -> DicomError {
    let message = chain(error);
    let tag = match error {
        dicom_object::ReadError::ReadUnrecognizedTransferSyntax { .. }
        | dicom_object::ReadError::ReadUnsupportedTransferSyntax { .. } => {
            Some(tags::TRANSFER_SYNTAX_UID)
        }
        // dicom-object names a missing meta element by its keyword.
        _ if message.contains("Missing data element `TransferSyntax`") => {
            return DicomError::at(
                tags::TRANSFER_SYNTAX_UID,
                format!("missing from the file meta group: {message}"),
            );
        }
        _ => tag_in(&message),
    };
    let reason = if tag == Some(tags::TRANSFER_SYNTAX_UID) {
        format!("unsupported transfer syntax: {message}")
    } else if message.contains("failed to fill whole buffer") {
        format!("truncated file: {message}")
    } else {
        format!("not a readable DICOM file: {message}")
    };
    DicomError { tag, reason }
}

/// The first `(gggg,eeee)` after the word `tagged` in a message, as an attribute.
fn tag_in(message: &str) -> Option<Attribute> {
    let at = message.find("tagged (")? + "tagged (".len();
    let text = message.get(at..at + 10)?;
    let (group, element) = text.strip_suffix(')')?.split_once(',')?;
    let tag = Tag(
        u16::from_str_radix(group, 16).ok()?,
        u16::from_str_radix(element, 16).ok()?,
    );
    Some(
        tags::ALL
            .iter()
            .copied()
            .find(|a| a.tag == tag)
            .unwrap_or(Attribute {
                keyword: "element",
                tag,
            }),
    )
}

/// An error and its sources, joined by `: `.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_lengths_by_hand() {
        assert_eq!(packbits_length(&[2, 10, 11, 12]), Some(3)); // literal of 3
        assert_eq!(packbits_length(&[0xFE, 7]), Some(3)); // -2: repeat 7 three times
        assert_eq!(packbits_length(&[0x81, 0]), Some(128)); // -127: 128 repeats
        assert_eq!(packbits_length(&[0x80, 0, 9]), Some(1)); // -128 is a no-op
        assert_eq!(packbits_length(&[5, 1]), Some(1)); // literal cut short by the end
        assert_eq!(packbits_length(&[0xFE]), None); // repeat without its byte
    }

    #[test]
    fn frame_headers_by_hand() {
        // SOI, an APP0 of 2 payload bytes, fill byte, SOF3: 16-bit, 16 rows, 32 columns, 1.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xFF, 0xC3, 0, 11, 16, 0, 16, 0, 32, 1,
        ];
        assert_eq!(jpeg_frame(&jpeg), Some((32, 16, 1, 16, 0xC3)));
        let mut ls = jpeg;
        ls[10] = SOF55;
        assert_eq!(jpeg_frame(&ls), Some((32, 16, 1, 16, SOF55)));
        assert_eq!(jpeg_frame(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None); // scan before frame
        assert_eq!(jpeg_frame(&jpeg[..14]), None); // truncated SOF
        // SOC, SIZ: 40 x 30 from offset (8, 5), one 12-bit component, not subsampled.
        let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for word in [40u32, 30, 8, 5, 40, 30, 0, 0] {
            j2k.extend_from_slice(&word.to_be_bytes());
        }
        j2k.extend_from_slice(&[0, 1, 11, 1, 1]);
        assert_eq!(j2k_frame(&j2k), Some((32, 25, 1, 12)));
        let last = j2k.len() - 1;
        j2k[last] = 2; // vertically subsampled: counted as a second component
        assert_eq!(j2k_frame(&j2k), Some((32, 25, 2, 12)));
    }

    #[test]
    fn tags_are_found_in_parser_messages() {
        let m = "Could not read 768 value bytes for element tagged (7FE0,0010): failed";
        assert_eq!(tag_in(m), Some(tags::PIXEL_DATA));
        let other = tag_in("tagged (0009,1001)").unwrap();
        assert_eq!(other.to_string(), "element (0009,1001)");
        assert_eq!(tag_in("tagged (zz"), None);
    }
}
