//! One entry for every image file mias reads: PGM, PNG, JPEG, TIFF and DICOM, recognised by
//! their first bytes (not their extension), decoded to 8-bit grey.
//!
//! | format | recognised by | decoded by | bit depths | feature |
//! |---|---|---|---|---|
//! | PGM | `P5` | [`crate::pgm`] | 8 | always |
//! | PNG | `\x89PNG` | `image` | 8, 16 | always |
//! | JPEG | `FF D8 FF` | `image` (zune-jpeg) | 8 (12-bit JPEG is refused by the decoder) | `jpeg` |
//! | TIFF | `II*\0`, `MM\0*` | `image` (tiff) | 8, 16 | `tiff` |
//! | DICOM | `DICM` at byte 128 | `crate::dicom` (dicom-rs) | 8, 16 | `dicom` |
//!
//! Every format is recognised in every build; one whose mias-data feature is off (see the
//! crate's `Cargo.toml`) is an error naming that feature, never a wrong decoder.
//!
//! 8-bit grey is taken as it is. 16-bit grey (PNG, TIFF) goes through the window rule of
//! [`crate::window`] (no header there, so the percentile window unless asked otherwise), the
//! same rule as a DICOM file without a window. Colour files are accepted only when every pixel
//! is grey (R = G = B, alpha opaque), as collections often store grey images in RGB; any real
//! colour is an error rather than a silent conversion.
//!
//! [`load_mammogram`] adds what a collection needs: laterality and view from a DICOM header,
//! the flip of every breast to one canonical side, and the downsampling to a working
//! resolution with one of [`Interpolation`]'s named filters (the Pillow-exact resize of
//! [`crate::preprocess`]). The order is window, flip, resize.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage};
use serde::Serialize;

#[cfg(feature = "dicom")]
use crate::dicom;
use crate::error::{Error, Result};
use crate::info::Side;
use crate::manifest::View;
use crate::pgm;
use crate::preprocess::{Interpolation, resize};
use crate::window::{Rescale, Samples, Window, WindowRule};

/// A file format mias reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Binary PGM (`P5`).
    Pgm,
    /// PNG.
    Png,
    /// JPEG (JFIF/Exif).
    Jpeg,
    /// TIFF.
    Tiff,
    /// DICOM Part 10 file (128-byte preamble and `DICM`).
    Dicom,
}

impl FileFormat {
    /// Recognises a format by its first bytes.
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
            Some(FileFormat::Dicom)
        } else if bytes.starts_with(b"\x89PNG") {
            Some(FileFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileFormat::Jpeg)
        } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            Some(FileFormat::Tiff)
        } else if bytes.len() >= 2 && bytes[0] == b'P' && bytes[1].is_ascii_digit() {
            // Every PNM magic number: pgm::decode names the unsupported ones.
            Some(FileFormat::Pgm)
        } else {
            None
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Pgm => "pgm",
            FileFormat::Png => "png",
            FileFormat::Jpeg => "jpeg",
            FileFormat::Tiff => "tiff",
            FileFormat::Dicom => "dicom",
        }
    }
}

/// How [`load_mammogram`] turns a file into the working image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LoadOptions {
    /// The window for DICOM and 16-bit files (8-bit files are taken as they are).
    pub window: WindowRule,
    /// Flip every breast so that it shows as this side does in the file (`Some(Side::Left)`:
    /// right breasts are mirrored left-right). Needs a known laterality.
    pub canonical_side: Option<Side>,
    /// Downsample so that the longer side has this many pixels (the shorter one scaled by the
    /// same factor, rounded half up); `None` keeps the file's resolution. Never enlarges.
    pub long_side: Option<u32>,
    /// The downsampling filter.
    pub filter: Interpolation,
}

impl Default for LoadOptions {
    /// Header window (else percentile), no flip, full resolution, bilinear.
    fn default() -> Self {
        LoadOptions {
            window: WindowRule::Header,
            canonical_side: None,
            long_side: None,
            filter: Interpolation::Bilinear,
        }
    }
}

