//! Seeded data augmentation with the semantics of Keras's `ImageDataGenerator`.
//!
//! [`Augment`] holds the ranges (rotation, shifts, shear, zoom, flips) and the fill mode;
//! [`Augment::draw`] draws one [`Transform`] from a generator the caller passes in, in the
//! order Keras draws them; [`Transform::affine`] turns it into one [`Affine`] map, and
//! [`Affine::warp`] resamples the image once, with bilinear interpolation (Keras's default
//! `interpolation_order=1`). Maps compose ([`Affine::then`]), so a chain of geometric
//! operations costs one resampling and blurs once.
//!
//! Keras conventions reproduced here (from Keras 3's `apply_affine_transform`): the matrix is
//! built in (x, y) = (column, row) coordinates and maps an output pixel to the input position
//! it samples; the rotation, shift, shear and zoom matrices are multiplied in that order and
//! conjugated by a translation to the image centre; angles are in degrees, and a positive
//! rotation turns the content counter-clockwise; `zx` and `tx` act along x (columns) and
//! `zy` and `ty` along y (rows), although Keras draws `tx` from `height_shift_range`; flips
//! are applied after the affine part. [`Affine`] holds the result in (row, column) order. Fill modes follow SciPy's
//! `ndimage` modes of the same name; `Wrap` is SciPy's `grid-wrap` (period n), the
//! well-defined form of its legacy `wrap`.
//!
//! Why resampling is written here rather than taken from `imageproc::geometric_transformations`:
//! its bilinear sampler truncates twice (after each pass) instead of rounding once, returns the
//! default colour for samples on the last row and column even without any transform, and offers
//! a constant fill only. `imageproc` serves what it does well here: drawing the lesion circles
//! of Info.txt, carried through the same transform, onto the views of [`grid`], so a person can
//! check at a glance that labels follow the pixels.

use image::{GrayImage, Luma};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::info::ImageId;
use crate::rng::{self, Rng};

/// How samples that fall outside the input image are filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillMode {
    /// A constant value (`cval`), no interpolation across the border.
    Constant,
    /// The nearest edge pixel (`aaaa|abcd|dddd`). Keras's default.
    #[default]
    Nearest,
    /// Mirror about the edge (`dcba|abcd|dcba`).
    Reflect,
    /// Periodic (`abcd|abcd|abcd`).
    Wrap,
}

impl std::str::FromStr for FillMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(FillMode::Constant),
            "nearest" => Ok(FillMode::Nearest),
            "reflect" => Ok(FillMode::Reflect),
            "wrap" => Ok(FillMode::Wrap),
            _ => Err(Error::parameter(
                "fill mode",
                s,
                "expected constant, nearest, reflect or wrap",
            )),
        }
    }
}

/// Augmentation ranges, as `ImageDataGenerator`'s arguments of the same names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Rotation angle drawn from `[-r, r)` degrees.
    pub rotation_range: f64,
    /// Horizontal shift drawn from `[-s, s)` times the width.
    pub width_shift_range: f64,
    /// Vertical shift drawn from `[-s, s)` times the height.
    pub height_shift_range: f64,
    /// Shear angle drawn from `[-s, s)` degrees (counter-clockwise).
    pub shear_range: f64,
    /// Zoom factors `zx` (columns) and `zy` (rows), each drawn from `[lo, hi)`; values below
    /// 1 zoom in. Keras's `zoom_range=z` is `[1 - z, 1 + z]`.
    pub zoom_range: [f64; 2],
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Mirror top-bottom with probability 1/2.
    pub vertical_flip: bool,
    /// How samples outside the image are filled.
    pub fill_mode: FillMode,
    /// The fill value for [`FillMode::Constant`].
    pub cval: u8,
}

impl Default for Augment {
    fn default() -> Self {
        Augment::none()
    }
}

impl Augment {
    /// No augmentation: every draw is the identity.
    pub fn none() -> Self {
        Augment {
            rotation_range: 0.0,
            width_shift_range: 0.0,
            height_shift_range: 0.0,
            shear_range: 0.0,
            zoom_range: [1.0, 1.0],
            horizontal_flip: false,
            vertical_flip: false,
            fill_mode: FillMode::Nearest,
            cval: 0,
        }
    }

