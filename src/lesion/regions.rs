//! Regions of a breast for the women model ([`super::women`]): a film turned chest wall left,
//! its breast mask's extent, the region of each breast cell of a dense map's grid, and the
//! mean feature vector of each region.
//!
//! With `top`, `bottom`, `left`, `right` the mask's extreme rows and columns (pixels) and a
//! cell's centre `(y, x) = ((i + 1/2) s, (j + 1/2) s)` (`s` the cell side in pixels), a breast
//! cell of an `R x R` grid of regions lies in row `a = floor(R (y - top) / (bottom - top + 1))`
//! and column
//! - `bbox`: `b = floor(R (x - left) / (right - left + 1))`;
//! - `row`: `b = floor(R (x - l) / (r - l + 1))`, `l` and `r` the first and last mask column on
//!   pixel row `floor(y)` (the mask's `left` and `right` when that row holds no breast), so each
//!   row of the breast spans all `R` columns from the chest wall to the skin line;
//!
//! both clamped to `0..R`. The region of index `a R + b` of one breast faces the region of the
//! same index of the other breast, both turned chest wall left. These are the formulas of the
//! Python reference study (docs/results/explore/README.md).

use mias_data::mask::BreastMask;
use serde::{Deserialize, Serialize};

/// How cells are registered to regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// The mask's bounding box cut into `R x R`.
    Bbox,
    /// Rows of the bounding box, each pixel row cut from its first to its last breast column.
    Row,
}

impl Registration {
    /// The name in configs and tables.
    pub fn name(self) -> &'static str {
        match self {
            Registration::Bbox => "bbox",
            Registration::Row => "row",
        }
    }
}

/// The extent of a breast mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Extent {
    /// First mask row.
    pub top: u32,
    /// Last mask row.
    pub bottom: u32,
    /// First mask column.
    pub left: u32,
    /// Last mask column.
    pub right: u32,
    /// Per pixel row, its first and last mask column (`None` for a row without breast).
    pub rows: Vec<Option<(u32, u32)>>,
}

impl Extent {
    /// The extent of `mask`; `None` when the mask is empty.
    pub fn of(mask: &BreastMask) -> Option<Extent> {
        let (w, h) = mask.dimensions();
        let img = mask.as_image();
        let rows: Vec<Option<(u32, u32)>> = (0..h)
            .map(|y| {
                let row = &img.as_raw()[(y * w) as usize..((y + 1) * w) as usize];
                let first = row.iter().position(|&p| p != 0)?;
                let last = row.iter().rposition(|&p| p != 0)?;
                Some((first as u32, last as u32))
            })
            .collect();
        Self::from_rows(rows)
    }

    /// The extent of per-row spans (first, last column); `None` when every row is empty.
    pub fn from_rows(rows: Vec<Option<(u32, u32)>>) -> Option<Extent> {
        let top = rows.iter().position(Option::is_some)? as u32;
        let bottom = rows.iter().rposition(Option::is_some)? as u32;
        let left = rows.iter().flatten().map(|r| r.0).min()?;
        let right = rows.iter().flatten().map(|r| r.1).max()?;
        Some(Extent {
            top,
            bottom,
            left,
            right,
            rows,
        })
    }
}

/// `floor(r * num / den)` clamped to `0..r`.
fn bin(r: usize, num: f64, den: f64) -> usize {
    let v = (r as f64 * num / den).floor();
    v.clamp(0.0, (r - 1) as f64) as usize
}

/// The region (`a * r + b`) of each cell of a `grid x grid` grid over an image of side
/// `image_side` pixels, `None` for cells that are not breast (`breast`, row-major).
pub fn assign(
    extent: &Extent,
    image_side: u32,
    grid: usize,
    breast: &[bool],
    r: usize,
    registration: Registration,
) -> Vec<Option<u16>> {
    let s = f64::from(image_side) / grid as f64;
    let height = f64::from(extent.bottom - extent.top + 1);
    let mut out = vec![None; grid * grid];
    for i in 0..grid {
        let y = (i as f64 + 0.5) * s;
        let a = bin(r, y - f64::from(extent.top), height);
        let (l, rr) = match registration {
            Registration::Bbox => (extent.left, extent.right),
            Registration::Row => extent
                .rows
                .get(y.floor() as usize)
                .copied()
                .flatten()
                .unwrap_or((extent.left, extent.right)),
        };
        let width = f64::from(rr - l + 1);
        for j in 0..grid {
            if !breast[i * grid + j] {
                continue;
            }
            let x = (j as f64 + 0.5) * s;
            let b = bin(r, x - f64::from(l), width);
            out[i * grid + j] = Some((a * r + b) as u16);
        }
    }
    out
}

