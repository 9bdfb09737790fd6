//! What the lesion method writes into `results/lesion/`: `metrics.csv` (the long format of the
//! paper method's `metrics.csv`, protocol `honest`, with a `labels` column), `per_class.csv`,
//! `localisation.csv`, `table.md`, `roc.png`/`roc.svg` and `heatmaps/*.png`.
//!
//! Every AUC interval is a percentile bootstrap over women (both breasts of a woman are drawn
//! together); accuracy, sensitivity and specificity are counted at each fold's threshold (chosen
//! on its training women's inner scores) with Wilson intervals.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use image::{GrayImage, Rgb, RgbImage};
use mias_data::{AbnormalityClass, ImageId};
use mias_eval::polars::prelude::{Column, DataFrame};
use mias_eval::{
    EvalConfig, Evaluation, Metrics, RocCurve, RocSeries, Table, metrics_table, write_roc,
};
use serde::Serialize;

use super::{Film, ModelScores, Outcome, Variant, to_unit};

/// Settings of the evaluation.
#[derive(Clone, Copy, Debug)]
pub struct ReportConfig {
    /// Bootstrap replicates over women.
    pub replicates: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Heatmaps per class.
    pub heatmaps_per_class: usize,
}

/// One model's figures.
#[derive(Clone, Debug)]
pub struct ModelEval {
    /// Model name.
    pub name: String,
    /// Pooled out-of-fold figures (AUC from the bootstrap over women).
    pub metrics: Metrics,
}

/// Localisation of one backbone: how often the hottest breast cell of an abnormal film with
/// coordinates lies on a lesion cell.
#[derive(Clone, Debug, Serialize)]
pub struct Localisation {
    /// Model (a backbone; localisation needs a grid).
    pub model: String,
    /// Abnormal films with coordinates.
    pub images: usize,
    /// Of those, films whose hottest breast cell is a lesion cell.
    pub hits: usize,
    /// `hits / images`.
    pub share: f64,
    /// Wilson interval.
    pub ci_low: f64,
    /// Wilson interval.
    pub ci_high: f64,
    /// The share a breast cell drawn at random would hit (the mean share of lesion cells among
    /// breast cells of those films): the chance level.
    pub chance: f64,
}

/// The woman of each of `ids`, for the bootstrap.
fn women(films: &BTreeMap<ImageId, Film>, ids: &[ImageId]) -> Vec<u64> {
    ids.iter()
        .map(|id| films.get(id).map_or(0, |f| u64::from(f.record.patient.0)))
        .collect()
}

impl ReportConfig {
    fn bootstrap(&self) -> mias_eval::Bootstrap {
        mias_eval::Bootstrap {
            replicates: self.replicates,
            seed: self.seed,
        }
    }
}

/// The AUC of real-valued scores with a percentile bootstrap over women (`women[i]` is the
/// woman of item `i`).
pub fn auc_over_women(
    women: &[u64],
    y: &[bool],
    scores: &[f64],
    cfg: &ReportConfig,
) -> anyhow::Result<mias_eval::Estimate> {
    mias_eval::auc_cluster_bootstrap(y, scores, women, 0.95, &cfg.bootstrap())
        .context("AUC interval (bootstrap over women)")
}

/// Pooled figures of one model on `films` (their labels and women).
pub fn evaluate(
    model: &ModelScores,
    films: &BTreeMap<ImageId, Film>,
    cfg: &ReportConfig,
) -> anyhow::Result<ModelEval> {
    let ids: Vec<ImageId> = model.scores.keys().copied().collect();
    let y: Vec<bool> = ids.iter().map(|id| films[id].abnormal).collect();
    let s: Vec<f64> = ids.iter().map(|id| model.scores[id]).collect();
    let thresholds: Vec<f64> = ids.iter().map(|id| model.threshold_of[id]).collect();
    let eval_cfg = EvalConfig {
        bootstrap: cfg.bootstrap(),
        ..EvalConfig::default()
    };
    let metrics = Metrics::at_thresholds(&y, &s, &thresholds, &eval_cfg)
        .with_context(|| format!("figures of {}", model.name))?
        .with_auc(auc_over_women(&women(films, &ids), &y, &s, cfg)?);
    Ok(ModelEval {
        name: model.name.clone(),
        metrics,
    })
}

/// The abnormality classes in Info.txt's order of the README.
pub const CLASSES: [AbnormalityClass; 6] = [
    AbnormalityClass::Calc,
    AbnormalityClass::Circ,
    AbnormalityClass::Spic,
    AbnormalityClass::Arch,
    AbnormalityClass::Asym,
    AbnormalityClass::Misc,
];