    /// The ranges used to reproduce the paper, which names the transforms (random rotation,
    /// horizontal and vertical flips, zoom, shear) but not their ranges. Chosen as the values
    /// of the Keras tutorial such Mini-MIAS work starts from: rotation ±20°, zoom ±20%
    /// (`[0.8, 1.2)`), shear ±11.46° (the tutorial's `shear_range=0.2`, written when Keras read
    /// it in radians; read as degrees today it would be invisible), both flips, no shift, and
    /// Keras's default `nearest` fill so no black corners enter the training data.
    pub fn paper() -> Self {
        Augment {
            rotation_range: 20.0,
            width_shift_range: 0.0,
            height_shift_range: 0.0,
            shear_range: 0.2_f64.to_degrees(),
            zoom_range: [0.8, 1.2],
            horizontal_flip: true,
            vertical_flip: true,
            fill_mode: FillMode::Nearest,
            cval: 0,
        }
    }

    /// These ranges scaled by `strength` in `[0, 1]`: every range (rotation, shifts, shear)
    /// times `strength`, the zoom interval shrunk towards 1 by the same factor, and the flips
    /// kept for any strength above 0 and dropped at 0. Strength 0 is the identity (every view
    /// an exact copy of the original), strength 1 these ranges unchanged.
    pub fn scaled(&self, strength: f64) -> Result<Augment> {
        if !(0.0..=1.0).contains(&strength) {
            return Err(Error::parameter(
                "augmentation strength",
                strength,
                "must lie in [0, 1]",
            ));
        }
        if strength == 1.0 {
            // Exactly these ranges (and so the same feature-cache key), not a rounded copy.
            return Ok(self.clone());
        }
        let flips = strength > 0.0;
        Ok(Augment {
            rotation_range: self.rotation_range * strength,
            width_shift_range: self.width_shift_range * strength,
            height_shift_range: self.height_shift_range * strength,
            shear_range: self.shear_range * strength,
            zoom_range: self.zoom_range.map(|z| 1.0 + (z - 1.0) * strength),
            horizontal_flip: self.horizontal_flip && flips,
            vertical_flip: self.vertical_flip && flips,
            fill_mode: self.fill_mode,
            cval: self.cval,
        })
    }

    /// True when every draw is the identity: no range, no zoom, no flip.
    pub fn is_identity(&self) -> bool {
        self.rotation_range == 0.0
            && self.width_shift_range == 0.0
            && self.height_shift_range == 0.0
            && self.shear_range == 0.0
            && self.zoom_range == [1.0, 1.0]
            && !self.horizontal_flip
            && !self.vertical_flip
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<()> {
        let finite_non_negative = |name: &'static str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(())
            } else {
                Err(Error::parameter(name, v, format!("must lie in [0, {max}]")))
            }
        };
        finite_non_negative("rotation_range", self.rotation_range, 180.0)?;
        finite_non_negative("width_shift_range", self.width_shift_range, 1.0)?;
        finite_non_negative("height_shift_range", self.height_shift_range, 1.0)?;
        finite_non_negative("shear_range", self.shear_range, 89.0)?;
        let [lo, hi] = self.zoom_range;
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
            return Err(Error::parameter(
                "zoom_range",
                format!("[{lo}, {hi}]"),
                "needs 0 < lo <= hi",
            ));
        }
        Ok(())
    }

    /// Draws one transform for an image of `height` x `width`, in Keras's order: rotation,
    /// vertical shift, horizontal shift, shear, zoom (x then y), horizontal flip, vertical
    /// flip. A range of zero draws nothing. Shift ranges below 1 are fractions of the side and
    /// become pixels here, as in Keras.
    pub fn draw(&self, height: u32, width: u32, rng: &mut Rng) -> Transform {
        let symmetric = |rng: &mut Rng, r: f64| {
            if r > 0.0 {
                rng::uniform(rng, -r, r)
            } else {
                0.0
            }
        };
        let theta = symmetric(rng, self.rotation_range);
        let pixels = |range: f64, side: u32| if range < 1.0 { f64::from(side) } else { 1.0 };
        let tx = symmetric(rng, self.height_shift_range) * pixels(self.height_shift_range, height);
        let ty = symmetric(rng, self.width_shift_range) * pixels(self.width_shift_range, width);
        let shear = symmetric(rng, self.shear_range);
        let [lo, hi] = self.zoom_range;
        let (zx, zy) = if lo == 1.0 && hi == 1.0 {
            (1.0, 1.0)
        } else {
            (rng::uniform(rng, lo, hi), rng::uniform(rng, lo, hi))
        };
        let flip_horizontal = self.horizontal_flip && rng::unit(rng) < 0.5;
        let flip_vertical = self.vertical_flip && rng::unit(rng) < 0.5;
        Transform {
            theta,
            tx,
            ty,
            shear,
            zx,
            zy,
            flip_horizontal,
            flip_vertical,
        }
    }

    /// Draws a transform and applies it.
    pub fn apply(&self, image: &GrayImage, rng: &mut Rng) -> GrayImage {
        self.draw(image.height(), image.width(), rng)
            .apply(image, self.fill_mode, self.cval)
    }

    /// View `view` of `image` under `seed`: view 0 is the image itself, view `v > 0` is drawn
    /// from [`view_rng`]`(seed, image, v)`, so any view can be rebuilt alone, in any order.
    pub fn view(&self, image: &GrayImage, id: ImageId, view: u32, seed: u64) -> GrayImage {
        if view == 0 {
            return image.clone();
        }
        self.apply(image, &mut view_rng(seed, id, view))
    }
}

