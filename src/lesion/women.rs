//! The women model: is this woman abnormal? Her two breasts compared region by region
//! (issue 19; the "regional asymmetry" of the Python reference study,
//! docs/results/explore/README.md, its family 3).
//!
//! 1. Each film is turned chest wall left (a right film is mirrored: view 1 of the lesion
//!    method's maps; a left film is view 0), by the side the dataset gives (Mini-MIAS:
//!    [`mias_data::info::mdb_side`]; a collection: its manifest's laterality).
//! 2. Dense maps of `layers` at the lesion method's `side` through the [`Runner`] and the
//!    feature cache (the `last` map of both views is the cell classifier's, already cached;
//!    the other layers come from that classifier's forward pass over the film's view,
//!    [`also_maps`], when the cache lacks them, so they are usually cached too).
//! 3. The breast mask of the turned film, its cells (mask fraction >= 0.5) and their regions
//!    ([`super::regions`]); a region's feature is the mean of its breast cells.
//! 4. Per outer fold, from the training women only: the normative mean and standard deviation
//!    of every region's feature over the films of the *normal* training women (population sd,
//!    floored at 1e-3), each normal training woman scored against the *other* normal training
//!    women (leave one woman out: scored in-sample, training normals look more normal than
//!    unseen ones, which biased the reference study's permutation control to 0.44); features
//!    per woman ([`FeatureSet`]); a class-balanced L2 logistic regression on standardised
//!    features (mias-train's, L-BFGS) for every candidate (layers x grid x registration x
//!    features x C), and a side model per (layers, grid, registration): the same regression
//!    (C = `side_c`) on own[film] - own[her other film] with the films' labels.
//! 5. The woman's score is the mean over the candidates of sigmoid(woman logit); a film's,
//!    the mean of sigmoid(woman logit + side logit). Nothing is chosen among the candidates,
//!    so there is no inner cross-validation and no held-out woman reaches any fit.
//!
//! Every woman needs exactly one right and one left film: a woman with another set of films
//! is an error (the collection cannot run the women model; set `headline = "ensemble"` and
//! leave `[women]` out).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use mias_backbones::{BackboneKind, DenseLayer};
use mias_data::cells::CellGrid;
use mias_data::mask::BreastMask;
use mias_data::{Dataset, ImageId, PatientId, Side};
use mias_train::{LogisticConfig, LogisticRegression};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Film;
use super::cv::Fits;
use super::maps::{Extraction, dense_key};
use super::regions::{self, Extent, Registration};
use crate::members::Member;
use crate::runner::{MapSpec, Runner, map_view};

/// The `[women]` section of the lesion configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WomenConfig {
    /// The backbone whose dense maps are compared (one of `backbones`).
    pub backbone: String,
    /// Dense layers, each `previous_stage`, `last` or several joined by `+` (channels side by
    /// side).
    pub layers: Vec<String>,
    /// Regions per side of the breast.
    pub grids: Vec<usize>,
    /// Registrations of cells to regions.
    pub registrations: Vec<Registration>,
    /// Feature sets.
    pub features: Vec<FeatureSet>,
    /// Inverse regularisation strengths of the women models.
    pub c_grid: Vec<f64>,
    /// Inverse regularisation strength of the side model.
    pub side_c: f64,
    /// L-BFGS tolerance.
    pub tol: f64,
    /// L-BFGS iteration cap.
    pub max_iter: usize,
}

/// The features of a woman.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FeatureSet {
    /// Per channel, the largest |right - left| over the regions both breasts have.
    #[serde(rename = "asym")]
    Asym,
    /// `asym` and `own`: per channel the largest |z| over the regions, and the largest mean
    /// of z^2 over the channels, of each breast against the normal training women, the larger
    /// of her two breasts' (so a lesion on both sides is not cancelled).
    #[serde(rename = "asym+own")]
    AsymOwn,
    /// `zasym` (per channel the largest |z_right - z_left|) and `own`.
    #[serde(rename = "zasym+own")]
    ZasymOwn,
}

impl FeatureSet {
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            FeatureSet::Asym => "asym",
            FeatureSet::AsymOwn => "asym+own",
            FeatureSet::ZasymOwn => "zasym+own",
        }
    }
}

/// Layers, grid and registration: what the region features of a candidate are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Layers whose region means are put side by side.
    pub layers: Vec<DenseLayer>,
    /// Regions per side.
    pub grid: usize,
    /// Registration.
    pub registration: Registration,
}

impl Setting {
    /// `previous_stage+last R6 bbox`.
    pub fn name(&self) -> String {
        let layers: Vec<&str> = self.layers.iter().map(|l| l.name()).collect();
        format!(
            "{} R{} {}",
            layers.join("+"),
            self.grid,
            self.registration.name()
        )
    }
}

/// One model of the mean: a setting (index into [`WomenConfig::settings`]), features and C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Index of its setting.
    pub setting: usize,
    /// Features.
    pub features: FeatureSet,
    /// C.
    pub c: f64,
}

impl WomenConfig {
    /// The backbone.
    pub fn kind(&self) -> anyhow::Result<BackboneKind> {
        self.backbone
            .parse::<BackboneKind>()
            .map_err(|e| anyhow::anyhow!("key `women.backbone`: {e}"))
    }

