//! From stored sample values (8 to 16 bits, signed or not) to an 8-bit grey image: the modality
//! rescale, then a VOI window, as DICOM PS3.3 C.11.1 and C.11.2 define them.
//!
//! The rule, for every pixel:
//! 1. `x = stored * slope + intercept` (Rescale Slope and Intercept; 1 and 0 when absent);
//! 2. the window: the first WindowCenter/WindowWidth of the header with its VOI LUT Function
//!    (`LINEAR`, `LINEAR_EXACT` or `SIGMOID`), or, when the header gives none (or
//!    [`WindowRule::Percentile`] asks for it), the **percentile window**: `lo` and `hi` are the
//!    0.5th and 99.5th percentiles of the rescaled image (linear interpolation between order
//!    statistics at `q * (n - 1)`, numpy's default), and the window is `LINEAR` with
//!    `center = (lo + hi) / 2 + 0.5` and `width = hi - lo + 1`, which maps `lo` to 0 and `hi` to
//!    255 and clips outside;
//! 3. `y` in 0..=255 by the window function, rounded half up (`floor(y + 0.5)`) to 8 bits;
//! 4. `255 - y` for MONOCHROME1 (the lowest value is white).
//!
//! The same rule turns 16-bit PNG and TIFF files into 8-bit images (no header there, so the
//! percentile window). All arithmetic is in `f64` in the order written above, and the mapping is
//! computed once per possible stored value (a lookup table of at most 65,536 entries), so every
//! pixel with the same stored value gets the same byte. Checked against pydicom's
//! `apply_modality_lut` and `apply_windowing` and numpy's `percentile` on the fixtures of
//! `tests/data/make_dicom_reference.py`.

use image::GrayImage;
use serde::Serialize;

/// The default percentile window: 0.5% and 99.5%.
pub const DEFAULT_PERCENTILES: (f64, f64) = (0.5, 99.5);

/// The modality rescale: `value = stored * slope + intercept`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rescale {
    /// Rescale Slope (0028,1053).
    pub slope: f64,
    /// Rescale Intercept (0028,1052).
    pub intercept: f64,
}

impl Rescale {
    /// No rescale.
    pub const IDENTITY: Rescale = Rescale {
        slope: 1.0,
        intercept: 0.0,
    };

    /// The rescaled value of one stored sample.
    pub fn apply(self, stored: i32) -> f64 {
        f64::from(stored) * self.slope + self.intercept
    }
}

/// The shape of the VOI window function (VOI LUT Function, 0028,1056).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VoiFunction {
    /// PS3.3 C.11.2.1.2.1: linear between `c - 0.5 - (w - 1) / 2` and `c - 0.5 + (w - 1) / 2`.
    Linear,
    /// PS3.3 C.11.2.1.3.2: linear between `c - w / 2` and `c + w / 2`.
    LinearExact,
    /// PS3.3 C.11.2.1.3.1: `255 / (1 + exp(-4 (x - c) / w))`.
    Sigmoid,
}

impl VoiFunction {
    /// The DICOM code string.
    pub fn code(self) -> &'static str {
        match self {
            VoiFunction::Linear => "LINEAR",
            VoiFunction::LinearExact => "LINEAR_EXACT",
            VoiFunction::Sigmoid => "SIGMOID",
        }
    }

    /// Parses a DICOM code string (case and surrounding spaces ignored).
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "LINEAR" => Some(VoiFunction::Linear),
            "LINEAR_EXACT" => Some(VoiFunction::LinearExact),
            "SIGMOID" => Some(VoiFunction::Sigmoid),
            _ => None,
        }
    }
}

/// Where a window came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowSource {
    /// WindowCenter (0028,1050) and WindowWidth (0028,1051) of the DICOM header.
    Header,
    /// The percentile window computed from the image.
    Percentile,
}

/// A VOI window on rescaled values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Window {
    /// Window center, in rescaled units.
    pub center: f64,
    /// Window width, in rescaled units.
    pub width: f64,
    /// The window function.
    pub function: VoiFunction,
    /// Where it came from.
    pub source: WindowSource,
}

impl Window {
    /// The linear window that maps `lo` to 0 and `hi` to 255 (see the module docs).
    pub fn from_range(lo: f64, hi: f64, source: WindowSource) -> Self {
        Window {
            center: (lo + hi) / 2.0 + 0.5,
            width: (hi - lo) + 1.0,
            function: VoiFunction::Linear,
            source,
        }
    }

