//! Result tables as polars DataFrames, written atomically as CSV and Markdown.
//!
//! - [`metrics_table`]: the long, numeric table (one row per protocol, model and metric) that
//!   every other table is made from; it round-trips through CSV ([`read_csv`]).
//! - [`table2`]: the paper's Table 2 layout (one row per model, percentages with one decimal,
//!   the interval in brackets).
//! - [`table3`]: our figures beside the literature's ([`read_literature`]).
//! - [`compare_protocols`]: two protocols side by side with the difference.
//!
//! Every writer goes through `mias_core::fs::write_atomic`: a temporary file in the
//! destination's directory, synced and renamed over the destination, so a reader never sees a
//! half-written file.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use mias_core::fs::write_atomic;

use polars::prelude::*;

use crate::cv::{CvSummary, FoldStats};
use crate::error::{Error, Result};
use crate::metrics::{Metric, Metrics};

/// One model's evaluation under one protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// One test set (e.g. the paper's split).
    Single(Metrics),
    /// Cross-validation: per-fold figures, their summary, and the pooled figures.
    CrossValidated(CvSummary),
}

impl Evaluation {
    /// The figures over all test cases (pooled out-of-fold predictions for cross-validation).
    pub fn pooled(&self) -> &Metrics {
        match self {
            Evaluation::Single(m) => m,
            Evaluation::CrossValidated(cv) => &cv.pooled,
        }
    }

    /// The summary over folds of one metric (cross-validation only).
    pub fn over_folds(&self, metric: Metric) -> Option<&FoldStats> {
        match self {
            Evaluation::Single(_) => None,
            Evaluation::CrossValidated(cv) => cv.over_folds(metric),
        }
    }
}

/// Which figure of a cross-validated model a formatted table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Figure {
    /// The mean over folds with its Student-t interval where the row has one, else the pooled
    /// figure.
    #[default]
    Auto,
    /// Always the pooled figure with its own interval.
    Pooled,
    /// Always the mean over folds (shown as `n/a` for rows without folds).
    FoldMean,
}

/// A table ready to write: the frame written as CSV, the frame shown in Markdown (often the
/// same), a title and notes printed under the Markdown table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Written by [`Table::write_csv`].
    pub frame: DataFrame,
    /// Shown by [`Table::to_markdown`]; `None` means `frame`.
    pub display: Option<DataFrame>,
    /// Markdown heading.
    pub title: String,
    /// Lines printed under the Markdown table (methods, units).
    pub notes: Vec<String>,
}

impl Table {
    /// The frame rendered in Markdown: `title` as a heading, a pipe table, then the notes.
    /// Floats in a numeric display frame get 4 decimals.
    pub fn to_markdown(&self) -> Result<String> {
        let df = self.display.as_ref().unwrap_or(&self.frame);
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("### {}\n\n", self.title));
        }
        out.push_str(&markdown_table(df, 4)?);
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(note);
                out.push_str("\n\n");
            }
            out.pop();
        }
        Ok(out)
    }

    /// Writes [`Table::frame`] as CSV (header, comma separated, empty cells for nulls),
    /// atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_csv(&self.frame, path)
    }

    /// Writes [`Table::to_markdown`] atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        Ok(write_atomic(path, self.to_markdown()?.as_bytes())?)
    }
}

/// Writes a frame as CSV atomically (`mias_core::fs::write_atomic`).
pub fn write_csv(df: &DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    let mut df = df.clone();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(&mut df)?;
    Ok(write_atomic(path, &buf)?)
}

/// Reads a CSV file with a header into a frame (types inferred from the whole file).
pub fn read_csv(path: &Path) -> Result<DataFrame> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    read_csv_bytes(bytes, None)
}

fn read_csv_bytes(bytes: Vec<u8>, infer_schema_length: Option<usize>) -> Result<DataFrame> {
    Ok(CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(infer_schema_length)
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()?)
}

