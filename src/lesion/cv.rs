//! The lesion method's cross-validation, on cell features already extracted: per outer fold,
//! an inner cross-validation inside the training women chooses the classifier's C and the
//! image score's k and the decision thresholds, then one classifier trained on every
//! training woman scores the held-out women. Nothing of a held-out woman reaches any choice.
//!
//! Scores of an image (view 0, the film as it is):
//! - `lesion`: the mean of the `k` highest cell logits over the breast;
//! - `lesion+bilateral`: that minus the same score of the woman's other breast (both breasts
//!   are always in the same fold, so both are scored by the same model).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use mias_data::{ImageId, rng};

use super::classifier::{self, CellModel};

/// One view of one image on a backbone's cell grid: the breast cells only.
#[derive(Clone, Debug, Default)]
pub struct ViewCells {
    /// Grid index (`row * grid + col`) of each breast cell, ascending.
    pub cells: Vec<u32>,
    /// Features, `cells.len()` rows of the member's `dim` values.
    pub rows: Vec<f32>,
    /// Which breast cells lie on a lesion; `None` when the image's lesions have no coordinates
    /// (and for normal images, whose cells are all negative: see [`ImageCells::abnormal`]).
    pub positive: Option<Vec<bool>>,
}

/// Everything the method knows of one image, for one backbone.
#[derive(Clone, Debug)]
pub struct ImageCells {
    /// The image.
    pub id: ImageId,
    /// The label the experiment uses (permuted under the negative control).
    pub abnormal: bool,
    /// The other breast (same woman and view), which the bilateral score subtracts.
    pub pair: Option<ImageId>,
    /// The film's name in messages (`mdbNNN`, or a collection's path).
    pub name: String,
    /// View 0 (the film) and, for training, view 1 (its horizontal mirror).
    pub views: Vec<ViewCells>,
}

/// One backbone's cells of every image.
#[derive(Clone, Debug)]
pub struct MemberCells {
    /// Features per cell.
    pub dim: usize,
    /// Cells per side of the grid.
    pub grid: usize,
    /// By image.
    pub images: BTreeMap<ImageId, ImageCells>,
}

impl MemberCells {
    /// A film's name in messages (its dataset's name; `#n` for a film these cells lack).
    pub fn name(&self, id: ImageId) -> String {
        self.images
            .get(&id)
            .map_or_else(|| format!("#{}", id.ordinal()), |c| c.name.clone())
    }
}

/// The two image scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Variant {
    /// Top-k mean of the cell logits.
    Lesion,
    /// `Lesion` minus the other breast's.
    Bilateral,
}

impl Variant {
    /// Both, in table order.
    pub const ALL: [Variant; 2] = [Variant::Lesion, Variant::Bilateral];

    /// The suffix in model names (`VGG16 lesion+bilateral`).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Lesion => "lesion",
            Variant::Bilateral => "lesion+bilateral",
        }
    }
}

/// Parameters the inner cross-validation may choose from, and the rest of the recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    /// Candidate C values.
    pub c_grid: Vec<f64>,
    /// Candidate k values.
    pub top_k_grid: Vec<usize>,
    /// Inner folds.
    pub inner_folds: usize,
    /// Negative cells per normal image and view.
    pub negatives_per_view: usize,
    /// L-BFGS tolerance and iteration cap.
    pub solver: (f64, usize),
    /// Seed of the inner folds and the negative draws.
    pub seed: u64,
    /// Whether films are scored against the other breast too (`lesion+bilateral`).
    pub bilateral: bool,
}

impl Recipe {
    /// The scores computed: `lesion`, and `lesion+bilateral` when bilateral.
    pub fn variants(&self) -> &'static [Variant] {
        if self.bilateral {
            &Variant::ALL
        } else {
            &[Variant::Lesion]
        }
    }

    /// The score whose inner AUC chooses C and k: `lesion+bilateral` when bilateral, else
    /// `lesion`.
    pub fn selection(&self) -> Variant {
        if self.bilateral {
            Variant::Bilateral
        } else {
            Variant::Lesion
        }
    }
}