/// The generator for augmented view `view` of image `id` under `seed`.
pub fn view_rng(seed: u64, id: ImageId, view: u32) -> Rng {
    rng::derived(seed, "augment", &[id.ordinal(), u64::from(view)])
}

/// One drawn set of augmentation parameters (Keras's `transform_parameters`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    /// Rotation in degrees.
    pub theta: f64,
    /// Shift along x (columns), in pixels; Keras draws it from `height_shift_range`.
    pub tx: f64,
    /// Shift along y (rows), in pixels; Keras draws it from `width_shift_range`.
    pub ty: f64,
    /// Shear in degrees.
    pub shear: f64,
    /// Zoom along x (columns); below 1 zooms in.
    pub zx: f64,
    /// Zoom along y (rows).
    pub zy: f64,
    /// Mirror left-right after the affine part.
    pub flip_horizontal: bool,
    /// Mirror top-bottom after the affine part.
    pub flip_vertical: bool,
}

impl Transform {
    /// The identity.
    pub fn identity() -> Self {
        Transform {
            theta: 0.0,
            tx: 0.0,
            ty: 0.0,
            shear: 0.0,
            zx: 1.0,
            zy: 1.0,
            flip_horizontal: false,
            flip_vertical: false,
        }
    }

    /// The map from output pixel to input position for an image of `height` x `width`.
    pub fn affine(&self, height: u32, width: u32) -> Affine {
        let (h, w) = (f64::from(height), f64::from(width));
        let (tx, ty) = (self.tx, self.ty);
        let (s, c) = self.theta.to_radians().sin_cos();
        // Keras builds the matrix in (x, y) = (column, row) coordinates, then permutes it
        // into numpy's (row, column) order (M' = P M P). Its centring uses (h-1)/2 for x and
        // (w-1)/2 for y: a quirk that only matters for non-square images, reproduced as is.
        let rotation = Affine([[c, -s, 0.0], [s, c, 0.0]]);
        let shift = Affine([[1.0, 0.0, tx], [0.0, 1.0, ty]]);
        let shear = self.shear.to_radians();
        let shear = Affine([[1.0, -shear.sin(), 0.0], [0.0, shear.cos(), 0.0]]);
        let zoom = Affine([[self.zx, 0.0, 0.0], [0.0, self.zy, 0.0]]);
        let (o_x, o_y) = (h / 2.0 - 0.5, w / 2.0 - 0.5);
        let to_centre = Affine([[1.0, 0.0, o_x], [0.0, 1.0, o_y]]);
        let from_centre = Affine([[1.0, 0.0, -o_x], [0.0, 1.0, -o_y]]);
        // Keras: offset @ (rotation @ shift @ shear @ zoom) @ reset, maps output -> input.
        let xy = to_centre
            .compose(&rotation)
            .compose(&shift)
            .compose(&shear)
            .compose(&zoom)
            .compose(&from_centre)
            .0;
        let mut m = Affine([
            [xy[1][1], xy[1][0], xy[1][2]],
            [xy[0][1], xy[0][0], xy[0][2]],
        ]);
        // The flips act on the output of the affine part: output (r, c) reads the affine
        // output at the mirrored position, so they enter on the right.
        if self.flip_horizontal {
            m = m.compose(&Affine::flip_columns(width));
        }
        if self.flip_vertical {
            m = m.compose(&Affine::flip_rows(height));
        }
        m
    }

