//! Figures as PNG and SVG with plotters: ROC curves (several models on one chart, the chance
//! diagonal, the AUC and its interval in the legend; or a grid of such charts, one per group
//! such as a protocol) and confusion matrices (one panel per model, laid out in a grid).
//!
//! Text is drawn with plotters' `ab_glyph` feature from a font embedded in the crate (Roboto
//! Regular, Apache-2.0, subset to Latin-1; see `assets/fonts/README.md`), so the figures look the
//! same everywhere and need no system fonts. PNG files are encoded with the `image` crate; SVG
//! files keep their text as `<text>` elements. Files are written atomically.

use std::path::Path;
use std::sync::OnceLock;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::confusion::ConfusionMatrix;
use crate::error::{Error, Result};
use crate::interval::Estimate;
use crate::roc::RocCurve;
use mias_core::fs::write_atomic;

/// The embedded font (Roboto Regular, Apache-2.0, Latin-1 subset).
static FONT: &[u8] = include_bytes!("../assets/fonts/Roboto-Regular-subset.ttf");
const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters once per process.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Plot(
            "the embedded font could not be parsed".to_string(),
        ))
    }
}

/// Output format, chosen from the file extension by the `write_*` functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Raster PNG.
    Png,
    /// Vector SVG.
    Svg,
}

impl Format {
    /// `png` or `svg` (case-insensitive) from the path's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(Error::InvalidParameter {
                name: "plot file",
                value: path.display().to_string(),
                expected: "a path ending in .png or .svg",
            }),
        }
    }
}

/// Colour-blind-safe palette (Okabe and Ito), cycled over the curves.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// One named ROC curve of a chart.
#[derive(Debug, Clone, Copy)]
pub struct RocSeries<'a> {
    /// Legend name, e.g. `VGG16` or `Ensemble`.
    pub name: &'a str,
    /// The curve.
    pub curve: &'a RocCurve,
    /// The AUC with its interval for the legend; `None` shows the curve's area alone.
    pub auc: Option<&'a Estimate>,
}

impl RocSeries<'_> {
    fn legend(&self) -> String {
        match self.auc {
            Some(e) => format!(
                "{} (AUC {:.3}, {:.0}% CI {:.3}-{:.3})",
                self.name,
                e.value,
                100.0 * e.level,
                e.low,
                e.high
            ),
            None => format!("{} (AUC {:.3})", self.name, self.curve.area()),
        }
    }
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Plot(e.to_string())
}

fn draw_roc<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[RocSeries<'_>],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    roc_chart(root, title, 26, series)?;
    root.present()
}

/// One ROC chart (axes, chance diagonal, curves, legend) on `area`, which is already filled.
fn roc_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    title_size: u32,
    series: &[RocSeries<'_>],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, title_size))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("False positive rate (1 - specificity)")
        .y_desc("True positive rate (sensitivity)")
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    let grey = RGBColor(140, 140, 140);
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            6,
            6,
            grey.stroke_width(1),
        ))?
        .label("Chance (AUC 0.5)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey.stroke_width(1)));
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = s
            .curve
            .fpr
            .iter()
            .copied()
            .zip(s.curve.tpr.iter().copied())
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.legend())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(12)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, 16))
        .draw()?;
    Ok(())
}