/// A mammogram as mias works on it, with what was learnt on the way.
#[derive(Clone, Debug)]
pub struct Mammogram {
    /// The 8-bit image (windowed, flipped, resized as asked).
    pub image: GrayImage,
    /// The file's format.
    pub format: FileFormat,
    /// `(width, height)` of the file's image.
    pub original_size: (u32, u32),
    /// Bits per sample in the file (8 or 16; Bits Stored for DICOM).
    pub bits: u16,
    /// The window applied (DICOM and 16-bit files).
    pub window: Option<Window>,
    /// Laterality and where it came from (`None` when the file does not say, or was told).
    pub laterality: Option<(Side, LateralitySource)>,
    /// View and the DICOM attribute it came from.
    pub view: Option<(View, MetaSource)>,
    /// Whether the image was mirrored left-right to the canonical side.
    pub flipped: bool,
}

/// Where a DICOM header's laterality or view was read (defined with [`crate::info::Side`], so
/// that this module and `dicom` both read it from there).
pub use crate::info::MetaSource;

/// Where a laterality came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LateralitySource {
    /// The DICOM header.
    Header(MetaSource),
    /// The caller (a manifest row, an Info.txt id).
    Given,
}

/// Decodes any supported image file as 8-bit grey at full resolution (default window rule).
pub fn load_image(path: &Path) -> Result<GrayImage> {
    Ok(load_mammogram(path, &LoadOptions::default(), None)?.image)
}

/// `(width, height)` of any supported image file, reading as little as the format allows
/// (DICOM and raster headers; a PGM is decoded whole).
pub fn dimensions(path: &Path) -> Result<(u32, u32)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(132);
    std::fs::File::open(path)
        .and_then(|f| f.take(132).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Image {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(reason) = FileFormat::detect(&head).and_then(not_built) {
        return Err(bad(reason));
    }
    match FileFormat::detect(&head) {
        #[cfg(feature = "dicom")]
        Some(FileFormat::Dicom) => dicom::dimensions(path),
        Some(FileFormat::Pgm) => Ok(load_image(path)?.dimensions()),
        Some(_) => image::ImageReader::open(path)
            .map_err(|e| Error::io(path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io(path, e))?
            .into_dimensions()
            .map_err(|e| bad(e.to_string())),
        None => Err(bad(
            "not a recognised image: neither PGM (P5), PNG, JPEG, TIFF nor DICOM".into(),
        )),
    }
}

/// Decodes any supported file and applies `options`. `laterality` is what the caller knows
/// (a manifest row); it must agree with the DICOM header when both say something.
pub fn load_mammogram(
    path: &Path,
    options: &LoadOptions,
    laterality: Option<Side>,
) -> Result<Mammogram> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_mammogram(&bytes, options, laterality).map_err(|e| e.with_path(path))
}

/// Why bytes could not be loaded; the caller adds the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// A DICOM error, with the attribute at fault.
    #[cfg(feature = "dicom")]
    Dicom(dicom::DicomError),
    /// Any other image error.
    Image(String),
}

impl LoadError {
    /// The crate error for this file.
    pub fn with_path(self, path: &Path) -> Error {
        match self {
            #[cfg(feature = "dicom")]
            LoadError::Dicom(e) => e.with_path(path),
            LoadError::Image(reason) => Error::Image {
                path: PathBuf::from(path),
                reason,
            },
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "dicom")]
            LoadError::Dicom(e) => e.fmt(f),
            LoadError::Image(reason) => f.write_str(reason),
        }
    }
}

