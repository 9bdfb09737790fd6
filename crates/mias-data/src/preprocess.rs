//! From a greyscale mammogram to a backbone's input: resize, grey to three channels, normalise,
//! as a contiguous `f32` buffer in CHW order (NCHW for a batch). No tensor library needed.
//!
//! Normalisations (Keras's `preprocess_input` modes, with the channel order of the weights
//! mias ships):
//! - `caffe`: RGB in 0..255 minus the ImageNet mean `[123.68, 116.779, 103.939]`, no scaling
//!   (VGG16 with the Keras/Oxford weights);
//! - `tf`: `x / 127.5 - 1` (Keras Xception, MobileNetV2, NASNet);
//! - `torch`: `(x / 255 - mean) / std` with mean `[0.485, 0.456, 0.406]` and std
//!   `[0.229, 0.224, 0.225]` (torchvision and timm weights).
//!
//! The resize happens on the 8-bit grey image and is rounded back to 8 bits, as Pillow does
//! when Keras's `load_img(target_size=...)` reads a file. It is Pillow's resampling reproduced
//! to the bit (separable filter widened by the scale factor, coefficients in 22-bit fixed
//! point, horizontal pass rounded to 8 bits before the vertical one): written here because no
//! crate reproduces Pillow's rounding, and the Keras references were made with Pillow. The
//! `image` crate's triangle filter, tried first, differs by one grey level on 4-5% of pixels.

use image::GrayImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How pixel values become network inputs (one type shared with mias-backbones, defined in
/// `mias-core`).
pub use mias_core::Normalisation;

/// Resampling filter of the resize, named as in Pillow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Nearest neighbour.
    Nearest,
    /// Triangle filter widened by the downscale factor (Pillow's antialiased `BILINEAR`).
    #[default]
    Bilinear,
    /// Keys cubic with a = -0.5 (Pillow's `BICUBIC`).
    Bicubic,
    /// Lanczos with three lobes.
    Lanczos,
}

impl Interpolation {
    /// The filter's support (half-width, in source pixels at scale 1) and kernel.
    fn kernel(self) -> (f64, fn(f64) -> f64) {
        fn triangle(x: f64) -> f64 {
            (1.0 - x.abs()).max(0.0)
        }
        fn cubic(x: f64) -> f64 {
            let (a, x) = (-0.5, x.abs());
            if x < 1.0 {
                ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
            } else if x < 2.0 {
                (((x - 5.0) * x + 8.0) * x - 4.0) * a
            } else {
                0.0
            }
        }
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let px = std::f64::consts::PI * x;
                px.sin() / px
            }
        }
        fn lanczos(x: f64) -> f64 {
            if x.abs() < 3.0 {
                sinc(x) * sinc(x / 3.0)
            } else {
                0.0
            }
        }
        match self {
            Interpolation::Nearest => (0.0, triangle),
            Interpolation::Bilinear => (1.0, triangle),
            Interpolation::Bicubic => (2.0, cubic),
            Interpolation::Lanczos => (3.0, lanczos),
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
            Interpolation::Lanczos => "lanczos",
        }
    }
}

impl std::str::FromStr for Interpolation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" => Ok(Interpolation::Bicubic),
            "lanczos" => Ok(Interpolation::Lanczos),
            _ => Err(Error::parameter(
                "interpolation",
                s,
                "expected nearest, bilinear, bicubic or lanczos",
            )),
        }
    }
}

/// The recipe that turns a grey image into one backbone input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Preprocess {
    /// Output side in pixels (224, 299 or 331 for the paper's backbones).
    pub side: u32,
    /// Resize filter.
    pub interpolation: Interpolation,
    /// Normalisation.
    pub normalisation: Normalisation,
}

impl Preprocess {
    /// A recipe with the default (bilinear) resize.
    pub fn new(side: u32, normalisation: Normalisation) -> Self {
        Preprocess {
            side,
            interpolation: Interpolation::Bilinear,
            normalisation,
        }
    }

