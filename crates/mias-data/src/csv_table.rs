//! A distributed collection's CSV table (CBIS-DDSM's case files, VinDr-Mammo's annotations),
//! read whole with its columns found by name; errors name the file, the line and the column.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A CSV file read whole: its header (as the reader's spelling rule writes it) and its rows
/// with their 1-based lines.
pub(crate) struct Table {
    pub(crate) path: PathBuf,
    spelling: fn(&str) -> String,
    header: Vec<String>,
    pub(crate) rows: Vec<(usize, csv::StringRecord)>,
}

/// `breast density`, `breast_density` and `Breast Density` alike: lowercase, without spaces
/// and underscores (CBIS-DDSM spells one column both ways).
pub(crate) fn normalise(header: &str) -> String {
    header.trim().to_ascii_lowercase().replace(['_', ' '], "")
}

/// Column names as written, case aside.
pub(crate) fn lowercase(header: &str) -> String {
    header.trim().to_ascii_lowercase()
}

/// The collection reader's error at `line` (0: the file as a whole) and `column`.
pub(crate) fn fail(path: &Path, line: usize, column: Option<&str>, reason: String) -> Error {
    Error::Manifest {
        path: path.to_path_buf(),
        line,
        column: column.map(str::to_string),
        reason,
    }
}

impl Table {
    /// Reads `path`; fields are trimmed, and column names compared after `spelling`
    /// ([`normalise`] or [`lowercase`]).
    pub(crate) fn read(path: &Path, spelling: fn(&str) -> String) -> Result<Table> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| fail(path, 1, None, format!("cannot read the header row: {e}")))?
            .iter()
            .map(spelling)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                fail(path, line, None, format!("unreadable row: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            rows.push((line, record));
        }
        Ok(Table {
            path: path.to_path_buf(),
            spelling,
            header,
            rows,
        })
    }

    /// The position of the column `name` (compared after the table's spelling rule), if
    /// present.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        let name = (self.spelling)(name);
        self.header.iter().position(|h| *h == name)
    }

    /// The position of the column `name`; its absence is an error naming it.
    pub(crate) fn column(&self, name: &str) -> Result<usize> {
        self.find(name)
            .ok_or_else(|| fail(&self.path, 1, Some(name), "missing column".into()))
    }
}