/// [`load_mammogram`] on bytes in memory (the fuzzed entry point).
pub fn decode_mammogram(
    bytes: &[u8],
    options: &LoadOptions,
    laterality: Option<Side>,
) -> Result<Mammogram, LoadError> {
    options.window.check().map_err(LoadError::Image)?;
    if options.long_side == Some(0) {
        return Err(LoadError::Image("a working long side of 0 pixels".into()));
    }
    let format = FileFormat::detect(bytes).ok_or_else(|| {
        LoadError::Image(if bytes.is_empty() {
            "empty file".into()
        } else {
            "not a recognised image: neither PGM (P5), PNG, JPEG, TIFF nor DICOM (DICM at \
             byte 128)"
                .into()
        })
    })?;
    if let Some(reason) = not_built(format) {
        return Err(LoadError::Image(reason));
    }
    let mut m = match format {
        FileFormat::Dicom => decode_dicom(bytes, &options.window)?,
        FileFormat::Pgm => {
            let image = pgm::decode(bytes).map_err(|e| LoadError::Image(e.to_string()))?;
            plain(image, format, 8, None)
        }
        FileFormat::Png | FileFormat::Jpeg | FileFormat::Tiff => {
            decode_raster(bytes, format, &options.window)?
        }
    };
    if let Some(given) = laterality {
        match m.laterality {
            Some((side, LateralitySource::Header(source))) if side != given => {
                return Err(LoadError::Image(format!(
                    "laterality {given:?} given, but the header says {side:?} ({source:?})"
                )));
            }
            Some(_) => {}
            None => m.laterality = Some((given, LateralitySource::Given)),
        }
    }
    if let Some(canonical) = options.canonical_side {
        let Some((side, _)) = m.laterality else {
            return Err(LoadError::Image(
                "cannot turn the breast to a canonical side: the laterality is unknown (no \
                 ImageLaterality (0020,0062) or Laterality (0020,0060); give it in the \
                 manifest)"
                    .into(),
            ));
        };
        if side != canonical {
            image::imageops::flip_horizontal_in_place(&mut m.image);
            m.flipped = true;
        }
    }
    if let Some(long) = options.long_side {
        let (w, h) = m.image.dimensions();
        if long < w.max(h) {
            let scale = f64::from(long) / f64::from(w.max(h));
            let side = |s: u32| ((f64::from(s) * scale + 0.5).floor() as u32).max(1);
            m.image = resize(&m.image, side(w), side(h), options.filter);
        }
    }
    Ok(m)
}

/// Why a recognised format cannot be read by this build: the mias-data feature it needs is off.
fn not_built(format: FileFormat) -> Option<String> {
    let feature = match format {
        FileFormat::Dicom if !cfg!(feature = "dicom") => "dicom",
        FileFormat::Jpeg if !cfg!(feature = "jpeg") => "jpeg",
        FileFormat::Tiff if !cfg!(feature = "tiff") => "tiff",
        _ => return None,
    };
    Some(format!(
        "a {} file, which this build does not read: mias-data was compiled without its \
         `{feature}` feature (on by default)",
        format.name().to_uppercase()
    ))
}

/// A DICOM file: stored values through [`crate::dicom`], windowed to 8 bits.
#[cfg(feature = "dicom")]
fn decode_dicom(bytes: &[u8], rule: &WindowRule) -> Result<Mammogram, LoadError> {
    let d = dicom::decode(bytes).map_err(LoadError::Dicom)?;
    let (image, window) = d.to_gray8(rule).map_err(LoadError::Dicom)?;
    Ok(Mammogram {
        original_size: image.dimensions(),
        image,
        format: FileFormat::Dicom,
        bits: d.samples.bits,
        window: Some(window),
        laterality: d
            .laterality
            .map(|(side, source)| (side, LateralitySource::Header(source))),
        view: d.view,
        flipped: false,
    })
}

/// Without the `dicom` feature [`not_built`] refuses DICOM before this is reached.
#[cfg(not(feature = "dicom"))]
fn decode_dicom(_: &[u8], _: &WindowRule) -> Result<Mammogram, LoadError> {
    Err(LoadError::Image(
        not_built(FileFormat::Dicom).unwrap_or_default(),
    ))
}

fn plain(image: GrayImage, format: FileFormat, bits: u16, window: Option<Window>) -> Mammogram {
    Mammogram {
        original_size: image.dimensions(),
        image,
        format,
        bits,
        window,
        laterality: None,
        view: None,
        flipped: false,
    }
}

