//! Protocols side by side (e.g. leaky ones and an honest one): each model's figures under
//! two protocols and their difference ([`compare_protocols`]), or under any number of them
//! ([`side_by_side`]).

use polars::prelude::*;

use super::rows::{
    MetricRow, Shown, cell_text, interval_notes, level_text, metric_rows, shown, single_protocol,
};
use super::{Figure, Table};
use crate::error::{Error, Result};
use crate::metrics::Metric;

/// The columns of the comparison while they are filled, one push per (model, metric).
#[derive(Default)]
struct CompareColumns {
    model: Vec<String>,
    metric: Vec<String>,
    label: Vec<String>,
    /// `a`, `a` low, `a` high, `b`, `b` low, `b` high, difference (fractions).
    numbers: [Vec<Option<f64>>; 7],
    a_text: Vec<String>,
    b_text: Vec<String>,
    diff_text: Vec<String>,
}

impl CompareColumns {
    fn push(&mut self, model: &str, metric: Metric, fa: Option<Shown>, fb: Option<Shown>) {
        self.model.push(model.to_string());
        self.metric.push(metric.name().to_string());
        self.label.push(metric.label().to_string());
        for (k, f) in [fa, fb].into_iter().enumerate() {
            self.numbers[3 * k].push(f.map(|x| x.0));
            self.numbers[3 * k + 1].push(f.map(|x| x.1));
            self.numbers[3 * k + 2].push(f.map(|x| x.2));
        }
        let diff = fa.zip(fb).map(|(x, y)| y.0 - x.0);
        self.numbers[6].push(diff);
        self.a_text.push(cell_text(fa));
        self.b_text.push(cell_text(fb));
        self.diff_text
            .push(diff.map_or_else(|| "n/a".to_string(), |d| format!("{:+.1}", 100.0 * d)));
    }

    /// The numeric frame (written as CSV) and the display frame (shown in Markdown).
    fn into_frames(self, a: &str, b: &str) -> Result<(DataFrame, DataFrame)> {
        let height = self.model.len();
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
            Column::new("model".into(), self.model.clone()),
            Column::new("metric".into(), self.metric),
        ];
        for (name, values) in names.iter().zip(self.numbers) {
            columns.push(Column::new(name.as_str().into(), values));
        }
        let frame = DataFrame::new(height, columns)?;
        let display = DataFrame::new(
            height,
            vec![
                Column::new("Model".into(), self.model),
                Column::new("Metric".into(), self.label),
                Column::new(a.into(), self.a_text),
                Column::new(b.into(), self.b_text),
                Column::new("Difference (pp)".into(), self.diff_text),
            ],
        )?;
        Ok((frame, display))
    }
}

/// Two protocols side by side: one row per model (present in either) and metric, with each
/// protocol's figure and interval and the difference `b - a`.
///
/// The CSV frame is numeric (fractions): `model`, `metric`, `<a>`, `<a>_ci_low`, `<a>_ci_high`,
/// `<b>`, `<b>_ci_low`, `<b>_ci_high`, `difference`; the Markdown shows `Model`, `Metric`, `<a>`,
/// `<b>` as in [`crate::table2`] and `Difference (pp)` in percentage points with one decimal.
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
    let in_either = |r: &&MetricRow| r.protocol == a || r.protocol == b;
    let mut models: Vec<String> = Vec::new();
    for r in rows.iter().filter(in_either) {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    let find = |p: &str, model: &str, metric: Metric| {
        rows.iter()
            .find(|r| r.protocol == p && r.model == model && r.metric == metric)
            .and_then(|r| shown(r, figure))
    };
    let mut columns = CompareColumns::default();
    let mut used = Vec::new();
    for model in &models {
        for metric in Metric::ALL {
            columns.push(
                model,
                metric,
                find(a, model, metric),
                find(b, model, metric),
            );
            used.extend(
                rows.iter()
                    .filter(in_either)
                    .filter(|r| r.model == *model && r.metric == metric),
            );
        }
    }
    let (frame, display) = columns.into_frames(a, b)?;
    let first = format!(
        "Figures in percent with {} confidence intervals; difference = {b} \u{2212} {a} in \
         percentage points. Interval methods:",
        level_text(&used)
    );
    Ok(Table {
        frame,
        display: Some(display),
        title: format!("{a} protocol versus {b} protocol"),
        notes: interval_notes(first, &used, figure),
    })
}

