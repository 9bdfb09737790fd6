//! Result tables as polars DataFrames, written atomically as CSV and Markdown.
//!
//! - [`metrics_table`] (`metrics.rs`): the long, numeric table (one row per protocol, model and
//!   metric) that every other table is made from; it round-trips through CSV ([`read_csv`]),
//!   read back by `rows.rs`.
//! - [`table2`] and [`table3`] (`paper.rs`): the layouts of a paper's Table 2 (one row per
//!   model, percentages with one decimal, the interval in brackets) and Table 3 (ours beside
//!   the literature's figures, [`crate::read_literature`]).
//! - [`compare_protocols`] (`compare.rs`): two protocols side by side with the difference.
//! - [`markdown_table`] and the percent formatting (`markdown.rs`).
//!
//! Every writer goes through `mias_core::fs::write_atomic`: a temporary file in the
//! destination's directory, synced and renamed over the destination, so a reader never sees a
//! half-written file.

mod compare;
mod markdown;
mod metrics;
mod paper;
mod rows;

use std::io::Cursor;
use std::path::Path;

use mias_core::fs::write_atomic;

use polars::prelude::*;

use crate::error::{Error, Result};

pub use compare::{compare_protocols, side_by_side};
pub use markdown::{markdown_table, percent, percent_with_interval};
pub use metrics::{METRICS_COLUMNS, metrics_table, stack, tag_rows};
pub use paper::{table2, table3};
pub(crate) use rows::str_column;

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

/// Parses CSV bytes with a header; `infer_schema_length` as polars takes it (`Some(0)`: every
/// column as text).
pub(crate) fn read_csv_bytes(
    bytes: Vec<u8>,
    infer_schema_length: Option<usize>,
) -> Result<DataFrame> {
    Ok(CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(infer_schema_length)
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()?)
}
