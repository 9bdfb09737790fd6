//! Markdown rendering: a frame as a pipe table, and figures formatted as percentages the way
//! the paper's tables print them.

use polars::prelude::*;

use crate::error::Result;

/// Renders a frame as a Markdown pipe table. Strings are escaped (`|`), floats get `decimals`
/// decimals, nulls are empty; numeric columns are right-aligned.
pub fn markdown_table(df: &DataFrame, decimals: usize) -> Result<String> {
    let columns = df.columns();
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(columns.len());
    let mut numeric = Vec::with_capacity(columns.len());
    for col in columns {
        numeric.push(col.dtype().is_primitive_numeric());
        cells.push(rendered_cells(col, decimals)?);
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

/// The cells of one column as Markdown text.
fn rendered_cells(col: &Column, decimals: usize) -> Result<Vec<String>> {
    Ok(if col.dtype().is_float() {
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
    })
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

/// A fraction in percent without a needless decimal: `0.95` is `95`, `0.975` is `97.5`.
pub(crate) fn percent_trimmed(x: f64) -> String {
    let p = 100.0 * x;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