/// Renders a ROC chart as PNG bytes (`width` x `height` pixels).
pub fn roc_png(title: &str, series: &[RocSeries<'_>], size: (u32, u32)) -> Result<Vec<u8>> {
    check_series(series)?;
    render_png(size, |root| draw_roc(root, title, series))
}

/// Renders a ROC chart as an SVG document.
pub fn roc_svg(title: &str, series: &[RocSeries<'_>], size: (u32, u32)) -> Result<String> {
    check_series(series)?;
    render_svg(size, |root| draw_roc(root, title, series))
}

/// Writes a ROC chart (800 x 700) to `path`, PNG or SVG by extension, atomically.
pub fn write_roc(path: &Path, title: &str, series: &[RocSeries<'_>]) -> Result<()> {
    let size = (800, 700);
    let bytes = match Format::from_path(path)? {
        Format::Png => roc_png(title, series, size)?,
        Format::Svg => roc_svg(title, series, size)?.into_bytes(),
    };
    Ok(write_atomic(path, &bytes)?)
}

fn check_series(series: &[RocSeries<'_>]) -> Result<()> {
    if series.is_empty() {
        return Err(Error::Empty {
            what: "no ROC curves to plot",
        });
    }
    Ok(())
}

/// One chart of a ROC grid: a group of curves (e.g. one protocol's models) under its title.
#[derive(Debug, Clone, Copy)]
pub struct RocPanel<'a> {
    /// The chart's title, e.g. `honest protocol`.
    pub title: &'a str,
    /// Its curves.
    pub series: &'a [RocSeries<'a>],
}

/// Pixels of one chart of a ROC grid.
const ROC_PANEL: (u32, u32) = (640, 600);

/// Width and height of a grid of `n` panels in `columns` columns (at least 1, at most `n`),
/// under a 50-pixel title band; and the columns and rows used.
fn grid_size(n: usize, columns: usize, panel: (u32, u32)) -> ((u32, u32), (usize, usize)) {
    let cols = columns.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let size = (40 + panel.0 * cols as u32, 50 + panel.1 * rows as u32);
    (size, (cols, rows))
}

fn check_panels_of<T>(items: &[T], what: &'static str, columns: usize) -> Result<()> {
    if items.is_empty() {
        return Err(Error::Empty { what });
    }
    if columns == 0 {
        return Err(Error::InvalidParameter {
            name: "grid columns",
            value: "0".into(),
            expected: "at least 1 column",
        });
    }
    Ok(())
}

fn draw_roc_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[RocPanel<'_>],
    grid: (usize, usize),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = root.titled(title, (FAMILY, 28))?;
    let (cols, rows) = grid;
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
        roc_chart(area, panel.title, 22, panel.series)?;
    }
    root.present()
}

fn check_roc_panels(panels: &[RocPanel<'_>], columns: usize) -> Result<()> {
    check_panels_of(panels, "no ROC charts to plot", columns)?;
    panels.iter().try_for_each(|p| check_series(p.series))
}

/// Renders ROC charts in a grid of `columns` columns (640 x 600 pixels each, rows as needed)
/// as PNG bytes.
pub fn roc_grid_png(title: &str, panels: &[RocPanel<'_>], columns: usize) -> Result<Vec<u8>> {
    check_roc_panels(panels, columns)?;
    let (size, grid) = grid_size(panels.len(), columns, ROC_PANEL);
    render_png(size, |root| draw_roc_grid(root, title, panels, grid))
}

/// Renders ROC charts in a grid of `columns` columns as an SVG document.
pub fn roc_grid_svg(title: &str, panels: &[RocPanel<'_>], columns: usize) -> Result<String> {
    check_roc_panels(panels, columns)?;
    let (size, grid) = grid_size(panels.len(), columns, ROC_PANEL);
    render_svg(size, |root| draw_roc_grid(root, title, panels, grid))
}

/// Writes ROC charts in a grid of `columns` columns to `path`, PNG or SVG by extension,
/// atomically.
pub fn write_roc_grid(
    path: &Path,
    title: &str,
    panels: &[RocPanel<'_>],
    columns: usize,
) -> Result<()> {
    let bytes = match Format::from_path(path)? {
        Format::Png => roc_grid_png(title, panels, columns)?,
        Format::Svg => roc_grid_svg(title, panels, columns)?.into_bytes(),
    };
    Ok(write_atomic(path, &bytes)?)
}

/// One panel of a confusion-matrix figure.
#[derive(Debug, Clone, Copy)]
pub struct ConfusionPanel<'a> {
    /// Panel title, e.g. the model's name.
    pub name: &'a str,
    /// The counts.
    pub matrix: &'a ConfusionMatrix,
}

/// Blue shade for a share of a row in `[0, 1]` (white to dark blue).
fn shade(share: f64) -> RGBColor {
    let s = share.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * s).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 69.0), lerp(255.0, 148.0))
}

fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[ConfusionPanel<'_>],
    grid: (usize, usize),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = root.titled(title, (FAMILY, 26))?;
    let (cols, rows) = grid;
    let areas = body.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        let (w, h) = area.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        let m = panel.matrix;
        // Grid geometry: labels on the left and top, a 2 x 2 grid of square cells.
        let left = 110;
        let top = 80;
        let cell = ((w - left - 20) / 2).min((h - top - 60) / 2).max(10);
        let text = |s: &str, size: i32, pos: (i32, i32), color: &RGBColor| {
            let style = TextStyle::from((FAMILY, size).into_font())
                .color(color)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
            area.draw(&Text::new(s.to_string(), pos, style))
        };
        text(panel.name, 22, (left + cell, 22), &BLACK)?;
        text("Predicted", 17, (left + cell, 48), &BLACK)?;
        for (j, label) in ["normal", "abnormal"].iter().enumerate() {
            text(
                label,
                16,
                (left + cell / 2 + j as i32 * cell, top - 12),
                &BLACK,
            )?;
        }
        // Rows: true normal (tn, fp), true abnormal (fn, tp).
        let rows = [("normal", [m.tn, m.fp]), ("abnormal", [m.fn_, m.tp])];
        for (i, (label, counts)) in rows.iter().enumerate() {
            let y0 = top + i as i32 * cell;
            text(label, 16, (left - 45, y0 + cell / 2), &BLACK)?;
            let row_total: u64 = counts.iter().sum();
            for (j, &count) in counts.iter().enumerate() {
                let x0 = left + j as i32 * cell;
                let share = if row_total > 0 {
                    count as f64 / row_total as f64
                } else {
                    0.0
                };
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    shade(share).filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    BLACK.mix(0.3).stroke_width(1),
                ))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                text(
                    &count.to_string(),
                    30,
                    (x0 + cell / 2, y0 + cell / 2 - 10),
                    &ink,
                )?;
                let pct = if row_total > 0 {
                    format!("{:.1}% of row", 100.0 * share)
                } else {
                    "empty row".to_string()
                };
                text(&pct, 14, (x0 + cell / 2, y0 + cell / 2 + 20), &ink)?;
            }
        }
        text("True", 17, (18, top + cell), &BLACK)?;
        text(
            &format!("n = {}", m.total()),
            15,
            (left + cell, top + 2 * cell + 22),
            &BLACK,
        )?;
    }
    root.present()
}

