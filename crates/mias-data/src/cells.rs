//! The cell grid of the lesion method: square cells over the image, Info.txt's lesion discs
//! rasterised onto them, and per-cell training labels.
//!
//! A [`CellGrid`] cuts a square image of side `S` pixels into `n x n` cells of side `S / n`
//! (VGG16's conv5_3 at a 512-px input is a 32 x 32 grid over the 1024-px film: 32 px per
//! cell). Cell `(r, c)` covers pixel rows `r*s .. (r+1)*s` and columns `c*s .. (c+1)*s`
//! (top-left origin, `s` the cell side). Positions are in pixel-index coordinates: pixel
//! `(row, col)` sits at the point `(row, col)`, so the centre of cell `(r, c)` is
//! `(r*s + (s-1)/2, c*s + (s-1)/2)`, e.g. 15.5 for the first cell of side 32. A
//! [`CellMap`] holds one value per cell, row-major.
//!
//! Lesions: Info.txt gives each lesion's centre with a bottom-left origin; the parser stores
//! it already converted to the top-left origin ([`Pixel`]: `row = 1023 - y`), and
//! [`Disc`] takes it from there. A cell is inside a lesion when its centre lies within
//! `max(radius, s)` pixels of the lesion centre (boundary included), so a lesion smaller than
//! a cell still marks the cell it falls in and usually two or three neighbours; several
//! lesions of one image are united. [`lesion_discs`] is `None` for an abnormal image with a
//! lesion that has no coordinates (mdb059, mdb216, mdb233, mdb245 in Mini-MIAS): such an image
//! has no cell labels, and a caller must not read it as "no lesion anywhere".
//!
//! Training labels ([`cell_labels`]): every breast cell of a normal image is a
//! [`CellLabel::Negative`]; a cell of an abnormal image is [`CellLabel::Positive`] when it is
//! a breast cell inside a lesion disc, and [`CellLabel::Unused`] otherwise (the rest of an
//! abnormal breast is neither shown to the classifier as normal tissue nor as lesion). Breast
//! cells come from [`crate::mask::BreastMask::cells`].
//!
//! Mirrored views: flipping the image left-right maps cell `(r, c)` to `(r, n-1-c)` and pixel
//! column `col` to `S-1-col`; [`CellMap::flip_horizontal`] and [`Disc::mirrored`] do exactly
//! that, so labels of the flipped image are the flipped labels of the image.
//!
//! ```
//! use std::path::Path;
//! use mias_data::info::{mdb, mdb_contralateral, mdb_name};
//! use mias_data::{InfoTable, Labelling};
//! use mias_data::cells::{CellGrid, CellLabel, CellMap, cell_labels, lesion_discs};
//!
//! # fn main() -> mias_data::Result<()> {
//! // Info.txt row: x = 100, y = 20 (bottom-left origin): near the bottom of the film.
//! let table = InfoTable::parse("mdb001 F CIRC B 100 20 10\nmdb002 F NORM\n", Path::new("Info.txt"))?;
//! let record = table.get(mdb(1)?)?;
//! let grid = CellGrid::mini_mias(32)?; // 32 x 32 cells of 32 px
//!
//! let discs = lesion_discs(record).expect("this lesion has coordinates");
//! let inside = grid.disc_cells(&discs);
//! assert!(inside.get(31, 3)); // bottom row of the grid: row 1023 - 20 = 1003
//!
//! // Breast cells would come from BreastMask::cells; here every cell is breast.
//! let breast = CellMap::filled(32, true);
//! let labels = cell_labels(record.label(Labelling::OFFICIAL), &record.lesions, &breast, &grid)?
//!     .expect("an image with coordinates has labels");
//! assert_eq!(labels.count(|l| *l == CellLabel::Positive), 3);
//!
//! // The other breast of the same woman is one call away.
//! let other = table.get(mdb_contralateral(record.id))?;
//! assert_eq!(mdb_name(other.id), "mdb002");
//!
//! // The mirrored view: flip the labels the same way as the image.
//! assert_eq!(labels.flip_horizontal().get(31, 28), CellLabel::Positive);
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::info::{IMAGE_SIDE, ImageRecord, Label, Lesion, Pixel};

/// A square image cut into `cells x cells` square cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellGrid {
    image_side: u32,
    cells: u32,
}