    /// Why this window cannot be applied (the standard's limits on the width), if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let ok = match self.function {
            VoiFunction::Linear => self.width >= 1.0,
            VoiFunction::LinearExact | VoiFunction::Sigmoid => self.width > 0.0,
        };
        if ok && self.center.is_finite() && self.width.is_finite() {
            Ok(())
        } else {
            Err(format!(
                "window width {} with center {} is not allowed for {} (LINEAR needs width >= 1, \
                 the others width > 0)",
                self.width,
                self.center,
                self.function.code()
            ))
        }
    }

    /// The window's output for a rescaled value, in 0..=255 before rounding.
    pub fn map(&self, x: f64) -> f64 {
        match self.function {
            VoiFunction::Linear | VoiFunction::LinearExact => {
                let (c, w) = if self.function == VoiFunction::Linear {
                    (self.center - 0.5, self.width - 1.0)
                } else {
                    (self.center, self.width)
                };
                if x <= c - w / 2.0 {
                    0.0
                } else if x > c + w / 2.0 {
                    255.0
                } else {
                    ((x - c) / w + 0.5) * 255.0
                }
            }
            VoiFunction::Sigmoid => 255.0 / (1.0 + (-4.0 * (x - self.center) / self.width).exp()),
        }
    }

    /// The 8-bit value of a rescaled value: `floor(y + 0.5)`, clipped; inverted when asked.
    pub fn to_u8(&self, x: f64, invert: bool) -> u8 {
        let v = (self.map(x) + 0.5).floor().clamp(0.0, 255.0) as u8;
        if invert { 255 - v } else { v }
    }
}

/// Which window to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowRule {
    /// The header's window when it has one, else the percentile window at
    /// [`DEFAULT_PERCENTILES`]. The default.
    #[default]
    Header,
    /// Always the percentile window at `(low, high)` percent, ignoring any header window.
    Percentile {
        /// Lower percentile, in 0..100.
        low: f64,
        /// Upper percentile, in `low`..=100.
        high: f64,
    },
}

impl WindowRule {
    /// The percentiles the rule falls back to (or always uses).
    pub fn percentiles(&self) -> (f64, f64) {
        match *self {
            WindowRule::Header => DEFAULT_PERCENTILES,
            WindowRule::Percentile { low, high } => (low, high),
        }
    }

    /// Why the rule's percentiles are out of range, if they are.
    pub fn check(&self) -> Result<(), String> {
        let (low, high) = self.percentiles();
        if (0.0..=100.0).contains(&low) && (low..=100.0).contains(&high) {
            Ok(())
        } else {
            Err(format!(
                "percentiles {low} and {high}: need 0 <= low <= high <= 100"
            ))
        }
    }
}

/// Stored samples of one greyscale image: values with `bits` significant bits, two's
/// complement when `signed`.
#[derive(Clone, Debug)]
pub struct Samples {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Significant bits, 1..=16.
    pub bits: u16,
    /// Whether the samples are signed.
    pub signed: bool,
    /// Row-major values, `width * height` of them, each within the range of `bits`.
    pub values: Vec<i32>,
}

impl Samples {
    /// The smallest value `bits` can hold.
    fn min_possible(&self) -> i32 {
        if self.signed {
            -(1 << (self.bits - 1))
        } else {
            0
        }
    }

    /// Counts of every possible value, indexed from [`Self::min_possible`].
    fn histogram(&self) -> Vec<u64> {
        let mut counts = vec![0u64; 1usize << self.bits];
        let base = self.min_possible();
        for &v in &self.values {
            counts[(v - base) as usize] += 1;
        }
        counts
    }