/// AUC per abnormality class: films with a lesion of that class against every normal film.
pub fn per_class(outcome: &Outcome, cfg: &ReportConfig) -> anyhow::Result<DataFrame> {
    let (mut model, mut class, mut n_abn, mut n_norm) = (vec![], vec![], vec![], vec![]);
    let (mut auc, mut low, mut high, mut method) = (vec![], vec![], vec![], vec![]);
    for m in &outcome.models {
        for c in CLASSES {
            let ids: Vec<ImageId> = m.scores.keys().copied().collect();
            let y: Vec<bool> = ids.iter().map(|id| outcome.films[id].abnormal).collect();
            let in_class: Vec<bool> = ids
                .iter()
                .map(|id| {
                    let f = &outcome.films[id];
                    f.abnormal && f.classes.contains(&c)
                })
                .collect();
            let s: Vec<f64> = ids.iter().map(|id| m.scores[id]).collect();
            let pos = in_class.iter().filter(|&&v| v).count();
            model.push(m.name.clone());
            class.push(c.code().to_string());
            n_abn.push(pos as u64);
            n_norm.push(y.iter().filter(|&&v| !v).count() as u64);
            let e = mias_eval::class_auc(
                &y,
                &in_class,
                &s,
                &women(&outcome.films, &ids),
                0.95,
                &cfg.bootstrap(),
            )
            .with_context(|| format!("AUC of class {} for {}", c.code(), m.name))?;
            match e {
                Some(e) => {
                    auc.push(Some(e.value));
                    low.push(Some(e.low));
                    high.push(Some(e.high));
                    method.push(e.method.to_string());
                }
                None => {
                    auc.push(None);
                    low.push(None);
                    high.push(None);
                    method.push("undefined (fewer than 2 films)".to_string());
                }
            }
        }
    }
    let height = model.len();
    Ok(DataFrame::new(
        height,
        vec![
            Column::new("model".into(), model),
            Column::new("class".into(), class),
            Column::new("abnormal".into(), n_abn),
            Column::new("normal".into(), n_norm),
            Column::new("auc".into(), auc),
            Column::new("ci_low".into(), low),
            Column::new("ci_high".into(), high),
            Column::new("method".into(), method),
        ],
    )?)
}

/// Localisation of every backbone, from the out-of-fold logits.
pub fn localisation(outcome: &Outcome) -> anyhow::Result<Vec<Localisation>> {
    let mut out = Vec::new();
    for m in &outcome.members {
        let (mut images, mut hits, mut chance) = (0usize, 0usize, 0.0f64);
        for fold in &m.folds {
            for (id, logits) in &fold.test_logits {
                let film = &outcome.films[id];
                if !film.abnormal {
                    continue;
                }
                let Some(Some(lesion)) = m.lesion_cells.get(id) else {
                    continue;
                };
                let Some(best) = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                else {
                    continue;
                };
                images += 1;
                hits += usize::from(lesion[best]);
                let on = lesion.iter().filter(|&&p| p).count();
                chance += on as f64 / lesion.len() as f64;
            }
        }
        let w = mias_eval::wilson(hits as u64, images as u64, 0.95)?;
        out.push(Localisation {
            model: m.member.kind.display_name().to_string(),
            images,
            hits,
            share: w.map_or(f64::NAN, |e| e.value),
            ci_low: w.map_or(f64::NAN, |e| e.low),
            ci_high: w.map_or(f64::NAN, |e| e.high),
            chance: if images > 0 {
                chance / images as f64
            } else {
                f64::NAN
            },
        });
    }
    Ok(out)
}