    /// Resamples `image` through this transform.
    pub fn apply(&self, image: &GrayImage, fill: FillMode, cval: u8) -> GrayImage {
        self.affine(image.height(), image.width())
            .warp(image, fill, cval)
    }
}

/// An affine map from output (row, column) to input (row, column): `[A | b]`, 2 x 3.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine(pub [[f64; 3]; 2]);

impl Affine {
    /// The identity map.
    pub fn identity() -> Self {
        Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    }

    /// Mirror columns of an image `width` wide.
    pub fn flip_columns(width: u32) -> Self {
        Affine([[1.0, 0.0, 0.0], [0.0, -1.0, f64::from(width) - 1.0]])
    }

    /// Mirror rows of an image `height` high.
    pub fn flip_rows(height: u32) -> Self {
        Affine([[-1.0, 0.0, f64::from(height) - 1.0], [0.0, 1.0, 0.0]])
    }

    /// Matrix product `self @ other`: apply `other` to a point first, then `self`.
    pub fn compose(&self, other: &Affine) -> Affine {
        let (a, b) = (&self.0, &other.0);
        let mut m = [[0.0; 3]; 2];
        for (i, row) in m.iter_mut().enumerate() {
            for j in 0..3 {
                row[j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
            }
            row[2] += a[i][2];
        }
        Affine(m)
    }

    /// The map of warping by `self` and then warping the result by `next`: as a pull-back,
    /// `next` is applied to output coordinates first.
    pub fn then(&self, next: &Affine) -> Affine {
        self.compose(next)
    }

    /// The inverse map (input position to output position); `None` when singular.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.0;
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
        Some(Affine([
            [a, b, -(a * m[0][2] + b * m[1][2])],
            [c, d, -(c * m[0][2] + d * m[1][2])],
        ]))
    }

    /// How much the map scales lengths from output to input, on average (sqrt of |det|).
    pub fn scale(&self) -> f64 {
        let m = &self.0;
        (m[0][0] * m[1][1] - m[0][1] * m[1][0]).abs().sqrt()
    }

    /// The input position sampled by output pixel (row, col).
    pub fn map(&self, row: f64, col: f64) -> (f64, f64) {
        let m = &self.0;
        (
            m[0][0] * row + m[0][1] * col + m[0][2],
            m[1][0] * row + m[1][1] * col + m[1][2],
        )
    }

    /// Resamples `image` (bilinear, rounded once to the nearest grey level) into an image of
    /// the same size. Rows are shared out over the available cores; every pixel is computed
    /// the same way whatever the split, so the result does not depend on the core count.
    pub fn warp(&self, image: &GrayImage, fill: FillMode, cval: u8) -> GrayImage {
        let (w, h) = image.dimensions();
        let mut out = GrayImage::new(w, h);
        if w == 0 || h == 0 {
            return out;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16)
            .min(h as usize);
        let rows_per_thread = (h as usize).div_ceil(threads);
        let chunk = rows_per_thread * w as usize;
        std::thread::scope(|scope| {
            for (i, rows) in out.as_mut().chunks_mut(chunk).enumerate() {
                let first_row = i * rows_per_thread;
                scope.spawn(move || self.warp_rows(image, fill, cval, first_row, rows));
            }
        });
        out
    }

    /// Fills `rows` (whole output rows starting at `first_row`). On x86-64 CPUs with SSE4.1
    /// the body is compiled with it, so `floor` and `round` become single instructions instead
    /// of calls into libm (which were a third of the warp's time); both compute exactly, so the
    /// pixels are the same either way.
    fn warp_rows(
        &self,
        image: &GrayImage,
        fill: FillMode,
        cval: u8,
        first_row: usize,
        rows: &mut [u8],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "sse4.1")]
            fn sse41(
                a: &Affine,
                image: &GrayImage,
                fill: FillMode,
                cval: u8,
                first_row: usize,
                rows: &mut [u8],
            ) {
                a.warp_rows_body(image, fill, cval, first_row, rows)
            }
            if std::arch::is_x86_feature_detected!("sse4.1") {
                // SAFETY: the CPU has SSE4.1.
                return unsafe { sse41(self, image, fill, cval, first_row, rows) };
            }
        }
        self.warp_rows_body(image, fill, cval, first_row, rows)
    }

    #[inline(always)]
    fn warp_rows_body(
        &self,
        image: &GrayImage,
        fill: FillMode,
        cval: u8,
        first_row: usize,
        rows: &mut [u8],
    ) {
        let (w, h) = image.dimensions();
        let src = image.as_raw();
        let (wi, hi) = (w as i64, h as i64);
        let m = &self.0;
        for (r, row) in rows.chunks_exact_mut(w as usize).enumerate() {
            let r = (first_row + r) as f64;
            for (c, px) in row.iter_mut().enumerate() {
                let c = c as f64;
                // Same expression order as `map`, so results do not depend on the path taken.
                let sr = m[0][0] * r + m[0][1] * c + m[0][2];
                let sc = m[1][0] * r + m[1][1] * c + m[1][2];
                *px = sample(src, wi, hi, sr, sc, fill, cval);
            }
        }
    }
}