/// Renders a frame as a Markdown pipe table. Strings are escaped (`|`), floats get `decimals`
/// decimals, nulls are empty; numeric columns are right-aligned.
pub fn markdown_table(df: &DataFrame, decimals: usize) -> Result<String> {
    let columns = df.columns();
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(columns.len());
    let mut numeric = Vec::with_capacity(columns.len());
    for col in columns {
        let dtype = col.dtype();
        numeric.push(dtype.is_primitive_numeric());
        let rendered: Vec<String> = if dtype.is_float() {
            col.cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.map(|x| format!("{x:.decimals$}")).unwrap_or_default())
                .collect()
        } else {
            col.cast(&DataType::String)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or("").replace('|', "\\|").replace('\n', " "))
                .collect()
        };
        cells.push(rendered);
    }
    let mut out = String::new();
    out.push('|');
    for col in columns {
        out.push_str(&format!(" {} |", col.name().replace('|', "\\|")));
    }
    out.push_str("\n|");
    for &num in &numeric {
        out.push_str(if num { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for row in 0..df.height() {
        out.push('|');
        for col in &cells {
            out.push_str(&format!(" {} |", col[row]));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Column names of [`metrics_table`], in order.
pub const METRICS_COLUMNS: [&str; 14] = [
    "protocol",
    "model",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "level",
    "method",
    "folds",
    "fold_mean",
    "fold_sd",
    "fold_ci_low",
    "fold_ci_high",
];

/// The long numeric table: one row per model and metric, in [`Metric::ALL`] order.
///
/// Columns ([`METRICS_COLUMNS`]): `protocol`; `model`; `metric` ([`Metric::name`]); `value`,
/// `ci_low`, `ci_high` (fractions, the pooled figure for cross-validation); `n` (cases the
/// figure rests on: the proportion's denominator, all cases for F1 and AUC); `level`; `method`
/// (interval method); and for cross-validation `folds`, `fold_mean`, `fold_sd`, `fold_ci_low`,
/// `fold_ci_high` (Student-t), null otherwise. An undefined figure (e.g. precision with nothing
/// predicted abnormal, or the AUC of hard predictions) has null value and interval and method
/// `undefined`.
pub fn metrics_table(protocol: &str, models: &[(&str, &Evaluation)]) -> Result<Table> {
    if models.is_empty() {
        return Err(Error::Empty { what: "no models" });
    }
    let mut protocol_col = Vec::new();
    let mut model_col = Vec::new();
    let mut metric_col = Vec::new();
    let (mut value, mut low, mut high) = (Vec::new(), Vec::new(), Vec::new());
    let (mut n, mut level, mut method) = (Vec::new(), Vec::new(), Vec::new());
    let (mut folds, mut fmean, mut fsd, mut flow, mut fhigh) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (model, eval) in models {
        for metric in Metric::ALL {
            protocol_col.push(protocol.to_string());
            model_col.push(model.to_string());
            metric_col.push(metric.name().to_string());
            let e = eval.pooled().get(metric);
            value.push(e.map(|e| e.value));
            low.push(e.map(|e| e.low));
            high.push(e.map(|e| e.high));
            n.push(e.map(|e| e.n));
            level.push(e.map(|e| e.level));
            method.push(e.map_or_else(|| "undefined".to_string(), |e| e.method.to_string()));
            let s = eval.over_folds(metric);
            folds.push(s.map(|s| s.values.len() as u64));
            fmean.push(s.map(|s| s.mean));
            fsd.push(s.map(|s| s.sd));
            flow.push(s.map(|s| s.interval.low));
            fhigh.push(s.map(|s| s.interval.high));
        }
    }
    let height = protocol_col.len();
    let c = METRICS_COLUMNS;
    let frame = DataFrame::new(
        height,
        vec![
            Column::new(c[0].into(), protocol_col),
            Column::new(c[1].into(), model_col),
            Column::new(c[2].into(), metric_col),
            Column::new(c[3].into(), value),
            Column::new(c[4].into(), low),
            Column::new(c[5].into(), high),
            Column::new(c[6].into(), n),
            Column::new(c[7].into(), level),
            Column::new(c[8].into(), method),
            Column::new(c[9].into(), folds),
            Column::new(c[10].into(), fmean),
            Column::new(c[11].into(), fsd),
            Column::new(c[12].into(), flow),
            Column::new(c[13].into(), fhigh),
        ],
    )?;
    Ok(Table {
        frame,
        display: None,
        title: format!("Metrics, {protocol} protocol"),
        notes: vec![
            "Values are fractions. value/ci_low/ci_high: the figure over all test cases (pooled \
             out-of-fold predictions under cross-validation) and its interval; fold_*: mean, \
             standard deviation and Student-t interval over folds."
                .to_string(),
        ],
    })
}

/// Stacks several [`metrics_table`] frames (e.g. the `paper` and `honest` protocols) into one.
pub fn stack(frames: &[&DataFrame]) -> Result<DataFrame> {
    let (first, rest) = frames
        .split_first()
        .ok_or(Error::Empty { what: "no tables" })?;
    let mut out = (*first).clone();
    for df in rest {
        out.vstack_mut(df)?;
    }
    Ok(out)
}

/// One row of a metrics frame, read back with tolerant types (a CSV round trip may turn an
/// all-null column into strings).
#[derive(Debug, Clone, PartialEq)]
struct MetricRow {
    protocol: String,
    model: String,
    metric: Metric,
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    level: Option<f64>,
    method: String,
    folds: Option<f64>,
    fold_mean: Option<f64>,
    fold_low: Option<f64>,
    fold_high: Option<f64>,
}

fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name)
        .map_err(|_| Error::Table(format!("missing column `{name}`")))
}

fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let col = column(df, name)?;
    let cast = col.cast(&DataType::Float64).map_err(|e| {
        Error::Table(format!(
            "column `{name}` is not numeric ({}): {e}",
            col.dtype()
        ))
    })?;
    Ok(cast.f64()?.iter().collect())
}

fn str_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let col = column(df, name)?.cast(&DataType::String)?;
    Ok(col.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

fn metric_rows(df: &DataFrame) -> Result<Vec<MetricRow>> {
    let protocol = str_column(df, "protocol")?;
    let model = str_column(df, "model")?;
    let metric = str_column(df, "metric")?;
    let method = str_column(df, "method")?;
    let value = f64_column(df, "value")?;
    let low = f64_column(df, "ci_low")?;
    let high = f64_column(df, "ci_high")?;
    let level = f64_column(df, "level")?;
    let folds = f64_column(df, "folds")?;
    let fold_mean = f64_column(df, "fold_mean")?;
    let fold_low = f64_column(df, "fold_ci_low")?;
    let fold_high = f64_column(df, "fold_ci_high")?;
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let text = |v: &[Option<String>], name: &str| {
            v[i].clone()
                .ok_or_else(|| Error::Table(format!("row {}: `{name}` is empty", i + 1)))
        };
        let metric_name = text(&metric, "metric")?;
        let metric = metric_name
            .parse::<Metric>()
            .map_err(|_| Error::Table(format!("row {}: unknown metric `{metric_name}`", i + 1)))?;
        rows.push(MetricRow {
            protocol: text(&protocol, "protocol")?,
            model: text(&model, "model")?,
            metric,
            value: value[i],
            low: low[i],
            high: high[i],
            level: level[i],
            method: method[i].clone().unwrap_or_default(),
            folds: folds[i],
            fold_mean: fold_mean[i],
            fold_low: fold_low[i],
            fold_high: fold_high[i],
        });
    }
    Ok(rows)
}

/// The figure a formatted table shows for one row: (value, low, high, uses fold mean).
fn shown(row: &MetricRow, figure: Figure) -> Option<(f64, f64, f64, bool)> {
    let fold = match (row.fold_mean, row.fold_low, row.fold_high) {
        (Some(v), Some(l), Some(h)) => Some((v, l, h, true)),
        _ => None,
    };
    let pooled = match (row.value, row.low, row.high) {
        (Some(v), Some(l), Some(h)) => Some((v, l, h, false)),
        _ => None,
    };
    match figure {
        Figure::Auto => fold.or(pooled),
        Figure::Pooled => pooled,
        Figure::FoldMean => fold,
    }
}

/// Formats a fraction as a percentage with one decimal.
pub fn percent(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// Formats a figure as the paper's tables do, in percent with its interval:
/// `97.3 [95.1, 98.6]`.
pub fn percent_with_interval(value: f64, low: f64, high: f64) -> String {
    format!("{} [{}, {}]", percent(value), percent(low), percent(high))
}

/// Models in first-appearance order and their rows of one protocol.
fn by_model(rows: &[MetricRow], protocol: &str) -> Vec<(String, Vec<MetricRow>)> {
    let mut out: Vec<(String, Vec<MetricRow>)> = Vec::new();
    for r in rows.iter().filter(|r| r.protocol == protocol) {
        match out.iter_mut().find(|(m, _)| *m == r.model) {
            Some((_, v)) => v.push(r.clone()),
            None => out.push((r.model.clone(), vec![r.clone()])),
        }
    }
    out
}

fn single_protocol(rows: &[MetricRow], protocol: Option<&str>) -> Result<String> {
    let mut names: Vec<&str> = rows.iter().map(|r| r.protocol.as_str()).collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    match protocol {
        Some(p) if names.contains(&p) => Ok(p.to_string()),
        Some(p) => Err(Error::Table(format!(
            "no rows for protocol `{p}` (have: {})",
            names.join(", ")
        ))),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(Error::Table(format!(
            "several protocols ({}): name one",
            names.join(", ")
        ))),
    }
}

/// One note line per metric naming how its intervals were computed, e.g.
/// `AUC: DeLong`; `Accuracy: Wilson score (pooled); Student t over 5 folds (fold mean)`.
fn method_notes(rows: &[&MetricRow], figure: Figure) -> Vec<String> {
    let mut per_metric: BTreeMap<Metric, Vec<String>> = BTreeMap::new();
    for r in rows {
        let Some((_, _, _, fold)) = shown(r, figure) else {
            continue;
        };
        let text = if fold {
            format!(
                "Student t over {} folds (mean over folds)",
                r.folds.unwrap_or(0.0)
            )
        } else {
            r.method.clone()
        };
        let v = per_metric.entry(r.metric).or_default();
        if !v.contains(&text) {
            v.push(text);
        }
    }
    per_metric
        .iter()
        .map(|(m, v)| format!("- {}: {}", m.label(), v.join("; ")))
        .collect()
}

/// The paper's Table 2 layout for one protocol: columns `Model`, `Accuracy`, `Precision`,
/// `Recall`, `F1`, `Specificity`, `AUC`; cells like `97.3 [95.1, 98.6]` (percent, one decimal,
/// the interval in brackets) or `n/a` when undefined. Notes name the interval method of each
/// figure.
///
/// `metrics` is a [`metrics_table`] frame (or several [`stack`]ed, or one read back with
/// [`read_csv`]); `protocol` may be `None` when it holds one protocol only.
pub fn table2(metrics: &DataFrame, protocol: Option<&str>, figure: Figure) -> Result<Table> {
    let rows = metric_rows(metrics)?;
    let protocol = single_protocol(&rows, protocol)?;
    let models = by_model(&rows, &protocol);
    let mut model_col = Vec::new();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); Metric::ALL.len()];
    let mut used: Vec<&MetricRow> = Vec::new();
    for (model, mrows) in &models {
        model_col.push(model.clone());
        for (k, metric) in Metric::ALL.into_iter().enumerate() {
            let row = mrows.iter().find(|r| r.metric == metric);
            let cell = row.and_then(|r| shown(r, figure)).map_or_else(
                || "n/a".to_string(),
                |(v, l, h, _)| percent_with_interval(v, l, h),
            );
            if let Some(r) = row {
                used.push(r);
            }
            cols[k].push(cell);
        }
    }
    let mut columns = vec![Column::new("Model".into(), model_col)];
    for (metric, values) in Metric::ALL.into_iter().zip(cols) {
        columns.push(Column::new(metric.label().into(), values));
    }
    let frame = DataFrame::new(models.len(), columns)?;
    let mut notes = vec![format!(
        "Figures in percent, {} confidence interval in brackets. Interval methods:",
        level_text(&used)
    )];
    notes.push(method_notes(&used, figure).join("\n"));
    Ok(Table {
        frame,
        display: None,
        title: format!("Table 2: {protocol} protocol"),
        notes,
    })
}

/// The confidence level of the rows shown, e.g. `95%` (all rows of one run share it).
fn level_text(rows: &[&MetricRow]) -> String {
    let mut levels: Vec<String> = Vec::new();
    for r in rows {
        if let Some(l) = r.level {
            let t = format!("{}%", percent_trimmed(l));
            if !levels.contains(&t) {
                levels.push(t);
            }
        }
    }
    if levels.is_empty() {
        "95%".to_string()
    } else {
        levels.join("/")
    }
}

fn percent_trimmed(x: f64) -> String {
    let p = 100.0 * x;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p:.1}")
    }
}