    /// The `p`-th percentiles (0..=100) of the rescaled values, as numpy's default
    /// (`linear`) method computes them: the order statistics around `q * (n - 1)` and numpy's
    /// two-sided interpolation formula, so that results agree to the last bit.
    pub fn percentiles(&self, rescale: Rescale, ps: &[f64]) -> Vec<f64> {
        let n = self.values.len();
        if n == 0 {
            return vec![f64::NAN; ps.len()];
        }
        let counts = self.histogram();
        let base = self.min_possible();
        // The k-th smallest stored value (0-based), found on the cumulative histogram.
        let kth_stored = |k: usize| -> i32 {
            let mut seen = 0u64;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen > k as u64 {
                    return base + i as i32;
                }
            }
            base + counts.len() as i32 - 1
        };
        // Rescaling is monotonic: decreasing when the slope is negative.
        let kth = |k: usize| -> f64 {
            let k = if rescale.slope < 0.0 { n - 1 - k } else { k };
            rescale.apply(kth_stored(k))
        };
        ps.iter()
            .map(|&p| {
                let q = p / 100.0;
                // numpy: n * q + (alpha + q * (1 - alpha - beta)) - 1 with alpha = beta = 1.
                let virtual_index = n as f64 * q + (1.0 - q) - 1.0;
                let last = (n - 1) as f64;
                let previous = virtual_index.floor().clamp(0.0, last);
                let next = (previous + 1.0).min(last);
                let gamma = virtual_index - previous;
                let (a, b) = (kth(previous as usize), kth(next as usize));
                let diff = b - a;
                if gamma >= 0.5 {
                    b - diff * (1.0 - gamma)
                } else {
                    a + diff * gamma
                }
            })
            .collect()
    }

    /// The percentile window of these samples (see the module docs).
    pub fn percentile_window(&self, rescale: Rescale, (low, high): (f64, f64)) -> Window {
        let v = self.percentiles(rescale, &[low, high]);
        Window::from_range(v[0], v[1], WindowSource::Percentile)
    }

    /// The 8-bit image under a rescale and a window; `invert` for MONOCHROME1.
    pub fn to_gray8(&self, rescale: Rescale, window: &Window, invert: bool) -> GrayImage {
        let base = self.min_possible();
        let lut: Vec<u8> = (0..1i32 << self.bits)
            .map(|i| window.to_u8(rescale.apply(base + i), invert))
            .collect();
        let raw = self
            .values
            .iter()
            .map(|&v| lut[(v - base) as usize])
            .collect();
        GrayImage::from_raw(self.width, self.height, raw)
            .unwrap_or_else(|| GrayImage::new(self.width, self.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: Vec<i32>, bits: u16, signed: bool) -> Samples {
        Samples {
            width: values.len() as u32,
            height: 1,
            bits,
            signed,
            values,
        }
    }

    #[test]
    fn linear_window_by_hand() {
        // c = 100, w = 51: LINEAR edges at 74.5 and 124.5 (PS3.3 C.11.2.1.2.1).
        let w = Window {
            center: 100.0,
            width: 51.0,
            function: VoiFunction::Linear,
            source: WindowSource::Header,
        };
        assert_eq!(w.to_u8(74.5, false), 0);
        assert_eq!(w.to_u8(124.6, false), 255);
        // ((99.5 - 99.5) / 50 + 0.5) * 255 = 127.5, rounded half up.
        assert_eq!(w.to_u8(99.5, false), 128);
        assert_eq!(w.to_u8(99.5, true), 127);
        // ((110 - 99.5) / 50 + 0.5) * 255 = 181.05
        assert_eq!(w.to_u8(110.0, false), 181);
        assert!(Window { width: 0.5, ..w }.check().is_err());
    }

    #[test]
    fn range_window_maps_ends_to_0_and_255() {
        let w = Window::from_range(10.0, 30.0, WindowSource::Percentile);
        assert_eq!(w.to_u8(10.0, false), 0);
        assert_eq!(w.to_u8(30.0, false), 255);
        assert_eq!(w.to_u8(20.0, false), 128); // 127.5 rounds up
        assert_eq!(w.to_u8(5.0, false), 0);
        assert_eq!(w.to_u8(31.0, false), 255);
    }

    #[test]
    fn percentiles_by_hand() {
        // Sorted 1, 2, 3, 4, 10: q = 0.5 sits on index 2 -> 3; q = 0.9 on 3.6 -> 4 + 0.6 * 6.
        let s = samples(vec![4, 10, 1, 3, 2], 8, false);
        let p = s.percentiles(Rescale::IDENTITY, &[0.0, 50.0, 90.0, 100.0]);
        assert_eq!(p[0], 1.0);
        assert_eq!(p[1], 3.0);
        assert!((p[2] - 7.6).abs() < 1e-12);
        assert_eq!(p[3], 10.0);
        // A negative slope reverses the order: values -4, -10, -1, -3, -2 (times 1, plus 0).
        let neg = s.percentiles(
            Rescale {
                slope: -1.0,
                intercept: 0.0,
            },
            &[0.0, 100.0],
        );
        assert_eq!(neg, [-10.0, -1.0]);
        // Signed samples.
        let signed = samples(vec![-5, 7, 0], 4, true);
        assert_eq!(
            signed.percentiles(Rescale::IDENTITY, &[0.0, 50.0]),
            [-5.0, 0.0]
        );
    }

    #[test]
    fn monochrome1_inverts() {
        let s = samples(vec![0, 255], 8, false);
        let w = Window::from_range(0.0, 255.0, WindowSource::Percentile);
        assert_eq!(s.to_gray8(Rescale::IDENTITY, &w, false).as_raw(), &[0, 255]);
        assert_eq!(s.to_gray8(Rescale::IDENTITY, &w, true).as_raw(), &[255, 0]);
    }
}