/// Bilinear sample at (sr, sc) with SciPy's boundary semantics.
#[inline(always)]
fn sample(src: &[u8], w: i64, h: i64, sr: f64, sc: f64, fill: FillMode, cval: u8) -> u8 {
    if !(sr.is_finite() && sc.is_finite()) {
        return cval;
    }
    if fill == FillMode::Constant
        && (sr < 0.0 || sc < 0.0 || sr > (h - 1) as f64 || sc > (w - 1) as f64)
    {
        return cval;
    }
    let (r0f, c0f) = (sr.floor(), sc.floor());
    let (fr, fc) = (sr - r0f, sc - c0f);
    let at = |r: usize, c: usize| f64::from(src[r * w as usize + c]);
    let blend = |tl: f64, tr: f64, bl: f64, br: f64| {
        let top = tl * (1.0 - fc) + tr * fc;
        let bottom = bl * (1.0 - fc) + br * fc;
        let v = top * (1.0 - fr) + bottom * fr;
        v.round().clamp(0.0, 255.0) as u8
    };
    // Interior: all four neighbours exist, no folding needed.
    if r0f >= 0.0 && c0f >= 0.0 && r0f < (h - 1) as f64 && c0f < (w - 1) as f64 {
        let (r0, c0) = (r0f as usize, c0f as usize);
        let i = r0 * w as usize + c0;
        let (tl, tr) = (f64::from(src[i]), f64::from(src[i + 1]));
        let (bl, br) = (
            f64::from(src[i + w as usize]),
            f64::from(src[i + w as usize + 1]),
        );
        return blend(tl, tr, bl, br);
    }
    // Far outside, every mode but wrap lands on an edge or a mirrored pixel; clamping the
    // integer part first keeps the arithmetic in range for absurd maps.
    let (r0, c0) = (
        r0f.clamp(-4.0 * h as f64, 4.0 * h as f64) as i64,
        c0f.clamp(-4.0 * w as f64, 4.0 * w as f64) as i64,
    );
    let (ra, rb) = (fold(r0, h, fill), fold(r0 + 1, h, fill));
    let (ca, cb) = (fold(c0, w, fill), fold(c0 + 1, w, fill));
    blend(at(ra, ca), at(ra, cb), at(rb, ca), at(rb, cb))
}

/// Maps an integer index outside `0..n` back inside, by fill mode (constant behaves as
/// nearest here: it only matters for the zero-weight neighbour of an in-range sample).
#[inline]
fn fold(i: i64, n: i64, fill: FillMode) -> usize {
    let j = match fill {
        FillMode::Nearest | FillMode::Constant => i.clamp(0, n - 1),
        FillMode::Reflect => {
            let p = i.rem_euclid(2 * n);
            if p < n { p } else { 2 * n - 1 - p }
        }
        FillMode::Wrap => i.rem_euclid(n),
    };
    j as usize
}

/// Draws a circle (3 pixels thick, in `shade`) around each lesion, given as input-image
/// (row, col, radius), at the place `map` (output to input, as used to warp) moved it to.
pub fn mark_lesions(view: &mut GrayImage, map: &Affine, lesions: &[(f64, f64, f64)], shade: u8) {
    let Some(forward) = map.inverse() else {
        return;
    };
    let scale = map.scale().max(1e-6);
    for &(row, col, radius) in lesions {
        let (r, c) = forward.map(row, col);
        let radius = radius / scale;
        for dr in [-1.0, 0.0, 1.0] {
            let rad = (radius + dr).round().max(1.0) as i32;
            imageproc::drawing::draw_hollow_circle_mut(
                view,
                (c.round() as i32, r.round() as i32),
                rad,
                Luma([shade]),
            );
        }
    }
}

