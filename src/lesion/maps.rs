//! Dense maps of whole films and the cells the lesion method learns from.
//!
//! Each image is resized from 1024 to `side` pixels (Pillow bilinear, the backbone's own
//! normalisation) and run through the backbone once as it is (view 0) and once mirrored left to
//! right (view 1, the second training view); the last map before any pooling, `[C, g, g]`, is
//! stored in the feature cache under a key that names the side, the layer and the views. Of each
//! map the method keeps the breast cells only (the mask comes from the film, the lesion cells
//! from Info.txt's discs; both are mirrored with view 1).

use std::collections::BTreeMap;

use anyhow::Context;
use candle_core::Device;
use mias_backbones::DenseLayer;
use mias_data::cells::{CellGrid, lesion_discs};
use mias_data::mask::BreastMask;
use mias_data::{Dataset, ImageId, ImageRecord};

use super::cv::{ImageCells, MemberCells, ViewCells};
use crate::cache::{CODE_VERSION, CacheKey, Content, FeatureCache};
use crate::members::Member;
use crate::runner::{MapSpec, Runner};

/// The views of every image: the film and its mirror.
pub const VIEWS: [u32; 2] = [0, 1];

/// What the cache key says of the views.
pub const VIEWS_NAME: &str = "0 = the film, 1 = the film mirrored left to right";

/// The map the lesion method reads: the last layer of the backbone at input side `side`.
pub fn spec(side: u32) -> MapSpec {
    MapSpec {
        side,
        layer: DenseLayer::Last,
    }
}

/// Cells per side of `member`'s map at input side `side`.
pub fn grid_of(member: &Member, side: u32) -> usize {
    spec(side).grid(member)
}

/// The cache key of `member`'s dense maps `spec` of the working images of `dataset`.
pub fn dense_key(member: &Member, spec: MapSpec, dataset: &Dataset) -> CacheKey {
    CacheKey {
        backbone: member.kind,
        weights_sha256: member.provenance.sha256.clone(),
        flavor: member.flavor,
        code: CODE_VERSION,
        precision: member.precision.name().to_string(),
        frame: dataset.working_frame().map(str::to_string),
        content: Content::DenseMap {
            preprocess: spec.preprocess(member),
            layer: spec.layer.name().to_string(),
            views: VIEWS_NAME.to_string(),
        },
    }
}

/// A grid of flags mirrored left to right.
pub fn mirror(flags: &[bool], grid: usize) -> Vec<bool> {
    let mut out = vec![false; flags.len()];
    for r in 0..grid {
        for c in 0..grid {
            out[r * grid + (grid - 1 - c)] = flags[r * grid + c];
        }
    }
    out
}

/// What extraction did for one member.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MapStats {
    /// Maps asked for (images x views).
    pub maps: usize,
    /// Maps the backbone computed (the rest came from the cache).
    pub computed: usize,
    /// Of those, maps whose cache entry was damaged and has been replaced.
    pub replaced: usize,
    /// Seconds spent, cache reads included.
    pub seconds: f64,
}

/// Where one image's cells come from: the record the experiment uses (its label and lesions,
/// permuted under the negative control) for the film `id`.
#[derive(Clone)]
pub struct Labelled<'a> {
    /// The film.
    pub id: ImageId,
    /// Its name in the dataset (`mdb001`, a manifest's path).
    pub name: String,
    /// The record whose label and lesions this film carries.
    pub record: &'a ImageRecord,
    /// Abnormal under the label variant.
    pub abnormal: bool,
}

/// Breast and lesion cells of one film on `grid` cells a side (view 0 orientation).
pub struct FilmCells {
    /// Breast cells.
    pub breast: Vec<bool>,
    /// Lesion cells, `None` without coordinates (all false for a normal image).
    pub lesion: Option<Vec<bool>>,
}

/// The breast mask of a film on the grid, and the lesion cells of its record.
pub fn film_cells(
    image: &image::GrayImage,
    labelled: &Labelled<'_>,
    grid: usize,
) -> anyhow::Result<FilmCells> {
    let g = CellGrid::new(image.width(), grid as u32)
        .with_context(|| format!("cell grid of {}", labelled.name))?;
    let mask = BreastMask::mini_mias(image)
        .with_context(|| format!("breast mask of {}", labelled.name))?;
    let breast = mask.cells(&g)?.into_values();
    let lesion = if labelled.abnormal {
        lesion_discs(labelled.record).map(|d| g.disc_cells(&d).into_values())
    } else {
        Some(vec![false; grid * grid])
    };
    Ok(FilmCells { breast, lesion })
}

/// Options of [`member_cells`].
pub struct Extraction<'a> {
    /// The dataset (films).
    pub dataset: &'a Dataset,
    /// The feature cache.
    pub cache: &'a FeatureCache,
    /// Input side.
    pub side: u32,
    /// The device the backbone runs on.
    pub device: &'a Device,
}

/// Maps of further layers that a later stage reads (the women model's), taken from the same
/// forward pass as a film's `last` map of the view that stage wants, where the cache lacks them
/// (a backbone that shares the pass, VGG16, then computes `conv4_3` with `conv5_3` for free).
/// They go to the cache under their own keys ([`dense_key`]), where the later stage finds them.
pub struct AlsoMaps {
    /// The layers, `last` not among them.
    pub layers: Vec<DenseLayer>,
    /// The view each film's maps are wanted of; films not here get none.
    pub views: BTreeMap<ImageId, u32>,
}