/// Pixels of one confusion panel.
const CONFUSION_PANEL: (u32, u32) = (380, 390);

/// The columns a confusion figure gets when the caller does not say: every panel in one row
/// up to four, then rows of four.
pub const CONFUSION_COLUMNS: usize = 4;

fn check_panels(panels: &[ConfusionPanel<'_>], columns: usize) -> Result<()> {
    check_panels_of(panels, "no confusion matrices to plot", columns)
}

/// Renders confusion matrices, one panel per model, in rows of [`CONFUSION_COLUMNS`], as PNG
/// bytes.
pub fn confusion_png(title: &str, panels: &[ConfusionPanel<'_>]) -> Result<Vec<u8>> {
    confusion_grid_png(title, panels, CONFUSION_COLUMNS)
}

/// Renders confusion matrices, one panel per model, in rows of [`CONFUSION_COLUMNS`], as an
/// SVG document.
pub fn confusion_svg(title: &str, panels: &[ConfusionPanel<'_>]) -> Result<String> {
    confusion_grid_svg(title, panels, CONFUSION_COLUMNS)
}

/// Renders confusion matrices in a grid of `columns` columns (380 x 390 pixels a panel, rows
/// as needed, under a 50-pixel title) as PNG bytes.
pub fn confusion_grid_png(
    title: &str,
    panels: &[ConfusionPanel<'_>],
    columns: usize,
) -> Result<Vec<u8>> {
    check_panels(panels, columns)?;
    let (size, grid) = grid_size(panels.len(), columns, CONFUSION_PANEL);
    render_png(size, |root| draw_confusion(root, title, panels, grid))
}

/// Renders confusion matrices in a grid of `columns` columns as an SVG document.
pub fn confusion_grid_svg(
    title: &str,
    panels: &[ConfusionPanel<'_>],
    columns: usize,
) -> Result<String> {
    check_panels(panels, columns)?;
    let (size, grid) = grid_size(panels.len(), columns, CONFUSION_PANEL);
    render_svg(size, |root| draw_confusion(root, title, panels, grid))
}

/// Writes confusion matrices to `path`, PNG or SVG by extension, atomically, in rows of
/// [`CONFUSION_COLUMNS`]. Each cell shows the count and its share of the true class's row; the
/// shade follows that share.
pub fn write_confusion(path: &Path, title: &str, panels: &[ConfusionPanel<'_>]) -> Result<()> {
    write_confusion_grid(path, title, panels, CONFUSION_COLUMNS)
}

/// As [`write_confusion`], in a grid of `columns` columns (e.g. one row per protocol).
pub fn write_confusion_grid(
    path: &Path,
    title: &str,
    panels: &[ConfusionPanel<'_>],
    columns: usize,
) -> Result<()> {
    let bytes = match Format::from_path(path)? {
        Format::Png => confusion_grid_png(title, panels, columns)?,
        Format::Svg => confusion_grid_svg(title, panels, columns)?.into_bytes(),
    };
    Ok(write_atomic(path, &bytes)?)
}

/// One line of a [`LinePlot`]: points in order of x, a palette colour, solid or dashed.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Legend name.
    pub name: &'a str,
    /// The points, in order of x.
    pub points: &'a [(f64, f64)],
    /// Index into the colour-blind-safe palette (lines of one family share a colour).
    pub colour: usize,
    /// Dashed instead of solid.
    pub dashed: bool,
}

/// A horizontal band (e.g. a reference figure with its interval) behind the lines.
#[derive(Debug, Clone, Copy)]
pub struct Band<'a> {
    /// Legend name.
    pub name: &'a str,
    /// The figure, drawn as a line across the band.
    pub value: f64,
    /// Lower edge.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
}

/// A line chart: lines over x, optional bands, a dashed reference level (e.g. chance).
#[derive(Debug, Clone, Copy)]
pub struct LinePlot<'a> {
    /// Caption.
    pub title: &'a str,
    /// X axis description.
    pub x_label: &'a str,
    /// Y axis description.
    pub y_label: &'a str,
    /// The y range shown.
    pub y_range: (f64, f64),
    /// The lines.
    pub lines: &'a [Line<'a>],
    /// Bands behind the lines.
    pub bands: &'a [Band<'a>],
    /// A dashed grey level with its legend name.
    pub reference: Option<(&'a str, f64)>,
}

impl LinePlot<'_> {
    fn check(&self) -> Result<()> {
        if self.lines.iter().all(|l| l.points.is_empty()) {
            return Err(Error::Empty {
                what: "no points to plot",
            });
        }
        let (lo, hi) = self.y_range;
        let finite = self
            .lines
            .iter()
            .flat_map(|l| l.points)
            .all(|(x, y)| x.is_finite() && y.is_finite());
        if !(lo.is_finite() && hi.is_finite() && lo < hi && finite) {
            return Err(Error::InvalidParameter {
                name: "line plot",
                value: format!("y range {lo}..{hi}"),
                expected: "a finite range with low < high and finite points",
            });
        }
        Ok(())
    }

    fn x_range(&self) -> (f64, f64) {
        let xs = self.lines.iter().flat_map(|l| l.points).map(|p| p.0);
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if lo < hi {
            (lo, hi)
        } else {
            (lo - 1.0, hi + 1.0)
        }
    }
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &LinePlot<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (x0, x1) = plot.x_range();
    let pad = 0.03 * (x1 - x0);
    let mut chart = ChartBuilder::on(root)
        .caption(plot.title, (FAMILY, 24))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), plot.y_range.0..plot.y_range.1)?;
    chart
        .configure_mesh()
        .x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    let grey = RGBColor(140, 140, 140);
    for band in plot.bands {
        let fill = grey.mix(0.25);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0 - pad, band.low), (x1 + pad, band.high)],
                fill.filled(),
            )))?
            .label(band.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 24, y + 6)], fill.filled()));
        chart.draw_series(LineSeries::new(
            vec![(x0 - pad, band.value), (x1 + pad, band.value)],
            grey.stroke_width(1),
        ))?;
    }
    if let Some((name, level)) = plot.reference {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0 - pad, level), (x1 + pad, level)],
                4,
                6,
                BLACK.mix(0.5).stroke_width(1),
            ))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.5).stroke_width(1))
            });
    }
    for line in plot.lines {
        let color = PALETTE[line.colour % PALETTE.len()];
        let style = color.stroke_width(2);
        let points = line.points.to_vec();
        let marks: Vec<Circle<(f64, f64), i32>> = line
            .points
            .iter()
            .map(|&p| Circle::new(p, 3, color.filled()))
            .collect();
        if line.dashed {
            chart
                .draw_series(DashedLineSeries::new(points, 8, 6, style))?
                .label(line.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 10, y)], color.stroke_width(3))
                });
        } else {
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(line.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
        chart.draw_series(marks)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(12)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, 15))
        .draw()?;
    root.present()
}