/// A grid of views for a person to look at: `views` images, each resized to `tile` pixels,
/// laid out in rows of `ceil(sqrt(views))`, separated by a 4-pixel white gutter.
pub fn grid(views: &[GrayImage], tile: u32) -> Result<GrayImage> {
    if views.is_empty() || tile == 0 {
        return Err(Error::parameter(
            "grid",
            format!("{} views of {tile} px", views.len()),
            "needs at least one view and a positive tile size",
        ));
    }
    let cols = (views.len() as f64).sqrt().ceil() as u32;
    let rows = (views.len() as u32).div_ceil(cols);
    let gutter = 4;
    let mut out = GrayImage::from_pixel(
        cols * tile + (cols + 1) * gutter,
        rows * tile + (rows + 1) * gutter,
        Luma([255]),
    );
    for (i, view) in views.iter().enumerate() {
        let small =
            image::imageops::resize(view, tile, tile, image::imageops::FilterType::Triangle);
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        let x = gutter + col * (tile + gutter);
        let y = gutter + row * (tile + gutter);
        image::imageops::replace(&mut out, &small, i64::from(x), i64::from(y));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_ranges_go_from_exact_copies_to_the_preset() {
        let paper = Augment::paper();
        assert_eq!(paper.scaled(1.0).unwrap(), paper);
        let none = paper.scaled(0.0).unwrap();
        assert!(none.is_identity(), "{none:?}");
        assert!(!paper.is_identity());
        let half = paper.scaled(0.5).unwrap();
        assert_eq!(half.rotation_range, 10.0);
        assert_eq!(half.zoom_range, [0.9, 1.1]);
        assert!((half.shear_range - 0.1_f64.to_degrees()).abs() < 1e-12);
        assert!(half.horizontal_flip && half.vertical_flip);
        for bad in [-0.1, 1.5, f64::NAN] {
            let err = paper.scaled(bad).unwrap_err().to_string();
            assert!(err.contains("augmentation strength"), "{err}");
        }
    }

    /// The SSE4.1 build of the warp (the one `warp` runs on such CPUs) against the body compiled
    /// for the baseline here: the same pixels, for rotations, shears and zooms that land
    /// samples on exact halves and outside the image, in every fill mode.
    #[test]
    fn every_compiled_warp_gives_the_same_pixels() {
        let image = ramp(97, 61);
        let maps = [
            Affine([[0.9, 0.3, 2.5], [-0.3, 1.1, -7.0]]),
            Affine([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]]),
            Affine([[0.5, 0.0, 30.25], [0.0, 2.0, -40.75]]),
        ];
        let mut differ = 0;
        for a in &maps {
            for fill in [
                FillMode::Constant,
                FillMode::Nearest,
                FillMode::Reflect,
                FillMode::Wrap,
            ] {
                let mut dispatched = vec![0u8; 97 * 61];
                let mut baseline = vec![0u8; 97 * 61];
                a.warp_rows(&image, fill, 9, 0, &mut dispatched);
                a.warp_rows_body(&image, fill, 9, 0, &mut baseline);
                differ += dispatched
                    .iter()
                    .zip(&baseline)
                    .filter(|(x, y)| x != y)
                    .count();
            }
        }
        assert_eq!(differ, 0, "{differ} pixels differ");
    }

    fn ramp(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            Luma([((x * 7 + y * 13 + (x * y) % 31) % 256) as u8])
        })
    }

    #[test]
    fn identity_is_exact_in_every_mode() {
        let img = ramp(37, 23);
        for fill in [
            FillMode::Constant,
            FillMode::Nearest,
            FillMode::Reflect,
            FillMode::Wrap,
        ] {
            assert_eq!(Transform::identity().apply(&img, fill, 9), img, "{fill:?}");
        }
    }

    #[test]
    fn flips_are_exact_mirrors() {
        let img = ramp(37, 23);
        let mut t = Transform::identity();
        t.flip_horizontal = true;
        assert_eq!(
            t.apply(&img, FillMode::Nearest, 0),
            image::imageops::flip_horizontal(&img)
        );
        t.flip_vertical = true;
        let both = image::imageops::flip_vertical(&image::imageops::flip_horizontal(&img));
        assert_eq!(t.apply(&img, FillMode::Nearest, 0), both);
    }

    #[test]
    fn quarter_turn_of_a_square_is_a_rotation() {
        // theta = 90 turns the content a quarter counter-clockwise as displayed (Keras's
        // convention, which the Keras fixture in the integration tests checks).
        let img = ramp(16, 16);
        let mut t = Transform::identity();
        t.theta = 90.0;
        let out = t.apply(&img, FillMode::Nearest, 0);
        assert_eq!(out, image::imageops::rotate270(&img));
    }

    #[test]
    fn fold_matches_scipy_extension_patterns() {
        // a b c d extended two places each side, per SciPy's documented patterns.
        let ext = |fill| (-2..6).map(|i| fold(i, 4, fill)).collect::<Vec<_>>();
        assert_eq!(ext(FillMode::Nearest), [0, 0, 0, 1, 2, 3, 3, 3]);
        assert_eq!(ext(FillMode::Reflect), [1, 0, 0, 1, 2, 3, 3, 2]);
        assert_eq!(ext(FillMode::Wrap), [2, 3, 0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn draws_are_seeded_and_within_ranges() {
        let aug = Augment::paper();
        aug.validate().unwrap();
        let mut rng = rng::derived(5, "test", &[]);
        let mut flips = 0;
        for _ in 0..200 {
            let t = aug.draw(64, 64, &mut rng);
            assert!(t.theta.abs() <= 20.0 && t.shear.abs() <= 11.46 + 1e-3);
            assert!((0.8..1.2).contains(&t.zx) && (0.8..1.2).contains(&t.zy));
            assert_eq!((t.tx, t.ty), (0.0, 0.0));
            flips += usize::from(t.flip_horizontal);
        }
        assert!(
            (70..130).contains(&flips),
            "{flips} horizontal flips in 200"
        );
        let a = aug.draw(64, 64, &mut rng::derived(11, "test", &[]));
        assert_eq!(a, aug.draw(64, 64, &mut rng::derived(11, "test", &[])));
        assert_eq!(
            Augment::none().draw(64, 64, &mut rng),
            Transform::identity()
        );
        let mut shifting = Augment::none();
        shifting.width_shift_range = 0.25;
        let t = shifting.draw(10, 100, &mut rng);
        // Keras scales the width-shift draw by the width and calls it ty.
        assert!(t.ty.abs() <= 25.0 && t.ty.abs() > 0.0 && t.tx == 0.0);
    }

    #[test]
    fn bad_ranges_are_rejected() {
        let mut aug = Augment::paper();
        aug.zoom_range = [1.2, 0.8];
        assert!(
            aug.validate()
                .unwrap_err()
                .to_string()
                .contains("zoom_range")
        );
        aug = Augment::paper();
        aug.rotation_range = f64::NAN;
        assert!(aug.validate().is_err());
        assert!("mirror".parse::<FillMode>().is_err());
    }

    #[test]
    fn inverse_undoes_the_map_and_marks_follow_it() {
        let mut t = Augment::paper().draw(64, 48, &mut rng::derived(3, "test", &[]));
        t.flip_horizontal = true;
        let m = t.affine(64, 48);
        let inv = m.inverse().unwrap();
        let (r, c) = m.map(10.0, 20.0);
        let (r2, c2) = inv.map(r, c);
        assert!((r2 - 10.0).abs() < 1e-9 && (c2 - 20.0).abs() < 1e-9);
        // A bright dot warped by the map lands where the inverse says it goes.
        let mut img = GrayImage::new(48, 64);
        for dr in 0..3 {
            for dc in 0..3 {
                img.put_pixel(19 + dc, 29 + dr, Luma([255]));
            }
        }
        let out = m.warp(&img, FillMode::Constant, 0);
        let (pr, pc) = inv.map(30.0, 20.0);
        assert!(out.get_pixel(pc.round() as u32, pr.round() as u32)[0] > 100);
        let mut marked = out.clone();
        mark_lesions(&mut marked, &m, &[(30.0, 20.0, 8.0)], 200);
        assert_ne!(marked, out);
    }

    #[test]
    fn grid_lays_out_tiles() {
        let views = vec![ramp(32, 32); 5];
        let g = grid(&views, 10).unwrap();
        assert_eq!(g.dimensions(), (3 * 10 + 4 * 4, 2 * 10 + 3 * 4));
        assert!(grid(&[], 10).is_err());
    }
}