impl CellGrid {
    /// A grid of `cells x cells` cells over a square image of side `image_side` pixels; the
    /// side must be a positive multiple of `cells`.
    pub fn new(image_side: u32, cells: u32) -> Result<Self> {
        if cells == 0 || image_side == 0 || !image_side.is_multiple_of(cells) {
            return Err(Error::parameter(
                "cell grid",
                format!("{cells} cells over {image_side} px"),
                "the image side must be a positive multiple of the number of cells per side",
            ));
        }
        Ok(CellGrid { image_side, cells })
    }

    /// A grid over a 1024-px Mini-MIAS film (`cells` = 32 gives cells of 32 px).
    pub fn mini_mias(cells: u32) -> Result<Self> {
        Self::new(IMAGE_SIDE, cells)
    }

    /// Side of the image, in pixels.
    pub fn image_side(&self) -> u32 {
        self.image_side
    }

    /// Cells per side.
    pub fn cells(&self) -> u32 {
        self.cells
    }

    /// Side of one cell, in pixels.
    pub fn cell_side(&self) -> u32 {
        self.image_side / self.cells
    }

    /// Number of cells, `cells * cells`.
    pub fn len(&self) -> usize {
        (self.cells as usize) * (self.cells as usize)
    }

    /// Always false: a grid has at least one cell.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Centre of cell `(row, col)` as `(row, col)` in pixel-index coordinates (top-left
    /// origin): `(row*s + (s-1)/2, col*s + (s-1)/2)`.
    pub fn centre(&self, row: u32, col: u32) -> (f64, f64) {
        let s = self.cell_side() as f64;
        let half = (s - 1.0) / 2.0;
        (row as f64 * s + half, col as f64 * s + half)
    }

    /// The cell `(row, col)` that contains a pixel, `None` outside the image.
    pub fn cell_of(&self, pixel: Pixel) -> Option<(u32, u32)> {
        (pixel.row < self.image_side && pixel.col < self.image_side).then(|| {
            let s = self.cell_side();
            (pixel.row / s, pixel.col / s)
        })
    }

    /// The cells whose centre lies within `max(radius, cell side)` pixels of a disc's centre,
    /// for any of `discs` (boundary included).
    pub fn disc_cells(&self, discs: &[Disc]) -> CellMap<bool> {
        let s = self.cell_side() as f64;
        CellMap::from_fn(self.cells, |r, c| {
            let (y, x) = self.centre(r, c);
            discs.iter().any(|d| {
                let reach = (d.radius as f64).max(s);
                let dy = y - d.centre.row as f64;
                let dx = x - d.centre.col as f64;
                dy * dy + dx * dx <= reach * reach
            })
        })
    }
}

/// A lesion's circle: centre (top-left origin) and radius in pixels, as in Info.txt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disc {
    /// Centre, top-left origin (Info.txt's `x` and `1023 - y`).
    pub centre: Pixel,
    /// Radius in pixels.
    pub radius: u32,
}

impl Disc {
    /// The disc of a lesion, `None` when the table gives no coordinates for it.
    pub fn of_lesion(lesion: &Lesion) -> Option<Disc> {
        Some(Disc {
            centre: lesion.centre?,
            radius: lesion.radius?,
        })
    }

    /// The same disc in the left-right mirrored image of side `image_side`
    /// (column `col` becomes `image_side - 1 - col`).
    pub fn mirrored(self, image_side: u32) -> Disc {
        Disc {
            centre: Pixel {
                row: self.centre.row,
                col: image_side - 1 - self.centre.col,
            },
            radius: self.radius,
        }
    }
}

/// The lesion discs of an image: empty for a normal image, `None` when any of its lesions
/// has no coordinates (its cells cannot be labelled).
pub fn lesion_discs(record: &ImageRecord) -> Option<Vec<Disc>> {
    discs_of(&record.lesions)
}

fn discs_of(lesions: &[Lesion]) -> Option<Vec<Disc>> {
    lesions.iter().map(Disc::of_lesion).collect()
}

/// The training role of one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellLabel {
    /// Not a training example: outside the breast, or in an abnormal breast outside every
    /// lesion disc.
    #[default]
    Unused,
    /// A breast cell of a normal image.
    Negative,
    /// A breast cell inside a lesion disc of an abnormal image.
    Positive,
}

