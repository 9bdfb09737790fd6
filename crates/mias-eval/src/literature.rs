//! Figures quoted from the literature (`data/literature.csv` in the mias repository): who
//! reports them, who quotes them, and each metric as written (a percentage, a range, or
//! nothing), for [`crate::table3`].

use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::table::{read_csv_bytes, str_column};

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

/// One row of a literature file.
#[derive(Debug, Clone, PartialEq)]
pub struct LiteratureRow {
    /// Who reports the figures (an earlier study, or the paper itself).
    pub source: String,
    /// Citation as given where the figures are quoted (e.g. `[16]`).
    pub reference: String,
    /// The publication the figures are taken from as quoted (for a paper's own claim, the
    /// paper itself); Table 3's notes name it.
    pub quoted_by: String,
    /// Accuracy, precision, recall, F1, specificity, AUC, in [`Metric::ALL`] order.
    pub figures: [Quoted; 6],
    /// Free text.
    pub note: String,
}

/// Columns of a literature file, in order.
pub const LITERATURE_COLUMNS: [&str; 10] = [
    "source",
    "reference",
    "quoted_by",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "auc",
    "note",
];

/// Index of the first figure column in [`LITERATURE_COLUMNS`].
const FIRST_FIGURE: usize = 3;

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

/// Reads a literature file (e.g. `data/literature.csv`): the header must be exactly
/// [`LITERATURE_COLUMNS`]; `source` and `quoted_by` are required; each figure is a percentage
/// (`95`, `98.53`), a range `low-high` (`94-98`) or empty (not reported). Errors name the
/// file, line and column.
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
    let csv_error = |line: usize, column: &str, message: String| Error::Csv {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        message,
    };
    // Every column as text: schema inference over zero rows.
    let df =
        read_csv_bytes(bytes.to_vec(), Some(0)).map_err(|e| csv_error(1, "", e.to_string()))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if names != LITERATURE_COLUMNS {
        return Err(csv_error(
            1,
            &names.join(","),
            format!("expected the header {}", LITERATURE_COLUMNS.join(",")),
        ));
    }
    let cols = LITERATURE_COLUMNS
        .iter()
        .map(|c| str_column(&df, c))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(df.height());
    for (i, _) in cols[0].iter().enumerate() {
        let line = i + 2;
        let cell = |k: usize| cols[k][i].clone().unwrap_or_default();
        let required = |k: usize| {
            let text = cell(k);
            if text.trim().is_empty() {
                Err(csv_error(line, LITERATURE_COLUMNS[k], "empty".to_string()))
            } else {
                Ok(text)
            }
        };
        let source = required(0)?;
        let quoted_by = required(2)?;
        let mut figures: [Quoted; 6] = Default::default();
        for (k, slot) in (FIRST_FIGURE..).zip(figures.iter_mut()) {
            *slot = parse_quoted(&cell(k))
                .map_err(|message| csv_error(line, LITERATURE_COLUMNS[k], message))?;
        }
        rows.push(LiteratureRow {
            source,
            reference: cell(1),
            quoted_by,
            figures,
            note: cell(FIRST_FIGURE + Metric::ALL.len()),
        });
    }
    Ok(rows)
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
    fn quoted_by_is_required() {
        let csv = format!("{}\nA,[1],,95,,,,,,x\n", LITERATURE_COLUMNS.join(","));
        let err = parse_literature(csv.as_bytes(), Path::new("lit.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "lit.csv:2: column quoted_by: empty");
    }
}
