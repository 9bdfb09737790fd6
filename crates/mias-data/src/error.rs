//! The error type of `mias-data`: every variant names the file, line, key or value at fault.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, verifying, splitting or augmenting Mini-MIAS.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === Files and directories ===
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being accessed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The dataset directory is missing, empty or lacks the label table.
    #[error("{}: {reason}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    // === Info.txt ===
    /// A row of the label table could not be understood.
    #[error("{}:{line}: {reason}: {text:?}", path.display())]
    InfoRow {
        /// The label table (Info.txt or an in-memory source).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line, as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The label table is well formed row by row but inconsistent as a whole.
    #[error("{}: {reason}", path.display())]
    InfoTable {
        /// The label table.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },

    // === Images ===
    /// An image id that is not of the form `mdbNNN` or names no image of the dataset.
    #[error("unknown image id {id:?}: {reason}")]
    UnknownImage {
        /// The id as given.
        id: String,
        /// Why it is not accepted.
        reason: String,
    },
    /// An image file is missing, truncated, or not an 8-bit greyscale image of the right size.
    #[error("{}: {reason}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file's SHA-256 differs from the committed manifest.
    #[error("{}: checksum mismatch: expected sha256 {expected}, found {actual}", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The checksum in the manifest.
        expected: String,
        /// The checksum of the file on disk.
        actual: String,
    },

    // === DICOM and other image files ===
    /// A DICOM file that cannot be read or is outside what mias decodes; names the tag at fault.
    #[error("{}: {}{reason}", path.display(), tag.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
    Dicom {
        /// The DICOM file.
        path: PathBuf,
        /// The attribute at fault, as `Name (gggg,eeee)`, when one is.
        tag: Option<String>,
        /// What is wrong.
        reason: String,
    },

    // === manifest.csv ===
    /// A row or field of a `manifest.csv` that cannot be understood, or a table inconsistent
    /// as a whole (then `line` is 0 and `column` empty).
    #[error("{}{}{}: {reason}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() }, column.as_ref().map(|c| format!(": column {c:?}")).unwrap_or_default())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// 1-based line number (0 for the table as a whole).
        line: usize,
        /// The column at fault, by its header name.
        column: Option<String>,
        /// What is wrong.
        reason: String,
    },

    // === Splits and augmentation ===
    /// A split, fold or augmentation parameter is out of range.
    #[error("invalid {name} {value}: {reason}")]
    Parameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// The accepted range or the reason.
        reason: String,
    },

    // === Fetching ===
    /// Downloading or importing the dataset failed.
    #[error("{0}")]
    Fetch(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A parameter error.
    pub(crate) fn parameter(
        name: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        Error::Parameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
