//! Training the Mini-MIAS classifier's head on frozen, precomputed features.
//!
//! The paper (Laaffat et al.) freezes an ImageNet backbone and trains a new head on its
//! pooled features: `Dense(1024) ReLU, Dense(256) ReLU, Dense(28) ReLU, Dropout(0.5),
//! Dense(2) softmax`, with categorical cross-entropy, Adam (learning rate 5e-5, Keras's
//! betas and epsilon 1e-7, no weight decay), 10 epochs of batches of 32; several such
//! models are then averaged. Because the body is frozen, this crate sees only feature
//! matrices `[n, d]` with labels 0 (normal) and 1 (abnormal); it knows nothing of images
//! or backbones.
//!
//! - [`TrainConfig`]: every hyper-parameter and the seed (serde, paper defaults).
//! - [`Head`]: Keras-initialised weights ([`Head::new`]), [`Head::predict_proba`],
//!   [`Head::evaluate`], safetensors checkpoints ([`Head::save`], [`Head::load`],
//!   [`Head::load_expecting`]).
//! - [`Adam`]: Keras 3's update rule, written out and tested against a textbook form.
//! - [`train`] / [`Trainer`]: Keras-`fit`-like loop returning a [`History`].
//! - [`average`] / [`Ensemble`]: model averaging of softmax outputs over any subset.
//! - [`LogisticRegression`]: the lesion method's cell classifier, L2-regularised logistic
//!   regression on standardised features with class-balanced weights, fitted by a
//!   deterministic full-batch L-BFGS and checked against scikit-learn.
//! - [`rng`]: every random draw comes from a stream of `mias-core`'s seed convention keyed
//!   by the config's seed and the stream's purpose, so one seed gives bit-identical heads and
//!   histories on every machine.
//!
//! Tensors live on whatever candle device the features are on; the `cuda` feature
//! enables candle's CUDA backend.
//!
//! # Example
//!
//! ```
//! use candle_core::Device;
//! use mias_train::{Head, LabelledFeatures, TrainConfig, average, train};
//!
//! # fn main() -> mias_train::Result<()> {
//! // Two well separated clusters in 4 dimensions.
//! let mut rows = Vec::new();
//! let mut labels = Vec::new();
//! for i in 0..40 {
//!     let label = (i % 2) as u32;
//!     let centre = if label == 1 { 1.0 } else { -1.0 };
//!     rows.extend([centre, centre * 0.5, 0.1 * (i as f32).sin(), -centre]);
//!     labels.push(label);
//! }
//! let data = LabelledFeatures::from_rows(rows, 4, labels, &Device::Cpu)?;
//!
//! let cfg = TrainConfig { hidden: vec![16, 8], learning_rate: 1e-2, epochs: 5, seed: 7,
//!                         ..TrainConfig::paper() };
//! let (head, history) = train(&cfg, &data, None)?;
//! assert_eq!(history.epochs.len(), 5);
//! assert!(history.epochs[4].train_loss < history.epochs[0].train_loss);
//! let (_loss, accuracy) = head.evaluate(data.features(), data.labels())?;
//! assert_eq!(accuracy, 1.0);
//!
//! let p = head.predict_proba(data.features())?;
//! assert!(p[1] > 0.5 && p[0] < 0.5);
//!
//! let path = std::env::temp_dir().join(format!("mias-train-doc-{}.safetensors", std::process::id()));
//! head.save(&path)?;
//! let again = Head::load_expecting(&path, &cfg, 4, &Device::Cpu)?;
//! assert_eq!(again.predict_proba(data.features())?, p);
//! # std::fs::remove_file(&path).ok();
//!
//! // Averaging two members' probabilities of abnormal.
//! assert_eq!(average(&[vec![0.25, 1.0], vec![0.75, 0.5]])?, vec![0.5, 0.75]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod adam;
mod checkpoint;
mod config;
mod ensemble;
mod error;
mod head;
mod logistic;
pub mod rng;
mod train;

pub use adam::{Adam, AdamConfig};
pub use checkpoint::{FORMAT, META_CONFIG, META_FORMAT, META_INPUT_DIM};
pub use config::TrainConfig;
pub use ensemble::{Ensemble, average};
pub use error::{Error, Result};
pub use head::{BatchStats, CLASSES, Head};
pub use logistic::{
    ClassWeight, FitReport, LOGISTIC_FORMAT, LogisticConfig, LogisticRegression, META_LOGISTIC,
};
pub use train::{EpochStats, History, LabelledFeatures, Trainer, train};
