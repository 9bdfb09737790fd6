//! The breast mask of a mammogram: which pixels show breast, and which cells of a grid.
//!
//! The rule ([`MaskParams::mini_mias`]), chosen by looking at the Mini-MIAS films:
//!
//! 1. **Threshold at a fixed low grey level**: pixels brighter than grey 20 are candidates.
//!    The films' background is near black (most of it below 5, scanner noise up to about
//!    15); Otsu's level (56 to 95 on the films checked) cuts through the fatty tissue near
//!    the skin line, so a data-driven level is not used.
//! 2. **Opening with a 5 x 5 square** (erosion then dilation, `imageproc`, radius 2,
//!    chessboard norm): breaks the thin bridges of one to four pixels that join film-edge
//!    lines or scanner streaks to the breast, and drops specks.
//! 3. **The largest 8-connected component**: the breast. Film labels, orientation markers
//!    and film-edge strips that stay separate are dropped (ties: the component met first in
//!    row-major order).
//! 4. **Holes filled**: background regions that do not touch the image border (4-connected)
//!    become breast, so a dark fatty patch inside the breast stays in the mask.
//!
//! The pectoral muscle stays in the mask, and so does a film-edge strip that overlaps the
//! breast (mdb002's upper edge, for example). Cells: [`BreastMask::cells`] calls a cell
//! breast when at least half of its pixels are in the mask (majority rule);
//! [`BreastMask::cell_fractions`] gives the fractions themselves.
//!
//! ```
//! use image::{GrayImage, Luma};
//! use mias_data::cells::CellGrid;
//! use mias_data::mask::BreastMask;
//!
//! # fn main() -> mias_data::Result<()> {
//! // A bright 40 x 64 block against the left edge of a dark 64 x 64 image.
//! let image = GrayImage::from_fn(64, 64, |x, _| Luma([if x < 40 { 120 } else { 3 }]));
//! let mask = BreastMask::mini_mias(&image)?;
//! assert_eq!(mask.area(), 40 * 64);
//! let cells = mask.cells(&CellGrid::new(64, 4)?)?; // cells of 16 px: columns 0-15, ...
//! assert_eq!(cells.values()[..4], [true, true, true, false]); // 8 of 16 columns: half is in
//! assert_eq!(mask.flip_horizontal().cells(&CellGrid::new(64, 4)?)?, cells.flip_horizontal());
//! # Ok(()) }
//! ```

use image::{GrayImage, Luma};
use imageproc::distance_transform::Norm;
use imageproc::region_labelling::{Connectivity, connected_components};
use serde::{Deserialize, Serialize};

use crate::cells::{CellGrid, CellMap};
use crate::error::{Error, Result};

/// Parameters of the breast mask (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskParams {
    /// Pixels strictly brighter than this grey level are candidates.
    pub threshold: u8,
    /// Radius of the square opening (side `2r + 1`, chessboard norm); 0 disables it.
    pub opening_radius: u8,
}

impl MaskParams {
    /// The rule chosen for Mini-MIAS: grey > 20, opening with a 5 x 5 square.
    pub fn mini_mias() -> Self {
        MaskParams {
            threshold: 20,
            opening_radius: 2,
        }
    }
}

impl Default for MaskParams {
    fn default() -> Self {
        Self::mini_mias()
    }
}

/// Which pixels of one image show breast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreastMask {
    /// 255 inside, 0 outside.
    image: GrayImage,
    area: u64,
}

impl BreastMask {
    /// The mask of `image` under [`MaskParams::mini_mias`].
    pub fn mini_mias(image: &GrayImage) -> Result<Self> {
        Self::compute(image, &MaskParams::mini_mias())
    }