/// Any number of protocols side by side: one row per model (present in any) and metric of
/// `metrics` (all when empty), one column per protocol with its figure and interval as in
/// [`crate::table2`], `n/a` where a protocol has no figure.
///
/// The CSV frame holds `model`, `metric`, then per protocol `<p>`, `<p>_ci_low`, `<p>_ci_high`
/// (fractions); the Markdown shows `Model`, `Metric` and one column per protocol.
pub fn side_by_side(
    metrics: &DataFrame,
    protocols: &[&str],
    shown_metrics: &[Metric],
    figure: Figure,
) -> Result<Table> {
    if protocols.is_empty() {
        return Err(Error::Empty {
            what: "no protocols to show",
        });
    }
    for (i, p) in protocols.iter().enumerate() {
        if protocols[..i].contains(p) {
            return Err(Error::InvalidParameter {
                name: "protocols to show",
                value: protocols.join(", "),
                expected: "each protocol once",
            });
        }
    }
    let rows = metric_rows(metrics)?;
    for p in protocols {
        single_protocol(&rows, Some(p))?;
    }
    let shown_metrics = if shown_metrics.is_empty() {
        &Metric::ALL[..]
    } else {
        shown_metrics
    };
    let in_any = |r: &&MetricRow| protocols.contains(&r.protocol.as_str());
    let mut models: Vec<String> = Vec::new();
    for r in rows.iter().filter(in_any) {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    let (mut model_col, mut metric_col, mut label_col) = (Vec::new(), Vec::new(), Vec::new());
    let mut numbers: Vec<[Vec<Option<f64>>; 3]> = vec![Default::default(); protocols.len()];
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); protocols.len()];
    let mut used = Vec::new();
    for model in &models {
        for &metric in shown_metrics {
            model_col.push(model.clone());
            metric_col.push(metric.name().to_string());
            label_col.push(metric.label().to_string());
            for (k, p) in protocols.iter().enumerate() {
                let row = rows
                    .iter()
                    .find(|r| r.protocol == *p && r.model == *model && r.metric == metric);
                let f = row.and_then(|r| shown(r, figure));
                numbers[k][0].push(f.map(|x| x.0));
                numbers[k][1].push(f.map(|x| x.1));
                numbers[k][2].push(f.map(|x| x.2));
                texts[k].push(cell_text(f));
                used.extend(row);
            }
        }
    }
    let height = model_col.len();
    let mut columns = vec![
        Column::new("model".into(), model_col.clone()),
        Column::new("metric".into(), metric_col),
    ];
    let mut display = vec![
        Column::new("Model".into(), model_col),
        Column::new("Metric".into(), label_col),
    ];
    for ((p, [value, low, high]), text) in protocols.iter().zip(numbers).zip(texts) {
        columns.push(Column::new((*p).into(), value));
        columns.push(Column::new(format!("{p}_ci_low").into(), low));
        columns.push(Column::new(format!("{p}_ci_high").into(), high));
        display.push(Column::new((*p).into(), text));
    }
    let first = format!(
        "Figures in percent with {} confidence intervals. Interval methods:",
        level_text(&used)
    );
    Ok(Table {
        frame: DataFrame::new(height, columns)?,
        display: Some(DataFrame::new(height, display)?),
        title: format!("{} protocols side by side", protocols.join(", ")),
        notes: interval_notes(first, &used, figure),
    })
}
