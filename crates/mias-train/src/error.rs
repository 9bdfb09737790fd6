//! The error type of mias-train: bad configurations, bad data, bad checkpoints and
//! failures of the tensor backend, each with the context a user needs to fix it.

use std::path::PathBuf;

/// Everything that can go wrong while building, training, saving or loading a head.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hyper-parameter is outside the range the head or optimiser accepts.
    #[error("invalid config: {field} = {value}: {reason}")]
    InvalidConfig {
        /// The name of the offending field, as written in the config file.
        field: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the field must satisfy.
        reason: &'static str,
    },

    /// Features, labels or probabilities that do not fit together.
    #[error("invalid data: {0}")]
    InvalidData(String),

    /// A checkpoint lacks a tensor the head needs.
    #[error("{path}: missing tensor `{key}`")]
    MissingKey {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name that was not found.
        key: String,
    },

    /// A checkpoint tensor has another shape than the head expects.
    #[error("{path}: tensor `{key}` has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The shape the head needs.
        expected: Vec<usize>,
        /// The shape found in the file.
        actual: Vec<usize>,
    },

    /// A checkpoint tensor is not stored as 32-bit floats.
    #[error("{path}: tensor `{key}` has dtype {actual}, expected f32")]
    DTypeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The dtype found in the file.
        actual: String,
    },

    /// A checkpoint holds a tensor the head does not know.
    #[error("{path}: unexpected tensor `{key}`")]
    UnexpectedKey {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name.
        key: String,
    },

    /// A checkpoint's header metadata is absent or unreadable.
    #[error("{path}: metadata `{key}`: {reason}")]
    BadMetadata {
        /// The checkpoint file.
        path: PathBuf,
        /// The metadata key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A checkpoint was trained with another config than the one asked for.
    #[error("{path}: config differs from the expected one: {differences}")]
    ConfigMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Each differing field as `field: file X, expected Y`, joined by `; `.
        differences: String,
    },

    /// The safetensors container could not be read or written.
    #[error("{path}: safetensors: {source}")]
    Safetensors {
        /// The checkpoint file.
        path: PathBuf,
        /// The underlying error.
        source: safetensors::SafeTensorError,
    },

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// An output file could not be written (mias-core's atomic writer; the message names it).
    #[error(transparent)]
    Write(#[from] mias_core::Error),

    /// The tensor backend failed.
    #[error("tensor backend: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The result type of mias-train.
pub type Result<T, E = Error> = std::result::Result<T, E>;
