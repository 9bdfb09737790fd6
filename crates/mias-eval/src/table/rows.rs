//! Reading a metrics frame back: one [`MetricRow`] per row with tolerant types (a CSV round
//! trip may turn an all-null column into strings), the figure a formatted table shows for a
//! row, and the notes that name each figure's interval method.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::Figure;
use super::markdown::{percent_trimmed, percent_with_interval};
use crate::error::{Error, Result};
use crate::metrics::Metric;

/// One row of a metrics frame, read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricRow {
    pub protocol: String,
    pub model: String,
    pub metric: Metric,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub level: Option<f64>,
    pub method: String,
    pub folds: Option<f64>,
    pub fold_mean: Option<f64>,
    pub fold_low: Option<f64>,
    pub fold_high: Option<f64>,
}

/// A figure as shown: value, low, high, and whether it is the mean over folds.
pub(crate) type Shown = (f64, f64, f64, bool);

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

/// A column as text (any type cast to strings), nulls as `None`.
pub(crate) fn str_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let col = column(df, name)?.cast(&DataType::String)?;
    Ok(col.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Every row of a [`crate::metrics_table`] frame (or one read back from CSV).
pub(crate) fn metric_rows(df: &DataFrame) -> Result<Vec<MetricRow>> {
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

/// The figure a formatted table shows for one row.
pub(crate) fn shown(row: &MetricRow, figure: Figure) -> Option<Shown> {
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

/// A shown figure as a cell, `97.3 [95.1, 98.6]`, or `n/a` when there is none.
pub(crate) fn cell_text(shown: Option<Shown>) -> String {
    shown.map_or_else(
        || "n/a".to_string(),
        |(v, l, h, _)| percent_with_interval(v, l, h),
    )
}

/// Models in first-appearance order and their rows of one protocol.
pub(crate) fn by_model(rows: &[MetricRow], protocol: &str) -> Vec<(String, Vec<MetricRow>)> {
    let mut out: Vec<(String, Vec<MetricRow>)> = Vec::new();
    for r in rows.iter().filter(|r| r.protocol == protocol) {
        match out.iter_mut().find(|(m, _)| *m == r.model) {
            Some((_, v)) => v.push(r.clone()),
            None => out.push((r.model.clone(), vec![r.clone()])),
        }
    }
    out
}

/// The protocol a table is about: `protocol` when the rows have it, the only one when `None`.
pub(crate) fn single_protocol(rows: &[MetricRow], protocol: Option<&str>) -> Result<String> {
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

/// The notes under a formatted table: `first` (which names the confidence level), then one
/// line per metric naming how its intervals were computed, e.g. `- AUC: DeLong`.
pub(crate) fn interval_notes(first: String, used: &[&MetricRow], figure: Figure) -> Vec<String> {
    vec![first, method_notes(used, figure).join("\n")]
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

/// The confidence level of the rows shown, e.g. `95%` (all rows of one run share it).
pub(crate) fn level_text(rows: &[&MetricRow]) -> String {
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