/// Per-cell training labels of one image, given its binary label, its lesions and its
/// breast cells (see the module docs for the rule). `None` for an abnormal image with a
/// lesion that has no coordinates. A normal image's lesions are ignored, so a label variant
/// that reads an image with a lesion as normal (the `paper` variant) gives negatives there.
/// An error when the breast map and the grid differ in size.
pub fn cell_labels(
    label: Label,
    lesions: &[Lesion],
    breast: &CellMap<bool>,
    grid: &CellGrid,
) -> Result<Option<CellMap<CellLabel>>> {
    if breast.cells() != grid.cells() {
        return Err(Error::parameter(
            "breast cell map",
            format!("{0} x {0}", breast.cells()),
            format!("the grid has {0} x {0} cells", grid.cells()),
        ));
    }
    Ok(match label {
        Label::Normal => Some(breast.map(|&b| {
            if b {
                CellLabel::Negative
            } else {
                CellLabel::Unused
            }
        })),
        Label::Abnormal => discs_of(lesions).map(|discs| {
            let inside = grid.disc_cells(&discs);
            CellMap::from_fn(grid.cells(), |r, c| {
                if inside.get(r, c) && breast.get(r, c) {
                    CellLabel::Positive
                } else {
                    CellLabel::Unused
                }
            })
        }),
    })
}

/// One value per cell of a square grid, row-major (row 0 at the top).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellMap<T> {
    cells: u32,
    values: Vec<T>,
}

impl<T> CellMap<T> {
    /// The map with `f(row, col)` at each cell.
    pub fn from_fn(cells: u32, mut f: impl FnMut(u32, u32) -> T) -> Self {
        let mut values = Vec::with_capacity((cells as usize) * (cells as usize));
        for r in 0..cells {
            for c in 0..cells {
                values.push(f(r, c));
            }
        }
        CellMap { cells, values }
    }

    /// A map from row-major values; their number must be `cells * cells`.
    pub fn from_vec(cells: u32, values: Vec<T>) -> Result<Self> {
        if values.len() != (cells as usize) * (cells as usize) {
            return Err(Error::parameter(
                "cell map",
                format!("{} values", values.len()),
                format!(
                    "a {cells} x {cells} grid needs {}",
                    cells as usize * cells as usize
                ),
            ));
        }
        Ok(CellMap { cells, values })
    }

    /// Cells per side.
    pub fn cells(&self) -> u32 {
        self.cells
    }

    /// The values, row-major.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The values, row-major, by value.
    pub fn into_values(self) -> Vec<T> {
        self.values
    }

    /// Each cell as `(row, col, &value)`, row-major.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, &T)> + '_ {
        let n = self.cells;
        self.values
            .iter()
            .enumerate()
            .map(move |(i, v)| (i as u32 / n, i as u32 % n, v))
    }

    /// The map with `f` applied to every value.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> CellMap<U> {
        CellMap {
            cells: self.cells,
            values: self.values.iter().map(f).collect(),
        }
    }

    /// The number of cells whose value satisfies `pred`.
    pub fn count(&self, pred: impl Fn(&T) -> bool) -> usize {
        self.values.iter().filter(|v| pred(v)).count()
    }

    fn index(&self, row: u32, col: u32) -> usize {
        assert!(
            row < self.cells && col < self.cells,
            "cell ({row}, {col}) outside a {} x {} grid",
            self.cells,
            self.cells
        );
        row as usize * self.cells as usize + col as usize
    }

    /// Sets the value of cell `(row, col)`; panics outside the grid (a programming error).
    pub fn set(&mut self, row: u32, col: u32, value: T) {
        let i = self.index(row, col);
        self.values[i] = value;
    }
}

impl<T: Clone> CellMap<T> {
    /// A map with `value` in every cell.
    pub fn filled(cells: u32, value: T) -> Self {
        CellMap {
            cells,
            values: vec![value; (cells as usize) * (cells as usize)],
        }
    }

    /// The value of cell `(row, col)`; panics outside the grid (a programming error).
    pub fn get(&self, row: u32, col: u32) -> T {
        self.values[self.index(row, col)].clone()
    }

