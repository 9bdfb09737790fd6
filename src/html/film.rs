//! The page of one film that `predict --html` writes: each member's and the ensemble's
//! P(abnormal) under the paper's method, the lesion models' calibrated probabilities, and
//! each lesion model's heatmap over the film (the film alone when the run has no lesion
//! models), in the run report's look.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use image::GrayImage;

use super::page::{Cell, Table, escape, facts, figure, page};
use crate::lesion::saved::Verdict;

/// The paper method's probabilities for the film.
#[derive(Clone, Copy, Debug)]
pub struct PaperFigures<'a> {
    /// Each member's name and P(abnormal).
    pub members: &'a [(String, f32)],
    /// The ensemble's P(abnormal).
    pub ensemble: f32,
    /// The run's threshold.
    pub threshold: f64,
}

/// What the page shows.
pub struct FilmPage<'a> {
    /// The image as given on the command line.
    pub image: &'a str,
    /// The run whose models scored it.
    pub run: &'a Path,
    /// Set when the run is a negative control (`--permute-labels SEED`).
    pub control_seed: Option<u64>,
    /// The film in the working frame the models saw.
    pub film: &'a GrayImage,
    /// The paper method's figures, when the run has its heads.
    pub paper: Option<PaperFigures<'a>>,
    /// The lesion models' verdict, when the run has them.
    pub lesion: Option<&'a Verdict>,
}

fn png(img: image::DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .context("encoding a PNG for the page")?;
    Ok(bytes)
}

fn call(p: f32, threshold: f64) -> &'static str {
    if f64::from(p) >= threshold {
        "abnormal"
    } else {
        "normal"
    }
}

/// The page as HTML.
pub fn render_film(f: &FilmPage<'_>) -> anyhow::Result<String> {
    let mut body = String::new();
    let mut items = vec![
        (
            "Image".to_string(),
            format!("<code>{}</code>", escape(f.image)),
        ),
        (
            "Run".to_string(),
            format!("<code>{}</code>", escape(&f.run.display().to_string())),
        ),
        (
            "Working frame".to_string(),
            escape(&format!("{} x {} px", f.film.width(), f.film.height())),
        ),
    ];
    if let Some(seed) = f.control_seed {
        items.push((
            "Negative control".into(),
            escape(&format!(
                "the run learnt labels permuted with seed {seed}: these probabilities mean \
                 nothing about this film"
            )),
        ));
    }
    body.push_str(&format!(
        "<section id=\"film\" aria-labelledby=\"film-h\"><h2 id=\"film-h\">The film</h2>{}",
        facts(&items)
    ));
    if f.control_seed.is_some() {
        body.push_str(
            "<p class=\"warning\">Negative control run: its models learnt permuted labels.</p>",
        );
    }
    body.push_str("</section>\n");

    if let Some(p) = f.paper {
        let mut rows: Vec<Vec<Cell>> = p
            .members
            .iter()
            .map(|(name, prob)| {
                vec![
                    Cell::Text(name.clone()),
                    format!("{prob:.4}").into(),
                    call(*prob, p.threshold).into(),
                ]
            })
            .collect();
        rows.push(vec![
            "Ensemble (mean)".into(),
            format!("{:.4}", p.ensemble).into(),
            call(p.ensemble, p.threshold).into(),
        ]);
        let _ = writeln!(
            body,
            "<section id=\"paper\" aria-labelledby=\"paper-h\"><h2 id=\"paper-h\">The paper's \
             method</h2>{}<p class=\"note\">The final heads, trained on every image of the run; \
             called abnormal at P(abnormal) &ge; {}. What to expect on new films is the honest \
             protocol's estimate in the run's report, not the paper protocol's.</p></section>",
            Table::new(
                "P(abnormal) of each member and of the ensemble",
                &["Model", "P(abnormal)", "Call"],
                rows,
            )
            .numeric([1])
            .with_id("paper-probabilities")
            .render(),
            p.threshold
        );
    }

    if let Some(v) = f.lesion {
        let mut rows: Vec<Vec<Cell>> = v
            .members
            .iter()
            .map(|m| {
                vec![
                    Cell::Text(m.backbone.clone()),
                    format!("{:+.3}", m.score).into(),
                    format!("{:.4}", m.p_abnormal).into(),
                ]
            })
            .collect();
        rows.push(vec![
            "Ensemble".into(),
            "".into(),
            format!("{:.4}", v.ensemble).into(),
        ]);
        let _ = write!(
            body,
            "<section id=\"lesion\" aria-labelledby=\"lesion-h\"><h2 id=\"lesion-h\">The lesion \
             method</h2>{}<p class=\"note\">Score: <code>{}</code>; probabilities calibrated on \
             the run's out-of-fold scores (Platt), so they follow its films' prevalence.</p>",
            Table::new(
                "Score and calibrated P(abnormal) of each lesion model",
                &["Model", "Score", "P(abnormal)"],
                rows,
            )
            .numeric([1, 2])
            .with_id("lesion-probabilities")
            .render(),
            escape(v.variant)
        );
        body.push_str(&super::report::colour_scale());
        body.push_str("<div class=\"heatmaps\">");
        for m in &v.members {
            let (grid, cells, probs) = &m.cells;
            let img = crate::lesion::report::heatmap(f.film, *grid, cells, probs, &[]);
            let bytes = png(image::DynamicImage::ImageRgb8(img))?;
            body.push_str(&figure(
                "image/png",
                &bytes,
                &format!(
                    "Heatmap of the film, {}: each breast cell's probability of lesion over the \
                     film",
                    m.backbone
                ),
                &format!(
                    "{}: cell probabilities ({grid} x {grid} cells)",
                    escape(&m.backbone)
                ),
            ));
        }
        body.push_str("</div></section>\n");
    } else {
        let bytes = png(image::DynamicImage::ImageLuma8(f.film.clone()))?;
        body.push_str(
            "<section id=\"image\" aria-labelledby=\"image-h\"><h2 id=\"image-h\">The image as \
             the models saw it</h2>",
        );
        body.push_str(&figure(
            "image/png",
            &bytes,
            "The film in the working frame the models saw",
            "The run has no lesion models, so no heatmap.",
        ));
        body.push_str("</section>\n");
    }
    let nav: Vec<(String, String)> = [
        Some(("film", "The film")),
        f.paper.as_ref().map(|_| ("paper", "The paper's method")),
        f.lesion.map(|_| ("lesion", "The lesion method")),
    ]
    .into_iter()
    .flatten()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    Ok(page(
        "mias prediction",
        "<p class=\"muted\">Written by <code>mias predict --html</code>.</p>",
        &nav,
        &body,
    ))
}

/// Writes the page to `path`, atomically.
pub fn write_film(path: &Path, f: &FilmPage<'_>) -> anyhow::Result<()> {
    let html = render_film(f)?;
    mias_core::fs::write_atomic(path, html.as_bytes())?;
    Ok(())
}