    /// Each entry of `layers` as layers.
    pub fn layer_groups(&self) -> anyhow::Result<Vec<Vec<DenseLayer>>> {
        self.layers
            .iter()
            .map(|entry| {
                let group: Vec<DenseLayer> = entry
                    .split('+')
                    .map(|l| {
                        l.trim().parse::<DenseLayer>().map_err(|e| {
                            anyhow::anyhow!(
                                "key `women.layers`: {entry:?}: {e} (known: last, previous_stage)"
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                let distinct: BTreeSet<&str> = group.iter().map(|l| l.name()).collect();
                if distinct.len() != group.len() {
                    bail!("key `women.layers`: {entry:?} names a layer twice");
                }
                Ok(group)
            })
            .collect()
    }

    /// The distinct layers of every group, `previous_stage` before `last` where both are.
    pub fn layer_set(&self) -> anyhow::Result<Vec<DenseLayer>> {
        let all: Vec<DenseLayer> = self.layer_groups()?.into_iter().flatten().collect();
        Ok([DenseLayer::PreviousStage, DenseLayer::Last]
            .into_iter()
            .filter(|l| all.contains(l))
            .collect())
    }

    /// Every setting: layers x grids x registrations, in that order.
    pub fn settings(&self) -> anyhow::Result<Vec<Setting>> {
        let mut out = Vec::new();
        for layers in self.layer_groups()? {
            for &grid in &self.grids {
                for &registration in &self.registrations {
                    out.push(Setting {
                        layers: layers.clone(),
                        grid,
                        registration,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every candidate: settings x features x C, in that order.
    pub fn candidates(&self) -> anyhow::Result<Vec<Candidate>> {
        let mut out = Vec::new();
        for setting in 0..self.settings()?.len() {
            for &features in &self.features {
                for &c in &self.c_grid {
                    out.push(Candidate {
                        setting,
                        features,
                        c,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Checks every value's range; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.kind()?;
        if self.layers.is_empty() {
            bail!("key `women.layers`: at least one entry");
        }
        self.layer_groups()?;
        if self.grids.is_empty() || self.grids.iter().any(|g| !(2..=32).contains(g)) {
            bail!("key `women.grids`: one or more values in 2..=32");
        }
        if self.registrations.is_empty() {
            bail!("key `women.registrations`: one or more of bbox, row");
        }
        if self.features.is_empty() {
            bail!("key `women.features`: one or more of asym, asym+own, zasym+own");
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.c_grid.is_empty() || !self.c_grid.iter().all(|&c| positive(c)) {
            bail!("key `women.c_grid`: one or more positive, finite values");
        }
        if !positive(self.side_c) {
            bail!("key `women.side_c`: a positive, finite value");
        }
        if !positive(self.tol) || self.max_iter == 0 {
            bail!("keys `women.tol`, `women.max_iter`: a positive tolerance and >= 1 iteration");
        }
        Ok(())
    }
}

/// The side of a film: Mini-MIAS's numbering, or a collection's manifest laterality.
pub fn film_side(dataset: &Dataset, id: ImageId) -> anyhow::Result<Side> {
    if dataset.is_mini_mias() {
        return Ok(mias_data::info::mdb_side(id));
    }
    let m = dataset.manifest().with_context(|| {
        format!(
            "{}: no side (a collection without a manifest)",
            dataset.name(id)
        )
    })?;
    m.images()
        .get(id.index())
        .map(|i| i.laterality)
        .with_context(|| format!("{}: not in the manifest", dataset.name(id)))
}

/// The view that turns a film chest wall left: 1 (mirrored) for a right film, 0 for a left.
pub fn view_of(side: Side) -> u32 {
    match side {
        Side::Right => 1,
        Side::Left => 0,
    }
}

/// The maps the women model reads beyond the cell classifier's `last` ones, for the member
/// pass to bring along ([`super::maps::AlsoMaps`]): `cfg`'s layers of each film of `films`
/// turned chest wall left. A film without a side gets none here; the women stage names it.
pub fn also_maps(
    cfg: &WomenConfig,
    dataset: &Dataset,
    films: &[ImageId],
) -> anyhow::Result<super::maps::AlsoMaps> {
    let layers = cfg
        .layer_set()?
        .into_iter()
        .filter(|&l| l != DenseLayer::Last)
        .collect();
    let views = films
        .iter()
        .filter_map(|&id| Some((id, view_of(film_side(dataset, id).ok()?))))
        .collect();
    Ok(super::maps::AlsoMaps { layers, views })
}

/// The women of `films`, each as (woman, right film, left film), in woman order; an error
/// names a woman without exactly one film of each side.
pub fn pair_women(
    dataset: &Dataset,
    films: &BTreeMap<ImageId, Film>,
) -> anyhow::Result<Vec<(PatientId, ImageId, ImageId)>> {
    let mut by: BTreeMap<PatientId, Vec<(Side, ImageId)>> = BTreeMap::new();
    for f in films.values() {
        by.entry(f.record.patient)
            .or_default()
            .push((film_side(dataset, f.id)?, f.id));
    }
    by.into_iter()
        .map(|(p, v)| {
            let right: Vec<ImageId> = v
                .iter()
                .filter(|(s, _)| *s == Side::Right)
                .map(|x| x.1)
                .collect();
            let left: Vec<ImageId> = v
                .iter()
                .filter(|(s, _)| *s == Side::Left)
                .map(|x| x.1)
                .collect();
            if right.len() != 1 || left.len() != 1 {
                bail!(
                    "woman {} has {} right and {} left films: the women model compares exactly \
                     one right with one left film per woman (set `headline = \"ensemble\"` and \
                     leave `[women]` out of the lesion config for this collection)",
                    dataset.patient_name(p),
                    right.len(),
                    left.len()
                );
            }
            Ok((p, right[0], left[0]))
        })
        .collect()
}

/// What extraction did for one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMaps {
    /// The layer.
    pub layer: String,
    /// Cells per side.
    pub grid: usize,
    /// Channels per cell.
    pub channels: usize,
    /// Maps asked for (one per film, turned chest wall left).
    pub maps: usize,
    /// Maps the backbone computed (the rest came from the cache).
    pub computed: usize,
    /// Of those, maps whose cache entry was damaged and has been replaced.
    #[serde(default)]
    pub replaced: usize,
    /// Seconds inside the backbone for the computed maps.
    pub compute_seconds: f64,
    /// Seconds of the whole layer (cache reads and region means included).
    pub seconds: f64,
    /// The process's peak resident memory after this layer (Linux `VmHWM`), MiB.
    pub peak_rss_mib: Option<f64>,
    /// The feature cache directory of these maps.
    pub cache: String,
}

/// The process's peak resident set size so far, MiB (Linux only).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Region means of every film, per (layer, grid, registration): films in woman order (film
/// `2w` is woman `w`'s right breast, `2w + 1` her left), each `grid^2 x channels` values.
pub struct RegionStore {
    /// Channels per layer.
    pub channels: BTreeMap<DenseLayer, usize>,
    /// By (layer, grid, registration), by film.
    pub means: BTreeMap<(DenseLayer, usize, Registration), Vec<Vec<f32>>>,
}

impl RegionStore {
    /// The region features of `setting` for film `f`: per region, the layers' channels side
    /// by side.
    pub fn film(&self, setting: &Setting, f: usize) -> Vec<f32> {
        let r2 = setting.grid * setting.grid;
        let dims: Vec<usize> = setting.layers.iter().map(|l| self.channels[l]).collect();
        let dim: usize = dims.iter().sum();
        let mut out = Vec::with_capacity(r2 * dim);
        for region in 0..r2 {
            for (layer, &d) in setting.layers.iter().zip(&dims) {
                let m = &self.means[&(*layer, setting.grid, setting.registration)][f];
                out.extend_from_slice(&m[region * d..(region + 1) * d]);
            }
        }
        out
    }

    /// Channels of `setting`.
    pub fn dim(&self, setting: &Setting) -> usize {
        setting.layers.iter().map(|l| self.channels[l]).sum()
    }
}

/// Maps, masks and region means of `films` (in woman order: right, left of each woman).
pub fn extract(
    ex: &Extraction<'_>,
    member: &Member,
    cfg: &WomenConfig,
    films: &[ImageId],
    mut progress: impl FnMut(usize),
) -> anyhow::Result<(RegionStore, Vec<LayerMaps>)> {
    let ds = ex.dataset;
    let layers = cfg.layer_set()?;
    /// A film turned chest wall left: its view, breast mask and extent, and width.
    struct Turned {
        view: u32,
        extent: Extent,
        mask: BreastMask,
        width: u32,
    }
    // Once per film (films in parallel: decoding and masking a film is all serial work).
    let turned: Vec<Turned> = films
        .par_iter()
        .map(|&id| -> anyhow::Result<Turned> {
            let name = ds.name(id);
            let view = view_of(film_side(ds, id)?);
            let image = ds
                .image(id)
                .with_context(|| format!("reading image {name}"))?;
            let turned = map_view(&image, view);
            let mask = BreastMask::mini_mias(&turned)
                .with_context(|| format!("breast mask of {name} turned chest wall left"))?;
            let extent =
                Extent::of(&mask).with_context(|| format!("{name}: the breast mask is empty"))?;
            Ok(Turned {
                view,
                extent,
                mask,
                width: image.width(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut store = RegionStore {
        channels: BTreeMap::new(),
        means: BTreeMap::new(),
    };
    let mut stats = Vec::new();
    let mut runner = Runner::new(member, ex.device);
    for &layer in &layers {
        let start = std::time::Instant::now();
        let spec = MapSpec {
            side: ex.side,
            layer,
        };
        let key = dense_key(member, spec, ds);
        let grid = spec.grid(member);
        let dim = spec.channels(member);
        store.channels.insert(layer, dim);
        let (mut computed, mut replaced) = (0, 0);
        let mut compute_seconds = 0.0;
        for (&id, film) in films.iter().zip(&turned) {
            let name = ds.name(id);
            let item = [(id, film.view)];
            let fetched = ex.cache.get_or_compute(
                &key,
                &item,
                dim * grid * grid,
                1,
                |wanted| {
                    let t = std::time::Instant::now();
                    // Decoded only when the cache lacks the map.
                    let image = ds
                        .image(id)
                        .with_context(|| format!("reading image {name}"))?;
                    let maps = wanted
                        .iter()
                        .map(|&(_, view)| {
                            runner.dense_map(&image, spec, view).with_context(|| {
                                format!("{} {layer} dense map of {name}", member.kind)
                            })
                        })
                        .collect();
                    compute_seconds += t.elapsed().as_secs_f64();
                    maps
                },
                &mut progress,
            )?;
            computed += fetched.computed;
            replaced += fetched.replaced;
            let map = &fetched.vectors[0];
            let cell_grid = CellGrid::new(film.width, grid as u32)
                .with_context(|| format!("cell grid of {name}"))?;
            let breast: Vec<bool> = film.mask.cells(&cell_grid)?.into_values();
            for &r in &cfg.grids {
                for &reg in &cfg.registrations {
                    let assigned = regions::assign(&film.extent, film.width, grid, &breast, r, reg);
                    store
                        .means
                        .entry((layer, r, reg))
                        .or_default()
                        .push(regions::means(map, dim, grid, &assigned, r));
                }
            }
        }
        stats.push(LayerMaps {
            layer: layer.name().to_string(),
            grid,
            channels: dim,
            maps: films.len(),
            computed,
            replaced,
            compute_seconds,
            seconds: start.elapsed().as_secs_f64(),
            peak_rss_mib: peak_rss_mib(),
            cache: ex.cache.dir(&key)?.display().to_string(),
        });
    }
    Ok((store, stats))
}

/// Per region and channel, sums over the normal training films: counts of present values,
/// sums and sums of squares (NaN values, regions a film lacks, are left out).
#[derive(Clone, Debug)]
pub struct Normative {
    n: Vec<u32>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

/// The floor of a normative standard deviation.
pub const SD_FLOOR: f64 = 1e-3;

impl Normative {
    /// The sums over `films` (each `len` values).
    pub fn fit(films: &[&[f32]], len: usize) -> Self {
        let mut n = vec![0u32; len];
        let mut s1 = vec![0.0; len];
        let mut s2 = vec![0.0; len];
        for f in films {
            for (k, &v) in f.iter().enumerate() {
                if !v.is_nan() {
                    let v = f64::from(v);
                    n[k] += 1;
                    s1[k] += v;
                    s2[k] += v * v;
                }
            }
        }
        Normative { n, s1, s2 }
    }

    /// z of `x` against the sums without the films `left_out` (the woman's own films when
    /// she is among the normal training women; empty otherwise): `(x - mean) / max(sd, 1e-3)`
    /// with the population sd; NaN where `x` or the mean is (no film left to count).
    pub fn z(&self, x: &[f32], left_out: &[&[f32]]) -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(k, &v)| {
                let (mut n, mut s1, mut s2) = (self.n[k], self.s1[k], self.s2[k]);
                for o in left_out {
                    let w = o[k];
                    if !w.is_nan() {
                        let w = f64::from(w);
                        n -= 1;
                        s1 -= w;
                        s2 -= w * w;
                    }
                }
                if v.is_nan() || n == 0 {
                    return f32::NAN;
                }
                let mean = s1 / f64::from(n);
                let var = (s2 / f64::from(n) - mean * mean).max(0.0);
                let sd = var.sqrt().max(SD_FLOOR);
                ((f64::from(v) - mean) / sd) as f32
            })
            .collect()
    }
}

/// Per channel, the largest value of `f(region values)` over regions where it is not NaN; 0
/// where no region has one.
fn max_over_regions(values: &[f32], regions: usize, dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|c| {
            let m = (0..regions)
                .map(|r| values[r * dim + c])
                .filter(|v| !v.is_nan())
                .fold(f32::NEG_INFINITY, f32::max);
            if m.is_finite() { m } else { 0.0 }
        })
        .collect()
}

/// Per channel, the largest |a - b| over the regions both have (`a`, `b`: `regions x dim`).
pub fn asym(a: &[f32], b: &[f32], regions: usize, dim: usize) -> Vec<f32> {
    let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    max_over_regions(&d, regions, dim)
}

/// A breast's own deviation from normal: per channel the largest |z| over the regions, then
/// the largest over the regions of the mean of z^2 over the channels present (`dim + 1`
/// values).
pub fn own(z: &[f32], regions: usize, dim: usize) -> Vec<f32> {
    let abs: Vec<f32> = z.iter().map(|v| v.abs()).collect();
    let mut out = max_over_regions(&abs, regions, dim);
    let per_region: Vec<f32> = (0..regions)
        .map(|r| {
            let present: Vec<f64> = z[r * dim..(r + 1) * dim]
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| f64::from(v) * f64::from(v))
                .collect();
            if present.is_empty() {
                f32::NAN
            } else {
                (present.iter().sum::<f64>() / present.len() as f64) as f32
            }
        })
        .collect();
    out.extend(max_over_regions(&per_region, regions, 1));
    out
}

/// The features of every woman of one setting in one outer fold.
pub struct FoldFeatures {
    /// Per woman: `asym`.
    pub asym: Vec<Vec<f32>>,
    /// Per woman: `zasym`.
    pub zasym: Vec<Vec<f32>>,
    /// Per woman: `own` (the larger of her breasts', per feature).
    pub own_woman: Vec<Vec<f32>>,
    /// Per film (woman order: right, left): `own`.
    pub own_film: Vec<Vec<f32>>,
}

/// The features of `women` (indices into `x`'s women: films `2w`, `2w + 1`), the normative
/// statistics from the films of `normal_train` women only, each of those women scored against
/// the others (leave one woman out).
pub fn fold_features(
    x: &[Vec<f32>],
    regions: usize,
    dim: usize,
    women: &[usize],
    normal_train: &BTreeSet<usize>,
) -> FoldFeatures {
    let normal_films: Vec<&[f32]> = normal_train
        .iter()
        .flat_map(|&w| [x[2 * w].as_slice(), x[2 * w + 1].as_slice()])
        .collect();
    let norm = Normative::fit(&normal_films, regions * dim);
    let mut out = FoldFeatures {
        asym: Vec::new(),
        zasym: Vec::new(),
        own_woman: Vec::new(),
        own_film: Vec::new(),
    };
    for &w in women {
        let (r, l) = (&x[2 * w], &x[2 * w + 1]);
        let left_out: Vec<&[f32]> = if normal_train.contains(&w) {
            vec![r, l]
        } else {
            vec![]
        };
        let (zr, zl) = (norm.z(r, &left_out), norm.z(l, &left_out));
        let (or, ol) = (own(&zr, regions, dim), own(&zl, regions, dim));
        out.asym.push(asym(r, l, regions, dim));
        out.zasym.push(asym(&zr, &zl, regions, dim));
        out.own_woman
            .push(or.iter().zip(&ol).map(|(a, b)| a.max(*b)).collect());
        out.own_film.push(or);
        out.own_film.push(ol);
    }
    out
}

impl FoldFeatures {
    /// Row `i` (the `i`-th woman given to [`fold_features`]) of a feature set.
    pub fn row(&self, set: FeatureSet, i: usize) -> Vec<f32> {
        let (a, b) = match set {
            FeatureSet::Asym => return self.asym[i].clone(),
            FeatureSet::AsymOwn => (&self.asym[i], &self.own_woman[i]),
            FeatureSet::ZasymOwn => (&self.zasym[i], &self.own_woman[i]),
        };
        a.iter().chain(b).copied().collect()
    }

    /// Film `j`'s side features: its own minus its other breast's.
    pub fn side_row(&self, j: usize) -> Vec<f32> {
        let other = j ^ 1;
        self.own_film[j]
            .iter()
            .zip(&self.own_film[other])
            .map(|(a, b)| a - b)
            .collect()
    }
}

/// The women model's out-of-fold scores.
#[derive(Clone, Debug)]
pub struct WomenOutcome {
    /// Name in tables.
    pub name: String,
    /// Out-of-fold score of every woman (mean probability over the candidates).
    pub woman_scores: BTreeMap<PatientId, f64>,
    /// Out-of-fold score of every film.
    pub film_scores: BTreeMap<ImageId, f64>,
    /// Candidates averaged.
    pub candidates: usize,
    /// L-BFGS fits (women and side models of every outer fold).
    pub fits: Fits,
    /// L-BFGS fits of the inner cross-validations that set the thresholds (counted; one that
    /// stopped at the cap is not refused, as for the cell classifiers' inner fits).
    pub inner_fits: Fits,
    /// Outer fits that stopped at the iteration cap, named.
    pub unconverged: Vec<String>,
    /// Each outer fold's threshold: Youden's J on its training women's inner out-of-fold
    /// woman scores.
    pub thresholds: Vec<f64>,
    /// The threshold of every film (its outer fold's).
    pub threshold_of: BTreeMap<ImageId, f64>,
    /// Map extraction per layer.
    pub maps: Vec<LayerMaps>,
    /// Seconds of the models (after the maps).
    pub model_seconds: f64,
}

/// The probability of a logit.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn fit(
    rows: &[f32],
    dim: usize,
    labels: &[bool],
    c: f64,
    cfg: &WomenConfig,
) -> anyhow::Result<LogisticRegression> {
    let y: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
    let lc = LogisticConfig {
        c,
        tol: cfg.tol,
        max_iter: cfg.max_iter,
        ..LogisticConfig::default()
    };
    Ok(LogisticRegression::fit(rows, dim, &y, None, &lc)?)
}

/// What one fit of a setting's models on `train` gives `test` (indices of women): per test
/// woman the sum over the setting's candidates of sigmoid(woman logit), per test film (right,
/// left) of sigmoid(woman logit + side logit).
struct Part {
    woman: Vec<f64>,
    film: Vec<f64>,
}

/// The labels a fit needs: per film (right, left of each woman) and per woman.
struct Labels<'a> {
    film: &'a [bool],
    woman: &'a [bool],
}

/// Fits the side model and every candidate of `setting` on the women `train` (normative
/// statistics from its normal women only) and scores the women `test`. `what` names the fit in
/// errors and in the list of unconverged fits.
#[allow(clippy::too_many_arguments)]
fn fit_and_score(
    cfg: &WomenConfig,
    setting: &Setting,
    cands: &[&Candidate],
    x: &[Vec<f32>],
    dim: usize,
    labels: &Labels<'_>,
    (train, test): (&[usize], &[usize]),
    what: &str,
    fits: &mut Fits,
    unconverged: &mut Vec<String>,
) -> anyhow::Result<Part> {
    let regions = setting.grid * setting.grid;
    let normal: BTreeSet<usize> = train
        .iter()
        .copied()
        .filter(|&w| !labels.woman[w])
        .collect();
    if normal.is_empty() || normal.len() == train.len() {
        bail!("{what}: the training women hold a single class");
    }
    let all: Vec<usize> = train.iter().chain(test).copied().collect();
    let feats = fold_features(x, regions, dim, &all, &normal);
    let (ntr, nte) = (train.len(), test.len());
    let mut check = |model: &LogisticRegression, name: String| {
        fits.add(model.report().converged);
        if !model.report().converged {
            unconverged.push(name);
        }
    };
    // Side model on the training films.
    let side_rows: Vec<f32> = (0..2 * ntr).flat_map(|j| feats.side_row(j)).collect();
    let side_y: Vec<bool> = train
        .iter()
        .flat_map(|&w| [labels.film[2 * w], labels.film[2 * w + 1]])
        .collect();
    let side = fit(&side_rows, dim + 1, &side_y, cfg.side_c, cfg)
        .with_context(|| format!("side model, {}, {what}", setting.name()))?;
    check(&side, format!("side model {} {what}", setting.name()));
    let test_side_rows: Vec<f32> = (2 * ntr..2 * (ntr + nte))
        .flat_map(|j| feats.side_row(j))
        .collect();
    let side_logits = side.decision_function(&test_side_rows)?;
    let ytr: Vec<bool> = train.iter().map(|&w| labels.woman[w]).collect();
    let mut part = Part {
        woman: vec![0.0; nte],
        film: vec![0.0; 2 * nte],
    };
    for cand in cands {
        let rows: Vec<f32> = (0..ntr).flat_map(|i| feats.row(cand.features, i)).collect();
        let d = rows.len() / ntr;
        let name = format!(
            "women model {} {} C = {}, {what}",
            setting.name(),
            cand.features.name(),
            cand.c
        );
        let model = fit(&rows, d, &ytr, cand.c, cfg).with_context(|| name.clone())?;
        check(&model, name);
        let test_rows: Vec<f32> = (ntr..ntr + nte)
            .flat_map(|i| feats.row(cand.features, i))
            .collect();
        let logits = model.decision_function(&test_rows)?;
        for i in 0..nte {
            part.woman[i] += sigmoid(logits[i]);
            for s in 0..2 {
                part.film[2 * i + s] += sigmoid(logits[i] + side_logits[2 * i + s]);
            }
        }
    }
    Ok(part)
}

/// The women model over the outer folds (`folds`: each fold's test films; both films of a
/// woman in one fold), `abnormal` the label of every film. `inner` lists each outer fold's inner folds (train, test films, grouped
/// by woman inside its training women): the same candidates fitted on each inner training set
/// score its inner test women, and Youden's J on those inner out-of-fold woman scores sets
/// the fold's threshold, as the cell classifiers' thresholds are set.
#[allow(clippy::too_many_arguments)]
pub fn run(
    cfg: &WomenConfig,
    store: &RegionStore,
    women: &[(PatientId, ImageId, ImageId)],
    abnormal: &BTreeMap<ImageId, bool>,
    folds: &[Vec<ImageId>],
    inner: &[Vec<(Vec<ImageId>, Vec<ImageId>)>],
    name: String,
    maps: Vec<LayerMaps>,
) -> anyhow::Result<WomenOutcome> {
    let start = std::time::Instant::now();
    let settings = cfg.settings()?;
    let candidates = cfg.candidates()?;
    let n = women.len();
    let film_label: Vec<bool> = women
        .iter()
        .flat_map(|(_, r, l)| [r, l])
        .map(|id| {
            abnormal
                .get(id)
                .copied()
                .with_context(|| format!("film #{} has no label", id.ordinal()))
        })
        .collect::<anyhow::Result<_>>()?;
    let yw: Vec<bool> = (0..n)
        .map(|w| film_label[2 * w] || film_label[2 * w + 1])
        .collect();
    let labels = Labels {
        film: &film_label,
        woman: &yw,
    };
    let woman_of: BTreeMap<ImageId, usize> = women
        .iter()
        .enumerate()
        .flat_map(|(w, (_, r, l))| [(*r, w), (*l, w)])
        .collect();
    // The women of a list of films (both films of a woman always travel together).
    let women_in = |ids: &[ImageId]| -> anyhow::Result<Vec<usize>> {
        let set: BTreeSet<usize> =
            ids.iter()
                .map(|id| {
                    woman_of.get(id).copied().with_context(|| {
                        format!("film #{} belongs to no paired woman", id.ordinal())
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        Ok(set.into_iter().collect())
    };
    let fold_of_film: BTreeMap<ImageId, usize> = folds
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.iter().map(move |&id| (id, i)))
        .collect();
    let fold_of_woman: Vec<usize> = women
        .iter()
        .map(
            |(p, r, l)| match (fold_of_film.get(r).copied(), fold_of_film.get(l).copied()) {
                (Some(a), Some(b)) if a == b => Ok(a),
                _ => bail!("woman #{}: her films are not in one outer fold", p.0),
            },
        )
        .collect::<anyhow::Result<_>>()?;
    if inner.len() != folds.len() {
        bail!(
            "{} outer folds but inner folds for {}",
            folds.len(),
            inner.len()
        );
    }
    let inner_women: Vec<Vec<(Vec<usize>, Vec<usize>)>> = inner
        .iter()
        .map(|f| {
            f.iter()
                .map(|(tr, te)| Ok((women_in(tr)?, women_in(te)?)))
                .collect::<anyhow::Result<_>>()
        })
        .collect::<anyhow::Result<_>>()?;
    /// One fit of a setting: an outer fold's (`inner` `None`) or one of its inner folds'.
    struct Job {
        fold: usize,
        inner: Option<usize>,
        train: Vec<usize>,
        test: Vec<usize>,
    }
    let mut woman_sum = vec![0.0f64; n];
    let mut film_sum = vec![0.0f64; 2 * n];
    // Per outer fold, every training woman's inner out-of-fold sum.
    let mut inner_sum: Vec<BTreeMap<usize, f64>> = vec![BTreeMap::new(); folds.len()];
    let mut fits = Fits::default();
    let mut inner_fits = Fits::default();
    let mut unconverged = Vec::new();
    let mut inner_unconverged = Vec::new();
    for setting in &settings {
        let x: Vec<Vec<f32>> = (0..2 * n).map(|f| store.film(setting, f)).collect();
        let dim = store.dim(setting);
        let cands: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| settings[c.setting] == *setting)
            .collect();
        // The setting's fits (each outer fold, then its inner folds) run in parallel, each
        // alone too small to use both cores; their parts are added in this order afterwards,
        // so the sums are bit for bit the sequential loop's.
        let mut jobs = Vec::new();
        // One entry per outer fold (checked above).
        for (fold, inner) in inner_women.iter().enumerate() {
            let train: Vec<usize> = (0..n).filter(|&w| fold_of_woman[w] != fold).collect();
            let test: Vec<usize> = (0..n).filter(|&w| fold_of_woman[w] == fold).collect();
            if test.is_empty() {
                continue;
            }
            jobs.push(Job {
                fold,
                inner: None,
                train,
                test,
            });
            for (j, (itrain, itest)) in inner.iter().enumerate() {
                jobs.push(Job {
                    fold,
                    inner: Some(j),
                    train: itrain.clone(),
                    test: itest.clone(),
                });
            }
        }
        let done: Vec<anyhow::Result<(Part, Fits, Vec<String>)>> = jobs
            .par_iter()
            .map(|job| {
                let what = match job.inner {
                    None => format!("outer fold {}", job.fold + 1),
                    Some(j) => format!("outer fold {}, inner fold {}", job.fold + 1, j + 1),
                };
                let (mut fits, mut unconverged) = (Fits::default(), Vec::new());
                let part = fit_and_score(
                    cfg,
                    setting,
                    &cands,
                    &x,
                    dim,
                    &labels,
                    (&job.train, &job.test),
                    &what,
                    &mut fits,
                    &mut unconverged,
                )?;
                Ok((part, fits, unconverged))
            })
            .collect();
        for (job, result) in jobs.iter().zip(done) {
            // The first error in the loop's order, whichever job failed first in time.
            let (part, job_fits, job_unconverged) = result?;
            match job.inner {
                None => {
                    for (i, &w) in job.test.iter().enumerate() {
                        woman_sum[w] += part.woman[i];
                        film_sum[2 * w] += part.film[2 * i];
                        film_sum[2 * w + 1] += part.film[2 * i + 1];
                    }
                    fits = fits.plus(job_fits);
                    unconverged.extend(job_unconverged);
                }
                Some(_) => {
                    for (i, &w) in job.test.iter().enumerate() {
                        *inner_sum[job.fold].entry(w).or_default() += part.woman[i];
                    }
                    inner_fits = inner_fits.plus(job_fits);
                    inner_unconverged.extend(job_unconverged);
                }
            }
        }
    }
    let k = candidates.len() as f64;
    let mut woman_scores = BTreeMap::new();
    let mut film_scores = BTreeMap::new();
    for (w, (p, r, l)) in women.iter().enumerate() {
        woman_scores.insert(*p, woman_sum[w] / k);
        film_scores.insert(*r, film_sum[2 * w] / k);
        film_scores.insert(*l, film_sum[2 * w + 1] / k);
    }
    let thresholds: Vec<f64> = inner_sum
        .iter()
        .enumerate()
        .map(|(fold, sums)| {
            let (y, s): (Vec<bool>, Vec<f64>) =
                sums.iter().map(|(&w, &sum)| (yw[w], sum / k)).unzip();
            Ok(mias_eval::youden_threshold(&y, &s)
                .with_context(|| {
                    format!(
                        "the women model's threshold of outer fold {}: inner out-of-fold scores",
                        fold + 1
                    )
                })?
                .threshold)
        })
        .collect::<anyhow::Result<_>>()?;
    let threshold_of: BTreeMap<ImageId, f64> = women
        .iter()
        .enumerate()
        .flat_map(|(w, (_, r, l))| {
            let t = thresholds[fold_of_woman[w]];
            [(*r, t), (*l, t)]
        })
        .collect();
    Ok(WomenOutcome {
        name,
        woman_scores,
        film_scores,
        candidates: candidates.len(),
        fits,
        inner_fits,
        unconverged,
        thresholds,
        threshold_of,
        maps,
        model_seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The women model's leakage canary: the held-out women of outer fold 1 get other labels,
    /// and some of them other features; the fold's threshold and the scores of those whose
    /// features did not change stay bit-identical (their models saw none of the fold's women:
    /// normative statistics, standardisation and fits all come from its training women).
    #[test]
    fn held_out_women_reach_no_fit_of_their_fold() {
        const WOMEN: usize = 30;
        let cfg = WomenConfig {
            backbone: "vgg16".into(),
            layers: vec!["last".into()],
            grids: vec![2],
            registrations: vec![Registration::Bbox],
            features: vec![FeatureSet::Asym, FeatureSet::AsymOwn],
            c_grid: vec![0.1],
            side_c: 0.01,
            tol: 1e-6,
            max_iter: 500,
        };
        let id = |i: usize| ImageId::from_index(i).unwrap();
        let women: Vec<(PatientId, ImageId, ImageId)> = (0..WOMEN)
            .map(|w| (PatientId(w as u32 + 1), id(2 * w), id(2 * w + 1)))
            .collect();
        // Outer fold of woman w: w % 3; inner folds inside the training women: (w / 3) % 2.
        let films_of = |ws: &[usize]| -> Vec<ImageId> {
            ws.iter()
                .flat_map(|&w| [id(2 * w), id(2 * w + 1)])
                .collect()
        };
        let folds: Vec<Vec<ImageId>> = (0..3)
            .map(|f| films_of(&(0..WOMEN).filter(|w| w % 3 == f).collect::<Vec<_>>()))
            .collect();
        let inner: Vec<Vec<(Vec<ImageId>, Vec<ImageId>)>> = (0..3)
            .map(|f| {
                let train: Vec<usize> = (0..WOMEN).filter(|w| w % 3 != f).collect();
                (0..2)
                    .map(|j| {
                        let (te, tr): (Vec<usize>, Vec<usize>) =
                            train.iter().partition(|&&w| (w / 3) % 2 == j);
                        (films_of(&tr), films_of(&te))
                    })
                    .collect()
            })
            .collect();
        // Two channels, 2 x 2 regions; an abnormal breast (women 0 and 1 mod 5, alternating
        // sides) has its first region raised on channel 0. Noise from a fixed integer hash.
        let noise = |f: usize, k: usize, salt: usize| -> f32 {
            let h = (f * 7919 + k * 104_729 + salt * 1_299_709) % 1000;
            h as f32 / 1000.0 - 0.5
        };
        let build = |changed: bool| {
            let mut abnormal = BTreeMap::new();
            let mut means = Vec::new();
            for w in 0..WOMEN {
                let held_out = w % 3 == 0;
                let sick = w % 5 < 2;
                // Fold 1's held-out women change labels, and those with w % 6 == 3 their
                // features too.
                let relabelled = changed && held_out;
                let salt = usize::from(relabelled && w % 6 == 3);
                for side in 0..2 {
                    let f = 2 * w + side;
                    let lesion = sick && side == (w / 2) % 2;
                    let label = if relabelled {
                        !sick && side == 0
                    } else {
                        lesion
                    };
                    abnormal.insert(id(f), label);
                    let mut m: Vec<f32> = (0..8).map(|k| noise(f, k, salt)).collect();
                    if lesion {
                        m[0] += 2.0;
                    }
                    means.push(m);
                }
            }
            let store = RegionStore {
                channels: BTreeMap::from([(DenseLayer::Last, 2)]),
                means: BTreeMap::from([((DenseLayer::Last, 2, Registration::Bbox), means)]),
            };
            (store, abnormal)
        };
        let run_on = |changed: bool| {
            let (store, abnormal) = build(changed);
            run(
                &cfg,
                &store,
                &women,
                &abnormal,
                &folds,
                &inner,
                "canary".into(),
                Vec::new(),
            )
            .unwrap()
        };
        let (a, b) = (run_on(false), run_on(true));
        assert_eq!(a.thresholds[0].to_bits(), b.thresholds[0].to_bits());
        let mut same = 0;
        for w in (0..WOMEN).filter(|w| w % 3 == 0 && w % 6 != 3) {
            let p = PatientId(w as u32 + 1);
            assert_eq!(
                a.woman_scores[&p].to_bits(),
                b.woman_scores[&p].to_bits(),
                "woman {w}"
            );
            for f in [2 * w, 2 * w + 1] {
                assert_eq!(
                    a.film_scores[&id(f)].to_bits(),
                    b.film_scores[&id(f)].to_bits(),
                    "film {f}"
                );
            }
            same += 1;
        }
        assert_eq!(same, 5);
        // The canary is alive: the women whose features changed moved, and so did the other
        // folds, which trained on the changed women.
        let moved = |w: usize| {
            let p = PatientId(w as u32 + 1);
            a.woman_scores[&p] != b.woman_scores[&p]
        };
        assert!((0..WOMEN).filter(|w| w % 6 == 3).all(moved));
        assert!((0..WOMEN).filter(|w| w % 3 != 0).any(moved));
        assert_ne!(a.thresholds[1].to_bits(), b.thresholds[1].to_bits());
    }

    #[test]
    fn normative_z_leaves_the_woman_out() {
        // One region, one channel; normal films 1, 2, 3, 4 (women A = {1, 2}, B = {3, 4}) and
        // a NaN film. Against all four: mean 2.5, population sd sqrt(1.25) = 1.118034;
        // numpy: (5 - 2.5) / np.std([1, 2, 3, 4]) = 2.2360680.
        // Without woman A (films 3, 4): mean 3.5, sd 0.5: z of 1 = (1 - 3.5) / 0.5 = -5.
        // numpy: (1 - np.mean([3, 4])) / np.std([3, 4]) = -5.0
        let films: [&[f32]; 5] = [&[1.0], &[2.0], &[3.0], &[4.0], &[f32::NAN]];
        let norm = Normative::fit(&films, 1);
        assert!((norm.z(&[5.0], &[]).first().unwrap() - 2.236_068).abs() < 1e-5);
        let z = norm.z(&[1.0], &[&[1.0], &[2.0]]);
        assert!((z[0] + 5.0).abs() < 1e-6, "{z:?}");
        // Identical values: sd 0 floored at 1e-3: (4 - 3) / 1e-3 = 1000.
        let same: [&[f32]; 2] = [&[3.0], &[3.0]];
        let z = Normative::fit(&same, 1).z(&[4.0], &[]);
        assert!((z[0] - 1000.0).abs() < 1e-2, "{z:?}");
        // Nothing left after leaving the woman out: NaN.
        assert!(
            Normative::fit(&same, 1)
                .z(&[3.0], &same)
                .first()
                .unwrap()
                .is_nan()
        );
    }

    #[test]
    fn features_by_hand() {
        // Two regions x two channels; region 1 of the left breast absent (NaN).
        let r = [1.0, 5.0, 2.0, 0.0];
        let l = [4.0, 4.0, f32::NAN, f32::NAN];
        // asym per channel over region 0 only: |1 - 4| = 3, |5 - 4| = 1.
        assert_eq!(asym(&r, &l, 2, 2), [3.0, 1.0]);
        // own of z = r: per channel max |z| = [2, 5]; region means of z^2: (1 + 25) / 2 = 13,
        // (4 + 0) / 2 = 2 -> 13.
        assert_eq!(own(&r, 2, 2), [2.0, 5.0, 13.0]);
        // own of l: [4, 4], region 0 only: (16 + 16) / 2 = 16.
        assert_eq!(own(&l, 2, 2), [4.0, 4.0, 16.0]);
    }

    #[test]
    fn fold_features_use_normal_training_women_only() {
        // One region, one channel; 3 women: 0 and 1 normal in training, 2 abnormal. Films
        // (right, left): w0 (1, 1), w1 (3, 3), w2 (10, 2).
        let x = vec![
            vec![1.0],
            vec![1.0],
            vec![3.0],
            vec![3.0],
            vec![10.0],
            vec![2.0],
        ];
        let normal: BTreeSet<usize> = [0, 1].into();
        let f = fold_features(&x, 1, 1, &[0, 1, 2], &normal);
        // Woman 0 against woman 1 only: mean 3, sd 0 -> 1e-3: z = (1 - 3) / 1e-3 = -2000.
        assert!((f.own_film[0][0] - 2000.0).abs() < 0.1, "{:?}", f.own_film);
        // Woman 2 against both: mean 2, sd 1: z = 8 and 0: own = max(8, 0) = 8; z^2 = 64.
        assert!((f.own_woman[2][0] - 8.0).abs() < 1e-5);
        assert!((f.own_woman[2][1] - 64.0).abs() < 1e-4);
        assert_eq!(f.asym[2], [8.0]);
        assert!((f.zasym[2][0] - 8.0).abs() < 1e-5);
        // Side features: right minus left own.
        assert!((f.side_row(4)[0] - 8.0).abs() < 1e-5);
        assert!((f.side_row(5)[0] + 8.0).abs() < 1e-5);
        // The held-out-style woman 2 does not move the statistics of the normal women.
        let mut x2 = x.clone();
        x2[4] = vec![1000.0];
        let g = fold_features(&x2, 1, 1, &[0, 1, 2], &normal);
        assert_eq!(g.own_film[..4], f.own_film[..4]);
    }

    #[test]
    fn the_grid_of_the_committed_config() {
        let cfg = super::super::LesionConfig::committed().unwrap();
        let w = cfg.women.unwrap();
        let s = w.settings().unwrap();
        assert_eq!(s.len(), 12);
        assert_eq!(s[0].name(), "previous_stage R6 bbox");
        assert_eq!(
            w.layer_set().unwrap(),
            [DenseLayer::PreviousStage, DenseLayer::Last]
        );
        assert_eq!(w.candidates().unwrap().len(), 72);
    }
}