fn localisation_frame(rows: &[Localisation]) -> anyhow::Result<DataFrame> {
    Ok(DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "model".into(),
                rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "images".into(),
                rows.iter().map(|r| r.images as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "hits".into(),
                rows.iter().map(|r| r.hits as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "share".into(),
                rows.iter().map(|r| r.share).collect::<Vec<_>>(),
            ),
            Column::new(
                "ci_low".into(),
                rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
            ),
            Column::new(
                "ci_high".into(),
                rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
            ),
            Column::new(
                "chance".into(),
                rows.iter().map(|r| r.chance).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

/// Writes every file of `results/lesion/` into `dir`; returns the figures for the headline.
pub fn write(
    dir: &Path,
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
    cfg: &ReportConfig,
) -> anyhow::Result<Vec<ModelEval>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let evals: Vec<ModelEval> = outcome
        .models
        .iter()
        .map(|m| evaluate(m, &outcome.films, cfg))
        .collect::<anyhow::Result<_>>()?;
    let wrapped: Vec<(String, Evaluation)> = evals
        .iter()
        .map(|e| (e.name.clone(), Evaluation::Single(e.metrics.clone())))
        .collect();
    let refs: Vec<(&str, &Evaluation)> = wrapped.iter().map(|(n, e)| (n.as_str(), e)).collect();
    let mut table = metrics_table("honest", &refs)?;
    let labels_col = if outcome.permute_labels.is_some() {
        "permuted"
    } else {
        "real"
    };
    mias_eval::tag_rows(&mut table.frame, "labels", labels_col)?;
    table.write_csv(&dir.join("metrics.csv"))?;
    Table {
        frame: per_class(outcome, cfg)?,
        display: None,
        title: "AUC per abnormality class".into(),
        notes: vec![],
    }
    .write_csv(&dir.join("per_class.csv"))?;
    let loc = localisation(outcome)?;
    Table {
        frame: localisation_frame(&loc)?,
        display: None,
        title: "Localisation".into(),
        notes: vec![],
    }
    .write_csv(&dir.join("localisation.csv"))?;
    mias_core::fs::write_atomic(
        &dir.join("table.md"),
        markdown(outcome, &evals, &loc).as_bytes(),
    )?;
    mias_core::fs::write_atomic(
        &dir.join("predictions.csv"),
        predictions_csv(outcome, dataset).as_bytes(),
    )?;
    roc(dir, outcome, &evals)?;
    heatmaps(&dir.join("heatmaps"), outcome, dataset, cfg)?;
    Ok(evals)
}

/// One row per film: its woman, outer fold, label (and whose label it carries), every model's
/// out-of-fold score and call, and each backbone's hottest breast cell (grid row and column).
/// Films and women are named as `dataset` names them (Mini-MIAS: `mdbNNN` and the woman's
/// number; a collection: the manifest's path and patient).
pub fn predictions_csv(outcome: &Outcome, dataset: &mias_data::Dataset) -> String {
    let woman = |p: mias_data::PatientId| {
        if dataset.is_mini_mias() {
            p.0.to_string()
        } else {
            dataset.patient_name(p)
        }
    };
    let mut s = String::from("image,woman,fold,label,label_from");
    for m in &outcome.models {
        let key = m.name.replace(' ', "_").to_ascii_lowercase();
        s.push_str(&format!(",score_{key},call_{key}"));
    }
    for m in &outcome.members {
        let b = m.member.kind.name();
        s.push_str(&format!(",{b}_grid,{b}_hottest_row,{b}_hottest_col"));
    }
    s.push('\n');
    for (id, film) in &outcome.films {
        let fold = outcome
            .folds
            .iter()
            .find(|f| f.test.contains(id))
            .map_or(String::new(), |f| f.index.to_string());
        s.push_str(&format!(
            "{},{},{fold},{},{}",
            dataset.name(*id),
            woman(film.record.patient),
            u8::from(film.abnormal),
            dataset.name(film.from)
        ));
        for m in &outcome.models {
            match (m.scores.get(id), m.predicted.get(id)) {
                (Some(v), Some(c)) => s.push_str(&format!(",{v},{}", u8::from(*c))),
                _ => s.push_str(",,"),
            }
        }
        for m in &outcome.members {
            let hottest = m
                .folds
                .iter()
                .find_map(|f| f.test_logits.get(id))
                .and_then(|l| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])))
                .map(|i| m.cells[id][i] as usize);
            match hottest {
                Some(c) => s.push_str(&format!(",{},{},{}", m.grid, c / m.grid, c % m.grid)),
                None => s.push_str(&format!(",{},,", m.grid)),
            }
        }
        s.push('\n');
    }
    s
}

fn pct(e: Option<&mias_eval::Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:.1} [{:.1}, {:.1}]",
            100.0 * e.value,
            100.0 * e.low,
            100.0 * e.high
        ),
        None => "n/a".into(),
    }
}