/// PNG, JPEG and TIFF through `image`: 8-bit grey as is, 16-bit grey windowed, grey stored as
/// colour reduced to one channel, real colour refused.
fn decode_raster(
    bytes: &[u8],
    format: FileFormat,
    rule: &WindowRule,
) -> Result<Mammogram, LoadError> {
    let codec = match format {
        FileFormat::Png => image::ImageFormat::Png,
        FileFormat::Jpeg => image::ImageFormat::Jpeg,
        _ => image::ImageFormat::Tiff,
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), codec);
    // The decoders' own default limits (512 MiB of allocations) guard against forged sizes.
    reader.limits(image::Limits::default());
    let decoded = reader.decode().map_err(|e| {
        LoadError::Image(format!("not a valid {}: {e}", format.name().to_uppercase()))
    })?;
    let colour = decoded.color();
    let grey_only = |what: &str| {
        LoadError::Image(format!(
            "{colour:?} {what}: mias reads greyscale mammograms; convert the file to grey"
        ))
    };
    match decoded {
        DynamicImage::ImageLuma8(image) => Ok(plain(image, format, 8, None)),
        DynamicImage::ImageLuma16(image) => {
            let (width, height) = image.dimensions();
            let samples = Samples {
                width,
                height,
                bits: 16,
                signed: false,
                values: image.as_raw().iter().map(|&v| i32::from(v)).collect(),
            };
            // No header: the percentile window (the rule's percentiles).
            let window = samples.percentile_window(Rescale::IDENTITY, rule.percentiles());
            let image = samples.to_gray8(Rescale::IDENTITY, &window, false);
            Ok(plain(image, format, 16, Some(window)))
        }
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
            let rgba = decoded.to_rgba8();
            let grey = rgba
                .pixels()
                .all(|p| p[0] == p[1] && p[1] == p[2] && p[3] == 255);
            if !grey {
                return Err(grey_only("with colour or transparency"));
            }
            let (w, h) = rgba.dimensions();
            let raw = rgba.pixels().map(|p| p[0]).collect();
            let image = GrayImage::from_raw(w, h, raw)
                .ok_or_else(|| LoadError::Image(format!("cannot hold a {w}x{h} image")))?;
            Ok(plain(image, format, 8, None))
        }
        _ => Err(grey_only("images are not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Luma};

    #[test]
    fn formats_are_told_by_content() {
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM");
        assert_eq!(FileFormat::detect(&dicom), Some(FileFormat::Dicom));
        assert_eq!(FileFormat::detect(b"\x89PNG\r\n"), Some(FileFormat::Png));
        assert_eq!(
            FileFormat::detect(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileFormat::Jpeg)
        );
        assert_eq!(FileFormat::detect(b"II*\0...."), Some(FileFormat::Tiff));
        assert_eq!(FileFormat::detect(b"MM\0*...."), Some(FileFormat::Tiff));
        assert_eq!(
            FileFormat::detect(b"P5\n1 1\n255\n\0"),
            Some(FileFormat::Pgm)
        );
        assert_eq!(FileFormat::detect(b"GIF89a"), None);
        let err = decode_mammogram(b"GIF89a", &LoadOptions::default(), None).unwrap_err();
        assert!(err.to_string().contains("not a recognised image"), "{err}");
        let err = decode_mammogram(b"", &LoadOptions::default(), None).unwrap_err();
        assert_eq!(err.to_string(), "empty file");
        let err = decode_mammogram(b"\x89PNG\r\n", &LoadOptions::default(), None).unwrap_err();
        assert!(err.to_string().contains("not a valid PNG"), "{err}");
    }

    #[test]
    fn grey_in_rgb_is_accepted_and_colour_refused() {
        let encode = |rgb: &[u8]| {
            let mut out = Vec::new();
            image::codecs::png::PngEncoder::new(&mut out)
                .write_image(rgb, 2, 1, image::ExtendedColorType::Rgb8)
                .unwrap();
            out
        };
        let grey = decode_mammogram(
            &encode(&[7, 7, 7, 200, 200, 200]),
            &LoadOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!(grey.image.as_raw(), &[7, 200]);
        let colour = decode_mammogram(
            &encode(&[7, 7, 8, 200, 200, 200]),
            &LoadOptions::default(),
            None,
        )
        .unwrap_err();
        assert!(
            colour.to_string().contains("convert the file to grey"),
            "{colour}"
        );
    }

    #[test]
    fn flip_needs_a_laterality_and_must_agree() {
        let img = GrayImage::from_fn(3, 1, |x, _| Luma([x as u8]));
        let png = {
            let mut out = Vec::new();
            image::codecs::png::PngEncoder::new(&mut out)
                .write_image(img.as_raw(), 3, 1, image::ExtendedColorType::L8)
                .unwrap();
            out
        };
        let left = LoadOptions {
            canonical_side: Some(Side::Left),
            ..LoadOptions::default()
        };
        let err = decode_mammogram(&png, &left, None).unwrap_err();
        assert!(err.to_string().contains("laterality is unknown"), "{err}");
        let right = decode_mammogram(&png, &left, Some(Side::Right)).unwrap();
        assert!(right.flipped);
        assert_eq!(right.image.as_raw(), &[2, 1, 0]);
        let kept = decode_mammogram(&png, &left, Some(Side::Left)).unwrap();
        assert!(!kept.flipped);
        assert_eq!(kept.image.as_raw(), &[0, 1, 2]);
    }
}
