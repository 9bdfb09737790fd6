//! The layouts of a paper's result tables: Table 2 (one row per model, each figure in percent
//! with its interval in brackets) and Table 3 (our figures beside those the literature
//! quotes). Which paper, and who quotes the literature, comes from the data
//! ([`LiteratureRow::quoted_by`]), never from this crate.

use polars::prelude::*;

use super::rows::{
    MetricRow, by_model, cell_text, interval_notes, level_text, metric_rows, shown, single_protocol,
};
use super::{Figure, Table};
use crate::error::{Error, Result};
use crate::literature::LiteratureRow;
use crate::metrics::Metric;

/// The paper's Table 2 layout for one protocol: columns `Model`, `Accuracy`, `Precision`,
/// `Recall`, `F1`, `Specificity`, `AUC`; cells like `97.3 [95.1, 98.6]` (percent, one decimal,
/// the interval in brackets) or `n/a` when undefined. Notes name the interval method of each
/// figure.
///
/// `metrics` is a [`crate::metrics_table`] frame (or several [`crate::stack`]ed, or one read
/// back with [`crate::read_csv`]); `protocol` may be `None` when it holds one protocol only.
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
            cols[k].push(cell_text(row.and_then(|r| shown(r, figure))));
            used.extend(row);
        }
    }
    let mut columns = vec![Column::new("Model".into(), model_col)];
    for (metric, values) in Metric::ALL.into_iter().zip(cols) {
        columns.push(Column::new(metric.label().into(), values));
    }
    let frame = DataFrame::new(models.len(), columns)?;
    let first = format!(
        "Figures in percent, {} confidence interval in brackets. Interval methods:",
        level_text(&used)
    );
    Ok(Table {
        frame,
        display: None,
        title: format!("Table 2: {protocol} protocol"),
        notes: interval_notes(first, &used, figure),
    })
}

/// The columns of Table 3 while they are filled, one push per row.
#[derive(Default)]
struct Table3Columns {
    source: Vec<String>,
    reference: Vec<String>,
    figures: Vec<Vec<String>>,
    note: Vec<String>,
}

impl Table3Columns {
    fn push(&mut self, source: String, reference: String, figures: Vec<String>, note: String) {
        self.source.push(source);
        self.reference.push(reference);
        self.figures.resize(figures.len(), Vec::new());
        for (col, cell) in self.figures.iter_mut().zip(figures) {
            col.push(cell);
        }
        self.note.push(note);
    }

    fn into_frame(self) -> Result<DataFrame> {
        let height = self.source.len();
        let mut columns = vec![
            Column::new("Source".into(), self.source),
            Column::new("Reference".into(), self.reference),
        ];
        let mut figures = self.figures;
        figures.resize(Metric::ALL.len(), Vec::new());
        for (metric, values) in Metric::ALL.into_iter().zip(figures) {
            columns.push(Column::new(metric.label().into(), values));
        }
        columns.push(Column::new("Note".into(), self.note));
        Ok(DataFrame::new(height, columns)?)
    }
}

/// Table 3: our figures beside the literature's. Columns `Source`, `Reference`, the six metric
/// labels, `Note`. Literature figures are shown as quoted (percent); ours, for each
/// `(protocol, model)` in `ours`, as in [`table2`] with source `This work` and reference
/// `<model>, <protocol> protocol`. The notes name who quotes the literature's figures
/// ([`LiteratureRow::quoted_by`]).
pub fn table3(
    literature: &[LiteratureRow],
    metrics: &DataFrame,
    ours: &[(&str, &str)],
    figure: Figure,
) -> Result<Table> {
    let rows = metric_rows(metrics)?;
    let mut columns = Table3Columns::default();
    for lit in literature {
        let figures = lit.figures.iter().map(|q| q.display()).collect();
        columns.push(
            lit.source.clone(),
            lit.reference.clone(),
            figures,
            lit.note.clone(),
        );
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
        let mut figures = Vec::new();
        for metric in Metric::ALL {
            let row = mine.iter().find(|r| r.metric == metric);
            figures.push(cell_text(row.and_then(|r| shown(r, figure))));
            used.extend(row.copied());
        }
        let fold_mean = mine.iter().any(|r| shown(r, figure).is_some_and(|s| s.3));
        let note = if fold_mean {
            "mean over folds"
        } else {
            "all test cases"
        };
        columns.push(
            "This work".to_string(),
            format!("{model}, {protocol} protocol"),
            figures,
            note.to_string(),
        );
    }
    let first = format!(
        "Figures in percent. Literature figures as quoted{} (a range is written \
         low\u{2013}high; \u{2014}: not reported). This work: {} confidence interval in \
         brackets. Interval methods:",
        quoted_by_text(literature),
        level_text(&used)
    );
    Ok(Table {
        frame: columns.into_frame()?,
        display: None,
        title: "Table 3: comparison with the literature".to_string(),
        notes: interval_notes(first, &used, figure),
    })
}

/// ` by A`, ` by A and B`, ` by A, B and C`: who quotes the literature's figures, in order of
/// first appearance; empty without literature rows.
fn quoted_by_text(literature: &[LiteratureRow]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for lit in literature {
        if !names.contains(&lit.quoted_by.as_str()) {
            names.push(&lit.quoted_by);
        }
    }
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => format!(" by {last}"),
        Some((last, rest)) => format!(" by {} and {last}", rest.join(", ")),
    }
}
