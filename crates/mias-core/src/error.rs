//! The error type of mias-core: every variant names what it was about (a path, a value).

use std::path::PathBuf;

/// What can go wrong in mias-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed on `path`.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `creating directory`, ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A name that is not one of the accepted ones.
    #[error("unknown {what} `{value}` (expected {expected})")]
    UnknownName {
        /// What the name was for (`normalisation`).
        what: &'static str,
        /// The name given.
        value: String,
        /// The accepted names.
        expected: &'static str,
    },
}

impl Error {
    /// An [`Error::Io`] for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;