    /// The map of the left-right mirrored image: cell `(r, c)` takes the value of
    /// `(r, cells-1-c)`.
    pub fn flip_horizontal(&self) -> Self {
        let n = self.cells;
        CellMap::from_fn(n, |r, c| self.get(r, n - 1 - c))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::info::{InfoTable, Labelling};

    fn positives(map: &CellMap<bool>) -> Vec<(u32, u32)> {
        map.iter()
            .filter(|(_, _, v)| **v)
            .map(|(r, c, _)| (r, c))
            .collect()
    }

    fn table(text: &str) -> InfoTable {
        InfoTable::parse(text, Path::new("Info.txt")).unwrap()
    }

    #[test]
    fn grid_geometry() {
        let g = CellGrid::mini_mias(32).unwrap();
        assert_eq!((g.cell_side(), g.len()), (32, 1024));
        assert_eq!(g.centre(0, 0), (15.5, 15.5));
        assert_eq!(g.centre(31, 2), (1007.5, 79.5));
        assert_eq!(
            g.cell_of(Pixel {
                row: 1003,
                col: 100
            }),
            Some((31, 3))
        );
        assert_eq!(g.cell_of(Pixel { row: 1024, col: 0 }), None);
        for (side, cells) in [(1024, 0), (1024, 30), (0, 4)] {
            let err = CellGrid::new(side, cells).unwrap_err().to_string();
            assert!(
                err.contains("invalid cell grid") && err.contains(&format!("{cells} cells")),
                "{err}"
            );
        }
    }

    /// Info.txt's origin is the bottom-left corner: y = 20 is 20 px above the bottom edge.
    /// Worked by hand, 32 px cells, reach max(10, 32) = 32 from (row 1003, col 100):
    /// cell (31, 3) centre (1007.5, 111.5): distance sqrt(4.5^2 + 11.5^2) = 12.3, inside;
    /// (31, 2) centre (1007.5, 79.5): sqrt(4.5^2 + 20.5^2) = 21.0, inside;
    /// (30, 3) centre (975.5, 111.5): sqrt(27.5^2 + 11.5^2) = 29.8, inside;
    /// (30, 2): sqrt(27.5^2 + 20.5^2) = 34.3 and (31, 4): sqrt(4.5^2 + 43.5^2) = 43.7, outside.
    #[test]
    fn small_lesion_near_the_bottom_lands_in_the_bottom_rows() {
        let t = table("mdb001 F CIRC B 100 20 10\n");
        let discs =
            lesion_discs(t.get(crate::info::parse_mdb("mdb001").unwrap()).unwrap()).unwrap();
        assert_eq!(
            discs[0].centre,
            Pixel {
                row: 1003,
                col: 100
            }
        );
        let grid = CellGrid::mini_mias(32).unwrap();
        assert_eq!(
            positives(&grid.disc_cells(&discs)),
            [(30, 3), (31, 2), (31, 3)]
        );
    }

    /// A 16-px image in 4 x 4 cells of 4 px (centres at 1.5, 5.5, 9.5, 13.5) and a disc of
    /// radius 6 > 4 around pixel (7, 7). Squared distances by hand, against 36:
    /// offsets (1.5, 1.5) 4.5, (1.5, 2.5) 8.5, (2.5, 2.5) 12.5 inside: cells (1..=2, 1..=2);
    /// (1.5, 5.5) 32.25 inside: cells (1, 0) and (0, 1); (2.5, 5.5) 36.5, (5.5, 5.5) 60.5 and
    /// (1.5, 6.5) 44.5 outside.
    #[test]
    fn radius_larger_than_a_cell() {
        let grid = CellGrid::new(16, 4).unwrap();
        let disc = Disc {
            centre: Pixel { row: 7, col: 7 },
            radius: 6,
        };
        assert_eq!(
            positives(&grid.disc_cells(&[disc])),
            [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]
        );
    }

    /// Two lesions of one image (Info.txt rows with the same id) are united; 128-px cells.
    /// Lesion 1: x 64, y 1023 - 64 (row 64): reach 128 from (64, 64); centres at 63.5 and
    /// 191.5: (0, 0) distance 0.7, (0, 1) and (1, 0) 127.5, inside; (1, 1) 180.3 outside.
    /// Lesion 2: x 900, y 100 (row 923), radius 20: reach 128 from (923, 900): cell (7, 7)
    /// centre (959.5, 959.5) distance 69.8; (7, 6) (959.5, 831.5) 77.6; (6, 7) (831.5, 959.5)
    /// 109.1; (6, 6) 114.3, all inside; row 5 (centre 703.5) is 219.5 rows away and column 5
    /// (703.5) 196.5 columns away.
    #[test]
    fn several_lesions_are_united() {
        let t = table("mdb003 F CIRC B 64 959 30\nmdb003 F SPIC M 900 100 20\n");
        let record = t.get(crate::info::parse_mdb("mdb003").unwrap()).unwrap();
        let grid = CellGrid::mini_mias(8).unwrap();
        let map = grid.disc_cells(&lesion_discs(record).unwrap());
        assert_eq!(
            positives(&map),
            [(0, 0), (0, 1), (1, 0), (6, 6), (6, 7), (7, 6), (7, 7)]
        );
    }

    #[test]
    fn images_without_coordinates_have_no_labels() {
        let t = table(
            "mdb059 F CIRC B\nmdb216 D CALC M *NOTE 3*\nmdb003 D NORM\nmdb005 F CIRC B 477 133 30\n",
        );
        let grid = CellGrid::mini_mias(32).unwrap();
        let breast = CellMap::filled(32, true);
        for id in ["mdb059", "mdb216"] {
            let r = t.get(crate::info::parse_mdb(id).unwrap()).unwrap();
            assert_eq!(lesion_discs(r), None, "{id}");
            let labels = cell_labels(r.label(Labelling::OFFICIAL), &r.lesions, &breast, &grid);
            assert_eq!(labels.unwrap(), None, "{id}");
        }
        // A normal image: every breast cell negative, nothing else.
        let mut breast = CellMap::filled(32, false);
        breast.set(4, 5, true);
        breast.set(9, 9, true);
        let normal = t.get(crate::info::parse_mdb("mdb003").unwrap()).unwrap();
        assert_eq!(lesion_discs(normal), Some(vec![]));
        let labels = cell_labels(
            normal.label(Labelling::OFFICIAL),
            &normal.lesions,
            &breast,
            &grid,
        )
        .unwrap()
        .unwrap();
        assert_eq!(labels.count(|l| *l == CellLabel::Negative), 2);
        assert_eq!(labels.get(9, 9), CellLabel::Negative);
        assert_eq!(labels.count(|l| *l == CellLabel::Positive), 0);
        // An abnormal image: disc cells outside the breast are unused, not positive.
        let abnormal = t.get(crate::info::parse_mdb("mdb005").unwrap()).unwrap();
        let labels = cell_labels(
            abnormal.label(Labelling::OFFICIAL),
            &abnormal.lesions,
            &breast,
            &grid,
        )
        .unwrap()
        .unwrap();
        assert_eq!(labels.count(|l| *l != CellLabel::Unused), 0);
        // A breast map of another size is an error naming both sizes.
        let err = cell_labels(Label::Normal, &[], &CellMap::filled(16, true), &grid)
            .unwrap_err()
            .to_string();
        assert!(err.contains("16 x 16") && err.contains("32 x 32"), "{err}");
    }

    /// The disc of a mirrored lesion gives the mirrored cells, at every grid and reach.
    #[test]
    fn flip_is_consistent_with_mirrored_lesions() {
        for (side, cells) in [(1024, 32), (1024, 64), (16, 4), (20, 5)] {
            let grid = CellGrid::new(side, cells).unwrap();
            for (row, col, radius) in [(3, 2, 1), (7, 11, 6), (0, side - 1, 3), (10, 1, 40)] {
                let disc = Disc {
                    centre: Pixel {
                        row: row.min(side - 1),
                        col: col.min(side - 1),
                    },
                    radius,
                };
                let flipped = grid.disc_cells(&[disc]).flip_horizontal();
                assert_eq!(flipped, grid.disc_cells(&[disc.mirrored(side)]));
                assert!(!positives(&flipped).is_empty());
            }
        }
        let map = CellMap::from_vec(2, vec![1, 2, 3, 4]).unwrap();
        assert_eq!(map.flip_horizontal().values(), [2, 1, 4, 3]);
        assert_eq!(map.flip_horizontal().flip_horizontal(), map);
        let err = CellMap::from_vec(2, vec![1, 2, 3]).unwrap_err().to_string();
        assert!(err.contains("3 values") && err.contains("needs 4"), "{err}");
    }
}