    /// Number of `f32` values of one image: `3 * side * side`.
    pub fn len(&self) -> usize {
        3 * (self.side as usize) * (self.side as usize)
    }

    /// True when the side is zero.
    pub fn is_empty(&self) -> bool {
        self.side == 0
    }

    /// Resizes to `side` x `side` (8-bit result), exactly as Pillow's `Image.resize` does.
    /// The identity when the size already matches.
    pub fn resize(&self, image: &GrayImage) -> GrayImage {
        resize(image, self.side, self.side, self.interpolation)
    }

    /// One image as normalised CHW values, appended to `out`.
    pub fn extend_chw(&self, image: &GrayImage, out: &mut Vec<f32>) {
        let small = self.resize(image);
        out.reserve(self.len());
        for (scale, offset) in self.normalisation.affine() {
            out.extend(
                small
                    .as_raw()
                    .iter()
                    .map(|&p| f32::from(p) * scale + offset),
            );
        }
    }

    /// One image as normalised CHW values: `[3, side, side]`.
    pub fn chw(&self, image: &GrayImage) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_chw(image, &mut out);
        out
    }

    /// A batch as normalised NCHW values: `[images.len(), 3, side, side]`.
    pub fn nchw(&self, images: &[GrayImage]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len() * images.len());
        for image in images {
            self.extend_chw(image, &mut out);
        }
        out
    }
}

/// Pillow-exact resize of an 8-bit grey image to `width` x `height`.
pub fn resize(image: &GrayImage, width: u32, height: u32, filter: Interpolation) -> GrayImage {
    let (w0, h0) = image.dimensions();
    if (w0, h0) == (width, height) || width == 0 || height == 0 || w0 == 0 || h0 == 0 {
        return if (w0, h0) == (width, height) {
            image.clone()
        } else {
            GrayImage::new(width, height)
        };
    }
    if filter == Interpolation::Nearest {
        let (sx, sy) = (
            f64::from(w0) / f64::from(width),
            f64::from(h0) / f64::from(height),
        );
        return GrayImage::from_fn(width, height, |x, y| {
            let xi = ((f64::from(x) + 0.5) * sx).floor().min(f64::from(w0 - 1)) as u32;
            let yi = ((f64::from(y) + 0.5) * sy).floor().min(f64::from(h0 - 1)) as u32;
            *image.get_pixel(xi, yi)
        });
    }
    let horizontal = Coefficients::new(w0, width, filter);
    let vertical = Coefficients::new(h0, height, filter);
    // Horizontal pass over the source rows the vertical pass will read, rounded to 8 bits.
    let first_row = vertical.bounds.first().map_or(0, |b| b.0);
    let last_row = vertical.bounds.last().map_or(0, |b| b.0 + b.1);
    let src = image.as_raw();
    let (w0u, wu) = (w0 as usize, width as usize);
    let mut mid = vec![0u8; (last_row - first_row) * wu];
    for (row, out) in (first_row..last_row).zip(mid.chunks_exact_mut(wu)) {
        let line = &src[row * w0u..(row + 1) * w0u];
        for (x, px) in out.iter_mut().enumerate() {
            let (start, len) = horizontal.bounds[x];
            let k = &horizontal.weights[x * horizontal.size..][..len];
            *px = horizontal.apply(k, line[start..start + len].iter().copied());
        }
    }
    let mut out = GrayImage::new(width, height);
    for (y, line) in out.as_mut().chunks_exact_mut(wu).enumerate() {
        let (start, len) = vertical.bounds[y];
        let k = &vertical.weights[y * vertical.size..][..len];
        for (x, px) in line.iter_mut().enumerate() {
            let column = (0..len).map(|i| mid[(start - first_row + i) * wu + x]);
            *px = vertical.apply(k, column);
        }
    }
    out
}

/// Pillow's precision for 8-bit resampling coefficients: 32 - 8 - 2 bits.
const PRECISION_BITS: u32 = 22;