/// What one outer fold gave for one backbone.
#[derive(Clone, Debug)]
pub struct FoldResult {
    /// 0-based outer fold.
    pub fold: usize,
    /// The chosen C.
    pub c: f64,
    /// The chosen k.
    pub k: usize,
    /// Inner out-of-fold AUC of the selection score (`lesion+bilateral`, or `lesion` when not
    /// bilateral) at the chosen pair.
    pub inner_auc: f64,
    /// Inner out-of-fold scores of the training images, per variant (the chosen pair).
    pub inner_scores: BTreeMap<Variant, BTreeMap<ImageId, f64>>,
    /// Scores of the held-out images, per variant.
    pub test_scores: BTreeMap<Variant, BTreeMap<ImageId, f64>>,
    /// Cell logits of each held-out image (view 0, in `ViewCells::cells` order).
    pub test_logits: BTreeMap<ImageId, Vec<f32>>,
    /// Training cells (positive, negative) of the final model.
    pub train_cells: (usize, usize),
    /// L-BFGS fits of the inner cross-validation, and how many of them did not converge.
    pub inner_fits: Fits,
    /// Whether the fold's model (every training woman, the chosen C) converged.
    pub converged: bool,
}

/// Which selection [`run_fold`] makes: an outer fold's (0-based), or the final model's over
/// every film (its folds are the outer folds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// Outer fold `i` (0-based).
    Outer(usize),
    /// The final model.
    Final,
}

impl Fold {
    /// The outer fold's index.
    pub fn outer(self) -> Option<usize> {
        match self {
            Fold::Outer(i) => Some(i),
            Fold::Final => None,
        }
    }
}

impl std::fmt::Display for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fold::Outer(i) => write!(f, "outer fold {}", i + 1),
            Fold::Final => f.write_str("the final model's selection"),
        }
    }
}

/// A count of L-BFGS fits and of those that stopped at the iteration cap without converging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fits {
    /// Fits made.
    pub fits: usize,
    /// Of those, fits that did not converge.
    pub unconverged: usize,
}

impl Fits {
    /// Counts one fit.
    pub fn add(&mut self, converged: bool) {
        self.fits += 1;
        self.unconverged += usize::from(!converged);
    }

    /// The sum of two counts.
    pub fn plus(self, other: Fits) -> Fits {
        Fits {
            fits: self.fits + other.fits,
            unconverged: self.unconverged + other.unconverged,
        }
    }
}

/// The training rows of `images`: every positive breast cell of abnormal images with
/// coordinates, and `negatives_per_view` seeded breast cells of each view of normal images.
/// Abnormal images without coordinates contribute nothing.
pub fn training_rows(
    data: &MemberCells,
    images: &[ImageId],
    negatives_per_view: usize,
    seed: u64,
) -> anyhow::Result<(Vec<f32>, Vec<bool>)> {
    let dim = data.dim;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for &id in images {
        let img = data
            .images
            .get(&id)
            .with_context(|| format!("no cells for image {}", data.name(id)))?;
        for (v, view) in img.views.iter().enumerate() {
            if !img.abnormal {
                let mut order: Vec<usize> = (0..view.cells.len()).collect();
                let mut r = rng::derived(seed, "lesion-negatives", &[id.ordinal(), v as u64]);
                rng::shuffle(&mut order, &mut r);
                order.truncate(negatives_per_view);
                order.sort_unstable();
                for i in order {
                    rows.extend_from_slice(&view.rows[i * dim..(i + 1) * dim]);
                    labels.push(false);
                }
            } else if let Some(positive) = &view.positive {
                for (i, _) in positive.iter().enumerate().filter(|(_, p)| **p) {
                    rows.extend_from_slice(&view.rows[i * dim..(i + 1) * dim]);
                    labels.push(true);
                }
            }
        }
    }
    Ok((rows, labels))
}

/// The mean of the `k` largest values (all of them when there are fewer).
pub fn top_k_mean(logits: &[f32], k: usize) -> f64 {
    if logits.is_empty() {
        return f64::NEG_INFINITY;
    }
    let mut v: Vec<f32> = logits.to_vec();
    v.sort_unstable_by(|a, b| b.total_cmp(a));
    let k = k.min(v.len());
    v[..k].iter().map(|&x| f64::from(x)).sum::<f64>() / k as f64
}