    /// The mask of `image` under `params`; an error when no pixel survives the threshold
    /// and the opening (nothing looks like a breast).
    pub fn compute(image: &GrayImage, params: &MaskParams) -> Result<Self> {
        let (width, height) = image.dimensions();
        let t = params.threshold;
        let raw: Vec<u8> = image
            .as_raw()
            .iter()
            .map(|&v| if v > t { 255 } else { 0 })
            .collect();
        let mut binary = GrayImage::from_raw(width, height, raw).expect("one byte per pixel");
        if params.opening_radius > 0 {
            imageproc::morphology::open_mut(&mut binary, Norm::LInf, params.opening_radius);
        }
        let labels = connected_components(&binary, Connectivity::Eight, Luma([0u8]));
        let mut sizes: Vec<u64> = Vec::new();
        for &l in labels.as_raw() {
            let l = l as usize;
            if l == 0 {
                continue;
            }
            if sizes.len() <= l {
                sizes.resize(l + 1, 0);
            }
            sizes[l] += 1;
        }
        // Labels are numbered in row-major order of first appearance, so the first maximum
        // is the component met first.
        let Some(largest) = (1..sizes.len()).reduce(|a, b| if sizes[b] > sizes[a] { b } else { a })
        else {
            return Err(Error::parameter(
                "image",
                format!("{width}x{height}"),
                format!(
                    "no breast to mask: no pixel brighter than grey {} survives an opening of \
                     radius {}",
                    params.threshold, params.opening_radius
                ),
            ));
        };
        // Everything outside the largest component, as foreground of its own labelling:
        // its components that touch the border are background, the others are holes.
        let largest = largest as u32;
        let outside: Vec<u8> = labels
            .as_raw()
            .iter()
            .map(|&l| if l == largest { 0 } else { 255 })
            .collect();
        let outside = GrayImage::from_raw(width, height, outside).expect("one byte per pixel");
        let regions = connected_components(&outside, Connectivity::Four, Luma([0u8]));
        let mut touches_border = vec![false; 1];
        let mut mark = |l: u32| {
            let l = l as usize;
            if touches_border.len() <= l {
                touches_border.resize(l + 1, false);
            }
            touches_border[l] = true;
        };
        for x in 0..width {
            mark(regions.get_pixel(x, 0)[0]);
            mark(regions.get_pixel(x, height - 1)[0]);
        }
        for y in 0..height {
            mark(regions.get_pixel(0, y)[0]);
            mark(regions.get_pixel(width - 1, y)[0]);
        }
        // Label 0 is the breast itself; a region not marked touches no border.
        touches_border[0] = false;
        let mut area = 0;
        let inside: Vec<u8> = regions
            .as_raw()
            .iter()
            .map(|&l| {
                let inside = !touches_border.get(l as usize).copied().unwrap_or(false);
                area += inside as u64;
                if inside { 255 } else { 0 }
            })
            .collect();
        let mask = GrayImage::from_raw(width, height, inside).expect("one byte per pixel");
        Ok(BreastMask { image: mask, area })
    }

    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        self.image.dimensions()
    }

    /// Whether pixel `(row, col)` (top-left origin) is breast; false outside the image.
    pub fn contains(&self, row: u32, col: u32) -> bool {
        self.image
            .get_pixel_checked(col, row)
            .is_some_and(|p| p[0] != 0)
    }

    /// Number of breast pixels.
    pub fn area(&self) -> u64 {
        self.area
    }

    /// Share of the image's pixels that are breast.
    pub fn area_fraction(&self) -> f64 {
        let (w, h) = self.dimensions();
        self.area as f64 / (w as f64 * h as f64)
    }

    /// The mask as an image: 255 for breast, 0 elsewhere.
    pub fn as_image(&self) -> &GrayImage {
        &self.image
    }

    /// The mask of the left-right mirrored image.
    pub fn flip_horizontal(&self) -> BreastMask {
        BreastMask {
            image: image::imageops::flip_horizontal(&self.image),
            area: self.area,
        }
    }

    /// The share of each cell's pixels that are breast; the grid must span the mask.
    pub fn cell_fractions(&self, grid: &CellGrid) -> Result<CellMap<f32>> {
        let (w, h) = self.dimensions();
        if (w, h) != (grid.image_side(), grid.image_side()) {
            return Err(Error::parameter(
                "cell grid",
                format!("{0} x {0} px", grid.image_side()),
                format!("the mask is {w} x {h} px"),
            ));
        }
        let s = grid.cell_side();
        let n = grid.cells() as usize;
        let mut counts = vec![0u32; n * n];
        for (y, row) in self.image.as_raw().chunks_exact(w as usize).enumerate() {
            let base = (y as u32 / s) as usize * n;
            for (x, &p) in row.iter().enumerate() {
                counts[base + x / s as usize] += u32::from(p != 0);
            }
        }
        let per_cell = (s * s) as f32;
        CellMap::from_vec(
            grid.cells(),
            counts.into_iter().map(|c| c as f32 / per_cell).collect(),
        )
    }

    /// The breast cells of a grid: at least half of the cell's pixels in the mask.
    pub fn cells(&self, grid: &CellGrid) -> Result<CellMap<bool>> {
        Ok(self.cell_fractions(grid)?.map(|&f| f >= 0.5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 256 x 256 test film: background grey 4, a bright disc (grey 150) of squared radius
    /// 3660 around (row 128, col 100) with a dark hole, a bright "label" square elsewhere,
    /// joined to the disc by a one-pixel bright line, and isolated bright specks.
    fn film() -> GrayImage {
        GrayImage::from_fn(256, 256, |x, y| {
            let (r, c) = (y as i64, x as i64);
            let d2 = (r - 128).pow(2) + (c - 100).pow(2);
            let v = if d2 <= 3660 {
                if (r - 120).pow(2) + (c - 90).pow(2) <= 64 {
                    10 // a dark patch inside the breast, below the threshold
                } else {
                    150
                }
            } else if (20..32).contains(&r) && (200..240).contains(&c) {
                255 // the film label: 12 x 40 = 480 px
            } else if (c == 210 && (32..128).contains(&r)) || (r == 128 && (150..=210).contains(&c))
            {
                200 // a one-pixel line from the label down to the disc's row, then across
            } else if (r, c) == (240, 20) || (r, c) == (5, 5) {
                255
            } else {
                4
            };
            Luma([v])
        })
    }

    /// The mask is the disc alone, hole included. Its pixel count by hand: row offset dr
    /// holds 2 * floor(sqrt(3660 - dr^2)) + 1 pixels, summed over |dr| <= 60. Its flat caps
    /// (15 px wide at dr = 60) and the rows inward, each at least as wide, hold a 5 x 5
    /// square around every pixel, so the opening keeps the whole disc.
    #[test]
    fn mask_is_the_disc_without_label_line_or_specks() {
        let mask = BreastMask::mini_mias(&film()).unwrap();
        let mut expected = 0u64;
        for dr in -60i64..=60 {
            let mut w = 0;
            while (w + 1) * (w + 1) <= 3660 - dr * dr {
                w += 1;
            }
            expected += 2 * w as u64 + 1;
        }
        assert_eq!(expected, 11_513); // numpy: ((r-128)**2 + (c-100)**2 <= 3660).sum()
        assert_eq!(mask.area(), expected);
        let disc = |r: u32, c: u32| (r as i64 - 128).pow(2) + (c as i64 - 100).pow(2) <= 3660;
        for r in 0..256 {
            for c in 0..256 {
                assert_eq!(mask.contains(r, c), disc(r, c), "pixel ({r}, {c})");
            }
        }
        assert!(mask.contains(120, 90)); // the filled hole
        assert!(!mask.contains(25, 220)); // the label
        assert!(!mask.contains(256, 0));
    }

    #[test]
    fn cells_follow_the_majority_rule() {
        // Columns 0..=23 bright in a 64-px image: with 16-px cells, column block 1 is half
        // in (8 of 16 columns), so breast; with 8-px cells, blocks 0-2 are in and 3 is out.
        let image = GrayImage::from_fn(64, 64, |x, _| Luma([if x < 24 { 90 } else { 0 }]));
        let mask = BreastMask::mini_mias(&image).unwrap();
        let coarse = mask.cells(&CellGrid::new(64, 4).unwrap()).unwrap();
        assert_eq!(coarse.values()[..4], [true, true, false, false]);
        let fractions = mask.cell_fractions(&CellGrid::new(64, 4).unwrap()).unwrap();
        assert_eq!(fractions.values()[..4], [1.0, 0.5, 0.0, 0.0]);
        let fine = mask.cells(&CellGrid::new(64, 8).unwrap()).unwrap();
        assert_eq!(fine.count(|b| *b), 3 * 8);
        let err = mask
            .cells(&CellGrid::new(128, 4).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("128 x 128 px") && err.contains("64 x 64 px"),
            "{err}"
        );
    }

    #[test]
    fn flipping_the_image_flips_the_mask() {
        let film = film();
        let mask = BreastMask::mini_mias(&film).unwrap();
        let mirrored = BreastMask::mini_mias(&image::imageops::flip_horizontal(&film)).unwrap();
        assert_eq!(mirrored, mask.flip_horizontal());
        let grid = CellGrid::new(256, 16).unwrap();
        assert_eq!(
            mirrored.cells(&grid).unwrap(),
            mask.cells(&grid).unwrap().flip_horizontal()
        );
    }

    #[test]
    fn a_dark_image_is_an_error() {
        let dark = GrayImage::from_pixel(32, 32, Luma([20]));
        let err = BreastMask::mini_mias(&dark).unwrap_err().to_string();
        assert!(
            err.contains("32x32") && err.contains("no pixel brighter than grey 20"),
            "{err}"
        );
        // A single bright pixel does not survive the opening either.
        let mut speck = dark.clone();
        speck.put_pixel(4, 4, Luma([255]));
        assert!(BreastMask::mini_mias(&speck).is_err());
    }
}