/// The Markdown summary: every model's AUC, sensitivity, specificity and accuracy, the chosen
/// parameters per fold, localisation.
pub fn markdown(outcome: &Outcome, evals: &[ModelEval], loc: &[Localisation]) -> String {
    let mut s = String::new();
    let control = match outcome.permute_labels {
        Some(seed) => format!(
            " **Negative control: labels and lesions permuted over films (seed {seed}); the AUC \
             should sit near 50.**"
        ),
        None => String::new(),
    };
    s.push_str(&format!(
        "# Lesion method, leakage-free protocol\n\nPooled out-of-fold figures over {} films in {} \
         folds grouped by woman; percent with 95% intervals (AUC: bootstrap over women; the \
         rest: Wilson, at each fold's threshold chosen on its training women).{control}\n\n",
        outcome.films.len(),
        outcome.folds.len()
    ));
    s.push_str("| Model | AUC | Sensitivity | Specificity | Accuracy |\n|---|---|---|---|---|\n");
    for e in evals {
        let m = &e.metrics;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.name,
            pct(m.auc.as_ref()),
            pct(m.recall.as_ref()),
            pct(m.specificity.as_ref()),
            pct(Some(&m.accuracy))
        ));
    }
    // The score that chose C and k: the bilateral one when the run computed it.
    let bilateral = outcome
        .members
        .iter()
        .any(|m| m.final_model.calibration.contains_key(&Variant::Bilateral));
    let selection = if bilateral {
        Variant::Bilateral
    } else {
        Variant::Lesion
    };
    s.push_str(&format!(
        "\n## Chosen in each fold by the inner cross-validation\n\n| Backbone | fold | C | k | \
         inner AUC ({}) | training cells (pos / neg) |\n|---|---|---|---|---|---|\n",
        selection.name()
    ));
    for m in &outcome.members {
        for f in &m.folds {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} | {} / {} |\n",
                m.member.kind.display_name(),
                f.fold + 1,
                f.c,
                f.k,
                f.inner_auc,
                f.train_cells.0,
                f.train_cells.1
            ));
        }
    }
    s.push_str("\n## Localisation\n\nShare of abnormal films with coordinates whose hottest breast cell (out of fold) lies on a lesion cell, beside the share a random breast cell would reach.\n\n| Backbone | films | hits | share | chance |\n|---|---|---|---|---|\n");
    for l in loc {
        s.push_str(&format!(
            "| {} | {} | {} | {:.1} [{:.1}, {:.1}] | {:.1} |\n",
            l.model,
            l.images,
            l.hits,
            100.0 * l.share,
            100.0 * l.ci_low,
            100.0 * l.ci_high,
            100.0 * l.chance
        ));
    }
    s
}

/// Every model's out-of-fold ROC curve, its AUC with the bootstrap interval over women
/// (`evals`, in the order of `outcome.models`) in the legend.
fn roc(dir: &Path, outcome: &Outcome, evals: &[ModelEval]) -> anyhow::Result<()> {
    let mut curves = Vec::new();
    for m in &outcome.models {
        let y: Vec<bool> = m
            .scores
            .keys()
            .map(|id| outcome.films[id].abnormal)
            .collect();
        // The ROC curve takes probabilities; the logistic map keeps the order of the scores.
        let s = to_unit(&m.scores.values().copied().collect::<Vec<_>>());
        curves.push((m.name.clone(), RocCurve::from_scores(&y, &s)?));
    }
    let series: Vec<RocSeries<'_>> = curves
        .iter()
        .zip(evals)
        .map(|((name, curve), e)| RocSeries {
            name,
            curve,
            auc: e.metrics.auc.as_ref(),
        })
        .collect();
    for ext in ["png", "svg"] {
        write_roc(
            &dir.join(format!("roc.{ext}")),
            "Lesion method, out of fold",
            &series,
        )?;
    }
    Ok(())
}

/// A colour for a probability: dark blue through red to yellow.
pub fn colour(p: f64) -> [u8; 3] {
    const STOPS: [(f64, [f64; 3]); 4] = [
        (0.0, [20.0, 20.0, 120.0]),
        (0.4, [40.0, 120.0, 220.0]),
        (0.7, [230.0, 40.0, 30.0]),
        (1.0, [255.0, 240.0, 40.0]),
    ];
    let p = p.clamp(0.0, 1.0);
    for w in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if p <= b {
            let t = (p - a) / (b - a);
            return [0, 1, 2].map(|i| (ca[i] + t * (cb[i] - ca[i])).round() as u8);
        }
    }
    [255, 240, 40]
}