/// `lesion` and (when `bilateral`) `lesion+bilateral` scores of `images` from their view-0
/// logits. For the bilateral score both breasts of every woman must be among `images` (`data`
/// says which film is whose other breast).
pub fn scores(
    data: &MemberCells,
    logits: &BTreeMap<ImageId, Vec<f32>>,
    images: &[ImageId],
    k: usize,
    bilateral: bool,
) -> anyhow::Result<BTreeMap<Variant, BTreeMap<ImageId, f64>>> {
    let lesion: BTreeMap<ImageId, f64> = images
        .iter()
        .map(|&id| {
            let l = logits
                .get(&id)
                .with_context(|| format!("no logits for image {}", data.name(id)))?;
            Ok((id, top_k_mean(l, k)))
        })
        .collect::<anyhow::Result<_>>()?;
    if !bilateral {
        return Ok(BTreeMap::from([(Variant::Lesion, lesion)]));
    }
    let mut bilateral = BTreeMap::new();
    for (&id, &s) in &lesion {
        let name = |id: ImageId| data.name(id);
        let other = data.images.get(&id).and_then(|c| c.pair).with_context(|| {
            format!(
                "image {} has no other breast in the dataset (one image of the same woman and \
                 view, other side): the bilateral score needs both (set \
                 `classifier.bilateral = false` in the lesion config to score films alone)",
                name(id)
            )
        })?;
        let o = lesion.get(&other).with_context(|| {
            format!(
                "image {} is scored without its other breast {}",
                name(id),
                name(other)
            )
        })?;
        bilateral.insert(id, s - o);
    }
    Ok(BTreeMap::from([
        (Variant::Lesion, lesion),
        (Variant::Bilateral, bilateral),
    ]))
}

/// View-0 cell logits of `images` under `model`.
pub fn logits_of(
    model: &CellModel,
    data: &MemberCells,
    images: &[ImageId],
) -> anyhow::Result<BTreeMap<ImageId, Vec<f32>>> {
    images
        .iter()
        .map(|&id| {
            let img = data
                .images
                .get(&id)
                .with_context(|| format!("no cells for image {}", data.name(id)))?;
            let view = img
                .views
                .first()
                .with_context(|| format!("image {} has no view", img.name))?;
            Ok((id, model.logits(&view.rows)?))
        })
        .collect()
}

/// Trains on `images`.
pub fn fit(
    data: &MemberCells,
    images: &[ImageId],
    c: f64,
    recipe: &Recipe,
) -> anyhow::Result<(CellModel, (usize, usize))> {
    let (rows, labels) = training_rows(data, images, recipe.negatives_per_view, recipe.seed)?;
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        bail!(
            "the cell classifier needs positive and negative cells: {pos} positive, {neg} negative \
             among {} training images",
            images.len()
        );
    }
    let model = classifier::fit(&rows, data.dim, &labels, c, recipe.solver)?;
    Ok((model, (pos, neg)))
}

/// AUC of scores for the labelled images (labels from `data`); `None` with a single class.
pub fn auc_of(data: &MemberCells, scores: &BTreeMap<ImageId, f64>) -> Option<f64> {
    let (y, s): (Vec<bool>, Vec<f64>) = scores
        .iter()
        .filter_map(|(id, &s)| data.images.get(id).map(|img| (img.abnormal, s)))
        .unzip();
    super::auc_unbounded(&y, &s)
}

/// Cell logits of films, by film.
pub type Logits = BTreeMap<ImageId, Vec<f32>>;

/// The inner cross-validation inside `train` (`inner` lists its folds as (train, test)):
/// inner out-of-fold logits for every C. Returns, per C, the logits of every training image,
/// and the fits made.
fn inner_logits(
    data: &MemberCells,
    inner: &[(Vec<ImageId>, Vec<ImageId>)],
    recipe: &Recipe,
) -> anyhow::Result<(Vec<Logits>, Fits)> {
    let mut per_c = Vec::with_capacity(recipe.c_grid.len());
    let mut fits = Fits::default();
    for &c in &recipe.c_grid {
        let mut all = BTreeMap::new();
        for (itrain, itest) in inner {
            let (model, _) = fit(data, itrain, c, recipe)?;
            fits.add(model.converged());
            all.extend(logits_of(&model, data, itest)?);
        }
        per_c.push(all);
    }
    Ok((per_c, fits))
}

