//! Errors of the backbones crate: weight resolution, weight files, tensor shapes and the forward pass.

use std::path::PathBuf;

/// Everything that can go wrong while resolving weights, loading a backbone or running it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A backbone name that is not one of the four ports.
    #[error("unknown backbone `{0}` (expected vgg16, xception, mobilenetv2 or nasnetlarge)")]
    UnknownBackbone(String),

    /// A flavor name that is not `timm` or `keras`.
    #[error("unknown flavor `{0}` (expected timm or keras)")]
    UnknownFlavor(String),

    /// A precision name that is not `f32` or `bf16`.
    #[error("unknown precision `{0}` (expected f32 or bf16)")]
    UnknownPrecision(String),

    /// The bf16 kernel forced by `MIAS_BF16_KERNEL` is unknown or cannot run on this CPU.
    #[error("bf16 kernel: {0}")]
    Bf16Kernel(String),

    /// A weight file could not be read.
    #[error("cannot read weight file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// A weight file is shorter than its own header says (an interrupted download or copy).
    #[error(
        "weight file {} is truncated: its header describes {expected} bytes but it has {actual}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The size its header implies.
        expected: u64,
        /// Its size on disk.
        actual: u64,
    },

    /// A weight file whose header or tensor table cannot be parsed.
    #[error("weight file {} is not a valid {format} file: {reason}", path.display())]
    BadWeightFile {
        /// The file.
        path: PathBuf,
        /// The expected format (`safetensors`, `pytorch pickle`).
        format: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// A tensor the model needs is absent from the weight file.
    #[error("weight file {} has no tensor `{key}` (expected shape {expected:?})", path.display())]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The checkpoint key.
        key: String,
        /// The shape the model expects.
        expected: Vec<usize>,
    },

    /// A tensor has another shape than the model expects.
    #[error(
        "tensor `{key}` in {} has shape {actual:?}, expected {expected:?}",
        path.display()
    )]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The checkpoint key.
        key: String,
        /// The shape the model expects.
        expected: Vec<usize>,
        /// The shape stored in the file.
        actual: Vec<usize>,
    },

    /// A downloaded or cached file whose sha256 is not the pinned one.
    #[error("{} has sha256 {actual}, expected {expected}", path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The digest of the file.
        actual: String,
    },

    /// Weights that are neither on disk nor in the cache, and could not be fetched.
    #[error("weights for {what} are not available: {reason}. {hint}")]
    WeightsUnavailable {
        /// What was looked for (repository, revision, file, or URL).
        what: String,
        /// Why it could not be obtained.
        reason: String,
        /// How to provide it.
        hint: String,
    },

    /// An input batch of the wrong rank, channel count or dtype.
    #[error("{backbone} expects input of shape [N, 3, H, W] (f32), got {shape:?} ({dtype})")]
    BadInput {
        /// The backbone name.
        backbone: &'static str,
        /// The shape that was passed.
        shape: Vec<usize>,
        /// The dtype that was passed.
        dtype: String,
    },

    /// An input too small for the network's strided layers.
    #[error("{backbone} needs inputs of at least {min}x{min} pixels, got {h}x{w}")]
    InputTooSmall {
        /// The backbone name.
        backbone: &'static str,
        /// The smallest side that works.
        min: usize,
        /// Input height.
        h: usize,
        /// Input width.
        w: usize,
    },

    /// A file could not be written (mias-core's atomic writer; the message names it).
    #[error(transparent)]
    Write(#[from] mias_core::Error),

    /// A dense map asked of an input whose sides are not multiples of that map's stride.
    #[error(
        "{backbone}'s dense map `{layer}` has stride {stride}: input sides must be multiples of \
         {stride}, got {h}x{w}"
    )]
    DenseSide {
        /// The backbone name.
        backbone: &'static str,
        /// The layer's name (`last`, `previous_stage`).
        layer: &'static str,
        /// The map's stride in input pixels.
        stride: usize,
        /// Input height.
        h: usize,
        /// Input width.
        w: usize,
    },

    /// A dense layer name that is not `last` or `previous_stage`.
    #[error("unknown dense layer `{0}` (expected last or previous_stage)")]
    UnknownDenseLayer(String),

    /// An error from candle (tensor operations, devices).
    #[error(transparent)]
    Candle(candle_core::Error),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an error of this crate into a candle error so that it can travel through candle's
    /// `VarBuilder`; [`From<candle_core::Error>`] unwraps it again.
    pub(crate) fn into_candle(self) -> candle_core::Error {
        candle_core::Error::WrappedContext {
            wrapped: Box::new(self),
            context: "mias-backbones".to_string(),
        }
    }
}

impl From<candle_core::Error> for Error {
    /// Unwraps errors of this crate that travelled through candle (a `VarBuilder` backend can only
    /// return candle errors), so callers can match on [`Error::MissingKey`] and friends.
    fn from(e: candle_core::Error) -> Self {
        match e {
            candle_core::Error::WrappedContext { wrapped, context } => {
                match wrapped.downcast::<Error>() {
                    Ok(ours) => *ours,
                    Err(other) => Error::Candle(candle_core::Error::WrappedContext {
                        wrapped: other,
                        context,
                    }),
                }
            }
            candle_core::Error::WithBacktrace { inner, backtrace } => match Error::from(*inner) {
                Error::Candle(c) => Error::Candle(candle_core::Error::WithBacktrace {
                    inner: Box::new(c),
                    backtrace,
                }),
                ours => ours,
            },
            candle_core::Error::Context { inner, context } => match Error::from(*inner) {
                Error::Candle(c) => Error::Candle(candle_core::Error::Context {
                    inner: Box::new(c),
                    context,
                }),
                ours => ours,
            },
            other => Error::Candle(other),
        }
    }
}