/// A figure quoted in the literature, as stored in `data/literature.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Quoted {
    /// Not reported.
    #[default]
    Missing,
    /// One figure in percent, with the text as written (keeps its decimals, e.g. `98.53`).
    Value(f64, String),
    /// A range in percent written `low-high` (e.g. `94-98`).
    Range(f64, f64),
}

impl Quoted {
    /// The cell shown in Table 3: the text as written, a range with an en dash, `—` if missing.
    pub fn display(&self) -> String {
        match self {
            Quoted::Missing => "\u{2014}".to_string(),
            Quoted::Value(_, text) => text.clone(),
            Quoted::Range(lo, hi) => format!("{lo}\u{2013}{hi}"),
        }
    }
}

/// One row of `data/literature.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiteratureRow {
    /// Who reports the figures (e.g. `Laaffat et al.`).
    pub source: String,
    /// Citation as given in the paper (e.g. `[16]`).
    pub reference: String,
    /// Accuracy, precision, recall, F1, specificity, AUC, in [`Metric::ALL`] order.
    pub figures: [Quoted; 6],
    /// Free text.
    pub note: String,
}

/// Columns of `data/literature.csv`, in order.
pub const LITERATURE_COLUMNS: [&str; 9] = [
    "source",
    "reference",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "auc",
    "note",
];

