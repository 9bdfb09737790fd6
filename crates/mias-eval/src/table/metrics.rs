//! The long metrics table: one row per protocol, model and metric, numeric (fractions), the
//! source of every other table and the file a reader loads into a notebook.

use polars::prelude::*;

use super::Table;
use crate::error::{Error, Result};
use crate::evaluation::Evaluation;
use crate::metrics::Metric;

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

/// The columns of [`metrics_table`] while they are filled, one push per row.
#[derive(Default)]
struct MetricsColumns {
    protocol: Vec<String>,
    model: Vec<String>,
    metric: Vec<String>,
    value: Vec<Option<f64>>,
    low: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
    n: Vec<Option<u64>>,
    level: Vec<Option<f64>>,
    method: Vec<String>,
    folds: Vec<Option<u64>>,
    fold_mean: Vec<Option<f64>>,
    fold_sd: Vec<Option<f64>>,
    fold_low: Vec<Option<f64>>,
    fold_high: Vec<Option<f64>>,
}

impl MetricsColumns {
    fn push(&mut self, protocol: &str, model: &str, eval: &Evaluation, metric: Metric) {
        self.protocol.push(protocol.to_string());
        self.model.push(model.to_string());
        self.metric.push(metric.name().to_string());
        let e = eval.pooled().get(metric);
        self.value.push(e.map(|e| e.value));
        self.low.push(e.map(|e| e.low));
        self.high.push(e.map(|e| e.high));
        self.n.push(e.map(|e| e.n));
        self.level.push(e.map(|e| e.level));
        self.method
            .push(e.map_or_else(|| "undefined".to_string(), |e| e.method.to_string()));
        let s = eval.over_folds(metric);
        self.folds.push(s.map(|s| s.values.len() as u64));
        self.fold_mean.push(s.map(|s| s.mean));
        self.fold_sd.push(s.map(|s| s.sd));
        self.fold_low.push(s.map(|s| s.interval.low));
        self.fold_high.push(s.map(|s| s.interval.high));
    }

    fn into_frame(self) -> Result<DataFrame> {
        let height = self.protocol.len();
        let c = METRICS_COLUMNS;
        Ok(DataFrame::new(
            height,
            vec![
                Column::new(c[0].into(), self.protocol),
                Column::new(c[1].into(), self.model),
                Column::new(c[2].into(), self.metric),
                Column::new(c[3].into(), self.value),
                Column::new(c[4].into(), self.low),
                Column::new(c[5].into(), self.high),
                Column::new(c[6].into(), self.n),
                Column::new(c[7].into(), self.level),
                Column::new(c[8].into(), self.method),
                Column::new(c[9].into(), self.folds),
                Column::new(c[10].into(), self.fold_mean),
                Column::new(c[11].into(), self.fold_sd),
                Column::new(c[12].into(), self.fold_low),
                Column::new(c[13].into(), self.fold_high),
            ],
        )?)
    }
}

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
    let mut columns = MetricsColumns::default();
    for (model, eval) in models {
        for metric in Metric::ALL {
            columns.push(protocol, model, eval, metric);
        }
    }
    Ok(Table {
        frame: columns.into_frame()?,
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

/// Adds a column `name` holding `value` in every row: what the rows of a frame share that its
/// columns do not say, e.g. `labels` = `real` or `permuted` before frames are [`stack`]ed.
pub fn tag_rows(df: &mut DataFrame, name: &str, value: &str) -> Result<()> {
    let height = df.height();
    df.with_column(Column::new(name.into(), vec![value; height]))?;
    Ok(())
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