/// Writes a line chart (900 x 650) to `path`, PNG or SVG by extension, atomically.
pub fn write_lines(path: &Path, plot: &LinePlot<'_>) -> Result<()> {
    plot.check()?;
    let size = (900, 650);
    let bytes = match Format::from_path(path)? {
        Format::Png => render_png(size, |root| draw_lines(root, plot))?,
        Format::Svg => render_svg(size, |root| draw_lines(root, plot))?.into_bytes(),
    };
    Ok(write_atomic(path, &bytes)?)
}

fn render_png<F>(size: (u32, u32), draw: F) -> Result<Vec<u8>>
where
    F: FnOnce(
        &DrawingArea<BitMapBackend<'_>, Shift>,
    ) -> Result<
        (),
        DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
    >,
{
    ensure_font()?;
    let (w, h) = size;
    if w == 0 || h == 0 || w > 10_000 || h > 10_000 {
        return Err(Error::InvalidParameter {
            name: "plot size",
            value: format!("{w}x{h}"),
            expected: "1 to 10000 pixels each way",
        });
    }
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root).map_err(plot_err)?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Plot(format!("encoding png: {e}")))?;
    Ok(png)
}

fn render_svg<F>(size: (u32, u32), draw: F) -> Result<String>
where
    F: FnOnce(
        &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<
        (),
        DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>,
    >,
{
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root).map_err(plot_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/roc.PNG")).unwrap(),
            Format::Png
        );
        assert_eq!(
            Format::from_path(Path::new("roc.svg")).unwrap(),
            Format::Svg
        );
        assert!(Format::from_path(Path::new("roc.pdf")).is_err());
        assert!(Format::from_path(Path::new("roc")).is_err());
    }

    #[test]
    fn shade_runs_white_to_blue() {
        assert_eq!(shade(0.0), RGBColor(247, 251, 255));
        assert_eq!(shade(1.0), RGBColor(8, 69, 148));
    }
}