/// The mean of each region's cells of a channel-major map `[dim, grid, grid]`: `r * r` rows of
/// `dim` values (region-major), NaN for a region without cells.
pub fn means(map: &[f32], dim: usize, grid: usize, region: &[Option<u16>], r: usize) -> Vec<f32> {
    let plane = grid * grid;
    let mut sums = vec![0.0f64; r * r * dim];
    let mut counts = vec![0u32; r * r];
    for (cell, reg) in region.iter().enumerate() {
        let Some(reg) = reg else { continue };
        let reg = *reg as usize;
        counts[reg] += 1;
        let row = &mut sums[reg * dim..(reg + 1) * dim];
        for (c, v) in row.iter_mut().enumerate() {
            *v += f64::from(map[c * plane + cell]);
        }
    }
    sums.iter()
        .enumerate()
        .map(|(k, &v)| {
            let n = counts[k / dim];
            if n == 0 {
                f32::NAN
            } else {
                (v / f64::from(n)) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-px image of 4 x 4 cells of 4 px; the breast spans rows 2..=13, and on each row from
    /// column 0 to a skin line that recedes (row y: last column 11 - (y - 2) / 2).
    fn extent() -> Extent {
        let rows = (0..16u32)
            .map(|y| (2..=13).contains(&y).then(|| (0, 11 - (y - 2) / 2)))
            .collect();
        Extent::from_rows(rows).unwrap()
    }

    #[test]
    fn extent_of_rows() {
        let e = extent();
        assert_eq!((e.top, e.bottom, e.left, e.right), (2, 13, 0, 11));
    }

    #[test]
    fn regions_by_hand() {
        // Cell centres at 2, 6, 10, 14 px. Rows (R = 2, height 12, top 2):
        //   a = floor(2 (y - 2) / 12): y = 2 -> 0, 6 -> 0, 10 -> 1, 14 -> 2 -> clamped 1.
        // bbox columns (left 0, width 12): b = floor(2 x / 12): x = 2 -> 0, 6 -> 1, 10 -> 1, 14 -> 2 -> 1.
        // row columns: pixel row 2: span 0..=11 (width 12), as bbox; row 6: 0..=9 (width 10):
        //   x = 6 -> floor(1.2) = 1, x = 10 -> 2 -> 1; row 10: 0..=7 (width 8): x = 2 -> 0,
        //   x = 6 -> floor(1.5) = 1; row 14: no breast -> the box, as bbox.
        // numpy: np.clip(np.floor(2 * (np.array([2, 6, 10, 14]) - 2) / 12), 0, 1) -> [0, 0, 1, 1]
        let breast = [
            true, true, true, false, //
            true, true, true, false, //
            true, true, false, false, //
            true, false, false, false,
        ];
        let e = extent();
        let bbox = assign(&e, 16, 4, &breast, 2, Registration::Bbox);
        let n = None;
        assert_eq!(
            bbox,
            [
                Some(0),
                Some(1),
                Some(1),
                n,
                Some(0),
                Some(1),
                Some(1),
                n,
                Some(2),
                Some(3),
                n,
                n,
                Some(2),
                n,
                n,
                n
            ]
        );
        // A narrower skin line moves a cell to the outer column under `row` only: with R = 3,
        // row 10 (span 0..=7, width 8): x = 6 -> floor(3 * 6 / 8) = 2, bbox: floor(18 / 12) = 1.
        let row3 = assign(&e, 16, 4, &breast, 3, Registration::Row);
        let bbox3 = assign(&e, 16, 4, &breast, 3, Registration::Bbox);
        // a for y = 10, R = 3: floor(3 * 8 / 12) = 2.
        assert_eq!(row3[2 * 4 + 1], Some(2 * 3 + 2));
        assert_eq!(bbox3[2 * 4 + 1], Some(2 * 3 + 1));
        // Row 6 (a = floor(3 * 4 / 12) = 1; span 0..=9, width 10), x = 10: row floor(30 / 10)
        // = 3 -> clamped 2; bbox floor(30 / 12) = 2: region 1 * 3 + 2 = 5 under both.
        assert_eq!(row3[4 + 2], Some(5));
        assert_eq!(bbox3[4 + 2], Some(5));
    }

    #[test]
    fn means_of_regions() {
        // grid 2, dim 2: channel 0 = [1, 2, 3, 4], channel 1 = [10, 20, 30, 40]; cells 0 and 1
        // in region 0, cell 3 in region 1, cell 2 off the breast; region 2 and 3 empty (R = 2).
        let map = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        let region = [Some(0), Some(0), None, Some(1)];
        let m = means(&map, 2, 2, &region, 2);
        assert_eq!(&m[..4], &[1.5, 15.0, 4.0, 40.0]);
        assert!(m[4..].iter().all(|v| v.is_nan()));
    }
}