/// What the inner cross-validation chose.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The chosen C.
    pub c: f64,
    /// The chosen k.
    pub k: usize,
    /// Inner out-of-fold AUC of the selection score at the chosen pair.
    pub inner_auc: f64,
    /// Inner out-of-fold scores of the training images, per variant (the chosen pair).
    pub inner_scores: BTreeMap<Variant, BTreeMap<ImageId, f64>>,
    /// L-BFGS fits of the inner cross-validation.
    pub inner_fits: Fits,
}

/// The inner selection of (C, k) inside `train` (`inner` lists its folds) by the inner
/// out-of-fold AUC of the recipe's selection score (`lesion+bilateral`, or `lesion` alone; ties
/// keep the earlier pair in grid order: smaller C, then smaller k, as the grids are listed).
/// `fold` names the selection in errors.
pub fn select(
    data: &MemberCells,
    fold: Fold,
    train: &[ImageId],
    inner: &[(Vec<ImageId>, Vec<ImageId>)],
    recipe: &Recipe,
) -> anyhow::Result<Selection> {
    let (per_c, inner_fits) = inner_logits(data, inner, recipe)?;
    let mut best: Option<(f64, usize, usize)> = None; // (auc, c index, k)
    for (ci, logits) in per_c.iter().enumerate() {
        for &k in &recipe.top_k_grid {
            let s = scores(data, logits, train, k, recipe.bilateral)?;
            let Some(a) = auc_of(data, &s[&recipe.selection()]) else {
                bail!("{fold}: the inner folds hold a single class");
            };
            if best.is_none_or(|(b, _, _)| a > b) {
                best = Some((a, ci, k));
            }
        }
    }
    let (inner_auc, ci, k) = best.context("empty parameter grid")?;
    Ok(Selection {
        c: recipe.c_grid[ci],
        k,
        inner_auc,
        inner_scores: scores(data, &per_c[ci], train, k, recipe.bilateral)?,
        inner_fits,
    })
}