fn parse_quoted(text: &str) -> std::result::Result<Quoted, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Quoted::Missing);
    }
    let number = |s: &str| -> std::result::Result<f64, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{t}` is not a percentage, a range `low-high` or empty"))?;
        if (0.0..=100.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!("`{t}` is outside 0..=100 (figures are in percent)"))
        }
    };
    match t.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (number(lo)?, number(hi)?);
            if lo > hi {
                return Err(format!("range `{t}` has its low end above its high end"));
            }
            Ok(Quoted::Range(lo, hi))
        }
        None => Ok(Quoted::Value(number(t)?, t.to_string())),
    }
}

/// Reads `data/literature.csv`: the header must be exactly [`LITERATURE_COLUMNS`]; each figure
/// is a percentage (`95`, `98.53`), a range `low-high` (`94-98`) or empty (not reported).
/// Errors name the file, line and column.
pub fn read_literature(path: &Path) -> Result<Vec<LiteratureRow>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    parse_literature(&bytes, path)
}

/// As [`read_literature`], from the file's bytes (e.g. embedded with `include_str!`); `path`
/// names the source in errors.
pub fn parse_literature(bytes: &[u8], path: &Path) -> Result<Vec<LiteratureRow>> {
    let bytes = bytes.to_vec();
    // Every column as text: schema inference over zero rows.
    let df = read_csv_bytes(bytes, Some(0)).map_err(|e| Error::Csv {
        path: path.to_path_buf(),
        line: 1,
        column: String::new(),
        message: e.to_string(),
    })?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if names != LITERATURE_COLUMNS {
        return Err(Error::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: names.join(","),
            message: format!("expected the header {}", LITERATURE_COLUMNS.join(",")),
        });
    }
    let cols = LITERATURE_COLUMNS
        .iter()
        .map(|c| str_column(&df, c))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(df.height());
    for (i, _) in cols[0].iter().enumerate() {
        let line = i + 2;
        let cell = |k: usize| cols[k][i].clone().unwrap_or_default();
        let source = cell(0);
        if source.trim().is_empty() {
            return Err(Error::Csv {
                path: path.to_path_buf(),
                line,
                column: "source".to_string(),
                message: "empty".to_string(),
            });
        }
        let mut figures: [Quoted; 6] = Default::default();
        for (k, slot) in figures.iter_mut().enumerate() {
            *slot = parse_quoted(&cell(k + 2)).map_err(|message| Error::Csv {
                path: path.to_path_buf(),
                line,
                column: LITERATURE_COLUMNS[k + 2].to_string(),
                message,
            })?;
        }
        rows.push(LiteratureRow {
            source,
            reference: cell(1),
            figures,
            note: cell(8),
        });
    }
    Ok(rows)
}

/// Table 3: our figures beside the literature's. Columns `Source`, `Reference`, the six metric
/// labels, `Note`. Literature figures are shown as quoted (percent); ours, for each
/// `(protocol, model)` in `ours`, as in [`table2`] with source `This work` and reference
/// `<model>, <protocol> protocol`.
pub fn table3(
    literature: &[LiteratureRow],
    metrics: &DataFrame,
    ours: &[(&str, &str)],
    figure: Figure,
) -> Result<Table> {
    let rows = metric_rows(metrics)?;
    let mut source = Vec::new();
    let mut reference = Vec::new();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); Metric::ALL.len()];
    let mut note = Vec::new();
    for lit in literature {
        source.push(lit.source.clone());
        reference.push(lit.reference.clone());
        for (k, q) in lit.figures.iter().enumerate() {
            cols[k].push(q.display());
        }
        note.push(lit.note.clone());
    }
    let mut used = Vec::new();
    for &(protocol, model) in ours {
        let mine: Vec<&MetricRow> = rows
            .iter()
            .filter(|r| r.protocol == protocol && r.model == model)
            .collect();
        if mine.is_empty() {
            return Err(Error::Table(format!(
                "no rows for model `{model}` under protocol `{protocol}`"
            )));
        }
        source.push("This work".to_string());
        reference.push(format!("{model}, {protocol} protocol"));
        for (k, metric) in Metric::ALL.into_iter().enumerate() {
            let row = mine.iter().find(|r| r.metric == metric);
            cols[k].push(row.and_then(|r| shown(r, figure)).map_or_else(
                || "n/a".to_string(),
                |(v, l, h, _)| percent_with_interval(v, l, h),
            ));
            if let Some(r) = row {
                used.push(*r);
            }
        }
        note.push(
            if mine.iter().any(|r| shown(r, figure).is_some_and(|s| s.3)) {
                "mean over folds"
            } else {
                "all test cases"
            }
            .to_string(),
        );
    }
    let height = source.len();
    let mut columns = vec![
        Column::new("Source".into(), source),
        Column::new("Reference".into(), reference),
    ];
    for (metric, values) in Metric::ALL.into_iter().zip(cols) {
        columns.push(Column::new(metric.label().into(), values));
    }
    columns.push(Column::new("Note".into(), note));
    let frame = DataFrame::new(height, columns)?;
    let mut notes = vec![format!(
        "Figures in percent. Literature figures as quoted by Laaffat et al. (a range is \
             written low\u{2013}high; \u{2014}: not reported). This work: {} confidence \
             interval in brackets. Interval methods:",
        level_text(&used)
    )];
    notes.push(method_notes(&used, figure).join("\n"));
    Ok(Table {
        frame,
        display: None,
        title: "Table 3: comparison with the literature".to_string(),
        notes,
    })
}

/// Two protocols side by side: one row per model (present in either) and metric, with each
/// protocol's figure and interval and the difference `b - a`.
///
/// The CSV frame is numeric (fractions): `model`, `metric`, `<a>`, `<a>_ci_low`, `<a>_ci_high`,
/// `<b>`, `<b>_ci_low`, `<b>_ci_high`, `difference`; the Markdown shows `Model`, `Metric`, `<a>`,
/// `<b>` as in [`table2`] and `Difference (pp)` in percentage points with one decimal.
pub fn compare_protocols(metrics: &DataFrame, a: &str, b: &str, figure: Figure) -> Result<Table> {
    if a == b {
        return Err(Error::InvalidParameter {
            name: "protocols to compare",
            value: format!("{a} and {b}"),
            expected: "two different protocols",
        });
    }
    let rows = metric_rows(metrics)?;
    single_protocol(&rows, Some(a))?;
    single_protocol(&rows, Some(b))?;
    let mut models: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.protocol == a || r.protocol == b) {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    let find = |p: &str, model: &str, metric: Metric| {
        rows.iter()
            .find(|r| r.protocol == p && r.model == model && r.metric == metric)
            .and_then(|r| shown(r, figure))
    };
    let mut model_col = Vec::new();
    let mut metric_col = Vec::new();
    let mut label_col = Vec::new();
    let mut num: [Vec<Option<f64>>; 7] = Default::default();
    let (mut a_text, mut b_text, mut diff_text) = (Vec::new(), Vec::new(), Vec::new());
    let mut used = Vec::new();
    for model in &models {
        for metric in Metric::ALL {
            let fa = find(a, model, metric);
            let fb = find(b, model, metric);
            model_col.push(model.clone());
            metric_col.push(metric.name().to_string());
            label_col.push(metric.label().to_string());
            for (k, f) in [fa, fb].into_iter().enumerate() {
                num[3 * k].push(f.map(|x| x.0));
                num[3 * k + 1].push(f.map(|x| x.1));
                num[3 * k + 2].push(f.map(|x| x.2));
            }
            let diff = fa.zip(fb).map(|(x, y)| y.0 - x.0);
            num[6].push(diff);
            let text = |f: Option<(f64, f64, f64, bool)>| {
                f.map_or_else(
                    || "n/a".to_string(),
                    |(v, l, h, _)| percent_with_interval(v, l, h),
                )
            };
            a_text.push(text(fa));
            b_text.push(text(fb));
            diff_text
                .push(diff.map_or_else(|| "n/a".to_string(), |d| format!("{:+.1}", 100.0 * d)));
            used.extend(rows.iter().filter(|r| {
                (r.protocol == a || r.protocol == b) && r.model == *model && r.metric == metric
            }));
        }
    }
    let height = model_col.len();
    let names = [
        a.to_string(),
        format!("{a}_ci_low"),
        format!("{a}_ci_high"),
        b.to_string(),
        format!("{b}_ci_low"),
        format!("{b}_ci_high"),
        "difference".to_string(),
    ];
    let mut columns = vec![
        Column::new("model".into(), model_col.clone()),
        Column::new("metric".into(), metric_col),
    ];
    for (name, values) in names.iter().zip(num) {
        columns.push(Column::new(name.as_str().into(), values));
    }
    let frame = DataFrame::new(height, columns)?;
    let display = DataFrame::new(
        height,
        vec![
            Column::new("Model".into(), model_col),
            Column::new("Metric".into(), label_col),
            Column::new(a.into(), a_text),
            Column::new(b.into(), b_text),
            Column::new("Difference (pp)".into(), diff_text),
        ],
    )?;
    let mut notes = vec![format!(
        "Figures in percent with {} confidence intervals; difference = {b} \u{2212} {a} in \
         percentage points. Interval methods:",
        level_text(&used)
    )];
    notes.push(method_notes(&used, figure).join("\n"));
    Ok(Table {
        frame,
        display: Some(display),
        title: format!("{a} protocol versus {b} protocol"),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_figures_parse() {
        assert_eq!(parse_quoted("").unwrap(), Quoted::Missing);
        assert_eq!(parse_quoted("94-98").unwrap(), Quoted::Range(94.0, 98.0));
        assert_eq!(
            parse_quoted("98.53").unwrap(),
            Quoted::Value(98.53, "98.53".to_string())
        );
        assert!(parse_quoted("98-94").is_err());
        assert!(parse_quoted("101").is_err());
        assert!(parse_quoted("high").is_err());
    }

    #[test]
    fn markdown_escapes_pipes() {
        let df = DataFrame::new(
            1,
            vec![
                Column::new("a".into(), vec!["x|y".to_string()]),
                Column::new("b".into(), vec![Some(0.5f64)]),
            ],
        )
        .unwrap();
        let md = markdown_table(&df, 2).unwrap();
        assert_eq!(md, "| a | b |\n| --- | ---: |\n| x\\|y | 0.50 |\n");
    }

    #[test]
    fn percent_format() {
        assert_eq!(
            percent_with_interval(0.973, 0.9512, 0.98649),
            "97.3 [95.1, 98.6]"
        );
        assert_eq!(percent_trimmed(0.95), "95");
    }
}