/// Every film's cells for `member`: maps from the cache or the backbone (loaded only when a
/// map is missing), breast cells kept; the maps `also` names are computed in the same passes
/// and cached. `progress(n)` is called as maps complete.
pub fn member_cells(
    ex: &Extraction<'_>,
    member: &Member,
    films: &[Labelled<'_>],
    also: Option<&AlsoMaps>,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<(MemberCells, MapStats)> {
    let start = std::time::Instant::now();
    let spec = spec(ex.side);
    let key = dense_key(member, spec, ex.dataset);
    let grid = spec.grid(member);
    let dim = spec.channels(member);
    let len = dim * grid * grid;
    let also_keys: Vec<(DenseLayer, CacheKey)> = also
        .map(|a| {
            a.layers
                .iter()
                .filter(|&&l| l != DenseLayer::Last)
                .map(|&layer| {
                    let key = dense_key(member, MapSpec { layer, ..spec }, ex.dataset);
                    (layer, key)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut runner = Runner::new(member, ex.device);
    let mut stats = MapStats::default();
    let mut images = BTreeMap::new();
    for film in films {
        let name = ex.dataset.name(film.id);
        let image = ex
            .dataset
            .image(film.id)
            .with_context(|| format!("reading image {name}"))?;
        let items: Vec<(ImageId, u32)> = VIEWS.iter().map(|&v| (film.id, v)).collect();
        // The further maps this film's pass should bring along: those the cache lacks.
        let also_view = also.and_then(|a| a.views.get(&film.id).copied());
        let mut missing = Vec::new();
        if let Some(view) = also_view {
            for (layer, key) in &also_keys {
                if !ex.cache.entry_path(key, film.id, view)?.is_file() {
                    missing.push((*layer, key));
                }
            }
        }
        let mut brought: Vec<Vec<f32>> = Vec::new();
        let compute = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
            wanted
                .iter()
                .map(|&(_, view)| {
                    let context = || format!("{} dense map of {name}", member.kind);
                    if Some(view) != also_view || missing.is_empty() {
                        return runner.dense_map(&image, spec, view).with_context(context);
                    }
                    let layers: Vec<DenseLayer> = std::iter::once(DenseLayer::Last)
                        .chain(missing.iter().map(|(l, _)| *l))
                        .collect();
                    let mut maps = runner
                        .dense_maps(&image, ex.side, &layers, view)
                        .with_context(context)?;
                    let last = maps.remove(0);
                    brought = maps;
                    Ok(last)
                })
                .collect()
        };
        let fetched = ex
            .cache
            .get_or_compute(&key, &items, len, 1, compute, &mut progress)?;
        if let Some(view) = also_view {
            for ((_, key), values) in missing.iter().zip(&brought) {
                ex.cache.put(key, film.id, view, values)?;
            }
        }
        stats.maps += items.len();
        stats.computed += fetched.computed;
        stats.replaced += fetched.replaced;
        let maps = fetched.vectors;
        let cells = film_cells(&image, film, grid)?;
        let mut views = Vec::with_capacity(VIEWS.len());
        for (&view, map) in VIEWS.iter().zip(&maps) {
            let (breast, lesion) = if view == 1 {
                (
                    mirror(&cells.breast, grid),
                    cells.lesion.as_ref().map(|l| mirror(l, grid)),
                )
            } else {
                (cells.breast.clone(), cells.lesion.clone())
            };
            views.push(gather(map, dim, grid, &breast, lesion.as_deref()));
        }
        images.insert(
            film.id,
            ImageCells {
                id: film.id,
                abnormal: film.abnormal,
                pair: film.record.pair,
                name: name.clone(),
                views,
            },
        );
    }
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((MemberCells { dim, grid, images }, stats))
}

/// The breast cells of a channel-major map `[dim, grid, grid]` as rows of `dim` values.
pub fn gather(
    map: &[f32],
    dim: usize,
    grid: usize,
    breast: &[bool],
    lesion: Option<&[bool]>,
) -> ViewCells {
    let plane = grid * grid;
    let cells: Vec<u32> = (0..plane)
        .filter(|&i| breast[i])
        .map(|i| i as u32)
        .collect();
    let mut rows = Vec::with_capacity(cells.len() * dim);
    for &cell in &cells {
        rows.extend((0..dim).map(|ch| map[ch * plane + cell as usize]));
    }
    let positive = lesion.map(|l| cells.iter().map(|&c| l[c as usize]).collect());
    ViewCells {
        cells,
        rows,
        positive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_flips_columns_only() {
        // 3x3 grid, a flag at (row 0, col 0) and (row 2, col 1).
        let mut f = vec![false; 9];
        f[0] = true;
        f[7] = true;
        let m = mirror(&f, 3);
        let set: Vec<usize> = (0..9).filter(|&i| m[i]).collect();
        assert_eq!(set, [2, 7]);
        assert_eq!(mirror(&m, 3), f);
    }

    #[test]
    fn gather_takes_channel_major_cells() {
        // dim 2, grid 2: channel 0 = [0, 1, 2, 3], channel 1 = [10, 11, 12, 13].
        let map = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0];
        let breast = [false, true, false, true];
        let lesion = [false, false, false, true];
        let v = gather(&map, 2, 2, &breast, Some(&lesion));
        assert_eq!(v.cells, [1, 3]);
        assert_eq!(v.rows, [1.0, 11.0, 3.0, 13.0]);
        assert_eq!(v.positive, Some(vec![false, true]));
    }
}