/// One outer fold (0-based `fold`) for one backbone: [`select`], then a model of the chosen C
/// on every training image, which scores the held-out images.
pub fn run_fold(
    data: &MemberCells,
    fold: usize,
    train: &[ImageId],
    test: &[ImageId],
    inner: &[(Vec<ImageId>, Vec<ImageId>)],
    recipe: &Recipe,
) -> anyhow::Result<FoldResult> {
    let sel = select(data, Fold::Outer(fold), train, inner, recipe)?;
    let (model, train_cells) = fit(data, train, sel.c, recipe)?;
    let test_logits = logits_of(&model, data, test)?;
    let test_scores = scores(data, &test_logits, test, sel.k, recipe.bilateral)?;
    Ok(FoldResult {
        fold,
        c: sel.c,
        k: sel.k,
        inner_auc: sel.inner_auc,
        inner_scores: sel.inner_scores,
        test_scores,
        test_logits,
        train_cells,
        inner_fits: sel.inner_fits,
        converged: model.converged(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for the synthetic features (splitmix64): the test needs
    /// noise, not a particular stream.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    const GRID: usize = 4;
    const DIM: usize = 3;

    /// Woman `w` has films `2w` (her right breast) and `2w + 1`; every third woman has a lesion
    /// on one breast, whose first four cells are positive and shifted along the first feature
    /// by `shift`. Features are noise of `seed`.
    fn woman(
        images: &mut BTreeMap<ImageId, ImageCells>,
        w: usize,
        abnormal: bool,
        shift: f32,
        seed: u64,
    ) {
        let mut noise = Noise(seed ^ (w as u64) << 8);
        for side in 0..2 {
            let id = ImageId::from_index(2 * w + side).unwrap();
            let pair = ImageId::from_index(2 * w + 1 - side).unwrap();
            let lesion = abnormal && side == w % 2;
            let views = (0..2)
                .map(|_| {
                    let cells: Vec<u32> = (0..(GRID * GRID) as u32).collect();
                    let mut rows = Vec::with_capacity(cells.len() * DIM);
                    for c in 0..cells.len() {
                        for d in 0..DIM {
                            let hot = lesion && c < 4 && d == 0;
                            rows.push(noise.next() + if hot { shift } else { 0.0 });
                        }
                    }
                    let positive = lesion.then(|| (0..cells.len()).map(|c| c < 4).collect());
                    ViewCells {
                        cells,
                        rows,
                        positive,
                    }
                })
                .collect();
            images.insert(
                id,
                ImageCells {
                    id,
                    abnormal: lesion,
                    pair: Some(pair),
                    name: format!("film{}", 2 * w + side),
                    views,
                },
            );
        }
    }

    /// The leakage canary: everything an outer fold chooses (C, k, the inner AUC, the inner
    /// out-of-fold scores and from them the thresholds and the ensemble's standardisation, the
    /// cells and fits of the final model) must not move when the held-out women's features and
    /// labels change; their test scores must.
    #[test]
    fn held_out_women_never_reach_a_choice() {
        const WOMEN: usize = 24;
        let train_women: Vec<usize> = (0..18).collect();
        let test_women: Vec<usize> = (18..WOMEN).collect();
        let build = |test_seed: u64, test_flip: bool| {
            let mut images = BTreeMap::new();
            for w in 0..WOMEN {
                let held_out = test_women.contains(&w);
                let abnormal = if held_out && test_flip {
                    w % 3 != 0
                } else {
                    w % 3 == 0
                };
                let seed = if held_out { test_seed } else { 1 };
                let shift = if held_out && test_flip { -2.0 } else { 1.5 };
                woman(&mut images, w, abnormal, shift, seed);
            }
            MemberCells {
                dim: DIM,
                grid: GRID,
                images,
            }
        };
        let films = |women: &[usize]| -> Vec<ImageId> {
            women
                .iter()
                .flat_map(|&w| [2 * w, 2 * w + 1])
                .map(|i| ImageId::from_index(i).unwrap())
                .collect()
        };
        let train = films(&train_women);
        let test = films(&test_women);
        // Three inner folds by woman inside the training women only.
        let inner: Vec<(Vec<ImageId>, Vec<ImageId>)> = (0..3)
            .map(|f| {
                let (held, kept): (Vec<usize>, Vec<usize>) =
                    train_women.iter().partition(|&&w| (w / 3) % 3 == f);
                (films(&kept), films(&held))
            })
            .collect();
        let recipe = Recipe {
            c_grid: vec![0.01, 0.1, 1.0],
            top_k_grid: vec![1, 4],
            inner_folds: 3,
            negatives_per_view: 6,
            solver: (1e-6, 500),
            seed: 5,
            bilateral: true,
        };
        let a_data = build(1, false);
        let b_data = build(99, true);
        let a = run_fold(&a_data, 0, &train, &test, &inner, &recipe).unwrap();
        let b = run_fold(&b_data, 0, &train, &test, &inner, &recipe).unwrap();

        assert_eq!(a.c.to_bits(), b.c.to_bits());
        assert_eq!(a.k, b.k);
        assert_eq!(a.inner_auc.to_bits(), b.inner_auc.to_bits());
        assert_eq!(a.train_cells, b.train_cells);
        assert_eq!(a.inner_fits, b.inner_fits);
        assert_eq!(a.converged, b.converged);
        let labels: BTreeMap<ImageId, bool> = a_data
            .images
            .iter()
            .map(|(&id, img)| (id, img.abnormal))
            .collect();
        for variant in Variant::ALL {
            let (sa, sb) = (&a.inner_scores[&variant], &b.inner_scores[&variant]);
            assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
            for (id, x) in sa {
                assert_eq!(
                    x.to_bits(),
                    sb[id].to_bits(),
                    "{variant:?} inner score of {id:?}"
                );
            }
            let (ma, sda) = crate::lesion::standardisation(sa);
            let (mb, sdb) = crate::lesion::standardisation(sb);
            assert_eq!((ma.to_bits(), sda.to_bits()), (mb.to_bits(), sdb.to_bits()));
            let ta = crate::lesion::threshold(sa, &labels).unwrap();
            let tb = crate::lesion::threshold(sb, &labels).unwrap();
            assert_eq!(ta.to_bits(), tb.to_bits());
        }
        // The canary is alive: the held-out women did change, and their scores with them.
        let changed = test
            .iter()
            .filter(|id| a.test_scores[&Variant::Lesion][id] != b.test_scores[&Variant::Lesion][id])
            .count();
        assert_eq!(changed, test.len());
        // And the synthetic lesion is learnable, so the choices are not made on noise alone.
        assert!(a.inner_auc > 0.8, "inner AUC {}", a.inner_auc);
    }
}