/// One pass's filter taps, as Pillow computes them (`precompute_coeffs` and
/// `normalize_coeffs_8bpc`): per output pixel the first source index, the tap count, and
/// fixed-point weights in rows of `size`.
struct Coefficients {
    size: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i64>,
}

impl Coefficients {
    fn new(in_size: u32, out_size: u32, filter: Interpolation) -> Self {
        let (support, kernel) = filter.kernel();
        let scale = f64::from(in_size) / f64::from(out_size);
        let filter_scale = scale.max(1.0);
        let support = support * filter_scale;
        let size = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size as usize);
        let mut weights = vec![0i64; size * out_size as usize];
        let mut taps = vec![0f64; size];
        for xx in 0..out_size as usize {
            let centre = (xx as f64 + 0.5) * scale;
            // C casts truncate toward zero; so does `as`.
            let xmin = ((centre - support + 0.5) as i64).max(0) as usize;
            let xmax = ((centre + support + 0.5) as i64).min(i64::from(in_size)) as usize;
            let len = xmax.saturating_sub(xmin).min(size);
            let mut total = 0.0;
            for (x, tap) in taps.iter_mut().enumerate().take(len) {
                *tap = kernel((x as f64 + xmin as f64 - centre + 0.5) / filter_scale);
                total += *tap;
            }
            for (x, tap) in taps.iter().enumerate().take(len) {
                let w = if total != 0.0 { tap / total } else { *tap };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                weights[xx * size + x] = if w < 0.0 {
                    (fixed - 0.5) as i64
                } else {
                    (fixed + 0.5) as i64
                };
            }
            bounds.push((xmin, len));
        }
        Coefficients {
            size,
            bounds,
            weights,
        }
    }

    /// The weighted sum of `pixels`, rounded and clipped to 8 bits as Pillow's `clip8`.
    fn apply(&self, k: &[i64], pixels: impl Iterator<Item = u8>) -> u8 {
        let mut acc: i64 = 1 << (PRECISION_BITS - 1);
        for (w, p) in k.iter().zip(pixels) {
            acc += i64::from(p) * w;
        }
        (acc >> PRECISION_BITS).clamp(0, 255) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn normalisations_by_hand() {
        let img = GrayImage::from_fn(2, 2, |x, y| {
            Luma([[0u8, 255, 51, 128][(2 * y + x) as usize]])
        });
        let caffe = Preprocess::new(2, Normalisation::Caffe).chw(&img);
        assert_eq!(caffe.len(), 12);
        assert!((caffe[1] - (255.0 - 123.68)).abs() < 1e-4); // R channel, pixel (0,1)
        assert!((caffe[4] - (0.0 - 116.779)).abs() < 1e-4); // G channel, pixel (0,0)
        assert!((caffe[11] - (128.0 - 103.939)).abs() < 1e-4); // B channel, pixel (1,1)
        let tf = Preprocess::new(2, Normalisation::Tf).chw(&img);
        assert_eq!([tf[0], tf[1]], [-1.0, 1.0]);
        assert!((tf[2] - (51.0 / 127.5 - 1.0)).abs() < 1e-6);
        let torch = Preprocess::new(2, Normalisation::Torch).chw(&img);
        assert!((torch[2] - (0.2 - 0.485) / 0.229).abs() < 1e-5);
        assert!((torch[8 + 1] - (1.0 - 0.406) / 0.225).abs() < 1e-5);
    }

    #[test]
    fn batches_are_concatenated_images() {
        let a = GrayImage::from_pixel(4, 4, Luma([10]));
        let b = GrayImage::from_pixel(4, 4, Luma([200]));
        let p = Preprocess::new(2, Normalisation::Tf);
        let batch = p.nchw(&[a.clone(), b.clone()]);
        assert_eq!(batch.len(), 2 * p.len());
        assert_eq!(&batch[..12], p.chw(&a).as_slice());
        assert_eq!(&batch[12..], p.chw(&b).as_slice());
        assert!("area".parse::<Interpolation>().is_err());
        assert!("keras".parse::<Normalisation>().is_err());
    }
}