/// The film (at half size) with cell probabilities over the breast and the lesion discs drawn.
pub fn heatmap(
    film: &GrayImage,
    grid: usize,
    cells: &[u32],
    probabilities: &[f64],
    discs: &[(f64, f64, f64)],
) -> RgbImage {
    let side = 512u32;
    let small = mias_data::preprocess::resize(
        film,
        side,
        side,
        mias_data::preprocess::Interpolation::Bilinear,
    );
    let mut out = RgbImage::from_fn(side, side, |x, y| {
        let v = small.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    let cell = side as f64 / grid as f64;
    for (&c, &p) in cells.iter().zip(probabilities) {
        let (r, col) = (c as usize / grid, c as usize % grid);
        let colour = colour(p);
        let alpha = 0.55;
        let (y0, y1) = ((r as f64 * cell) as u32, ((r + 1) as f64 * cell) as u32);
        let (x0, x1) = ((col as f64 * cell) as u32, ((col + 1) as f64 * cell) as u32);
        for y in y0..y1.min(side) {
            for x in x0..x1.min(side) {
                let px = out.get_pixel_mut(x, y);
                for i in 0..3 {
                    px[i] = ((1.0 - alpha) * f64::from(px[i]) + alpha * f64::from(colour[i]))
                        .round() as u8;
                }
            }
        }
    }
    let scale = side as f64 / f64::from(film.width());
    for &(row, col, radius) in discs {
        let centre = ((col * scale).round() as i32, (row * scale).round() as i32);
        let r = ((radius * scale).round() as i32).max(2);
        for dr in 0..2 {
            imageproc::drawing::draw_hollow_circle_mut(
                &mut out,
                centre,
                r + dr,
                Rgb([60, 255, 60]),
            );
        }
    }
    out
}

fn heatmaps(
    dir: &Path,
    outcome: &Outcome,
    dataset: &mias_data::Dataset,
    cfg: &ReportConfig,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The first films of each class (and normals) in image order.
    let mut chosen: Vec<(String, ImageId)> = Vec::new();
    let mut take = |name: &str, pred: &dyn Fn(&super::Film) -> bool| {
        for f in outcome
            .films
            .values()
            .filter(|f| pred(f))
            .take(cfg.heatmaps_per_class)
        {
            chosen.push((name.to_string(), f.id));
        }
    };
    take("norm", &|f| !f.abnormal);
    for c in CLASSES {
        let has_coords = |f: &super::Film| f.record.lesions.iter().any(|l| l.centre.is_some());
        take(&c.code().to_ascii_lowercase(), &|f| {
            f.abnormal && f.classes.contains(&c) && has_coords(f)
        });
    }
    for (class, id) in chosen {
        let film = dataset
            .image(id)
            .with_context(|| format!("reading image {}", dataset.name(id)))?;
        let discs: Vec<(f64, f64, f64)> = outcome.films[&id]
            .record
            .lesions
            .iter()
            .filter_map(|l| {
                let c = l.centre?;
                Some((
                    f64::from(c.row),
                    f64::from(c.col),
                    f64::from(l.radius.unwrap_or(0)),
                ))
            })
            .collect();
        for m in &outcome.members {
            let Some(logits) = m.folds.iter().find_map(|f| f.test_logits.get(&id)) else {
                continue;
            };
            let p: Vec<f64> = logits
                .iter()
                .map(|&l| 1.0 / (1.0 + (-f64::from(l)).exp()))
                .collect();
            let img = heatmap(&film, m.grid, &m.cells[&id], &p, &discs);
            let mut bytes = Vec::new();
            image::DynamicImage::ImageRgb8(img)
                .write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .context("encoding a heatmap")?;
            // A collection's image name is a path: its separators become `_` in a file name.
            let image: String = dataset
                .name(id)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let name = format!("{class}_{image}_{}.png", m.member.kind.name());
            mias_core::fs::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}

/// Used by the command to show the headline: `(model, AUC estimate)`.
pub fn headline(evals: &[ModelEval]) -> Vec<(String, Option<mias_eval::Estimate>)> {
    evals
        .iter()
        .map(|e| (e.name.clone(), e.metrics.auc))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_ends() {
        assert_eq!(colour(0.0), [20, 20, 120]);
        assert_eq!(colour(1.0), [255, 240, 40]);
        assert_eq!(colour(2.0), [255, 240, 40]);
    }

    #[test]
    fn heatmap_paints_only_breast_cells_and_draws_discs() {
        let film = GrayImage::from_pixel(1024, 1024, image::Luma([100]));
        // Grid 4 (cells of 128 px on the 512 output); paint cell 5 = (row 1, col 1) hot.
        let img = heatmap(&film, 4, &[5], &[1.0], &[(900.0, 100.0, 40.0)]);
        assert_eq!(img.get_pixel(10, 10).0, [100, 100, 100]); // not a breast cell
        let hot = img.get_pixel(128 + 64, 128 + 64).0; // inside cell (1, 1)
        assert_eq!(
            hot,
            [0, 1, 2].map(|i| (0.45 * 100.0 + 0.55 * f64::from(colour(1.0)[i])).round() as u8)
        );
        // The disc at film (row 900, col 100), radius 40 -> (450, 50), radius 20 at half size.
        assert_eq!(img.get_pixel(50 + 20, 450).0, [60, 255, 60]);
    }
}
