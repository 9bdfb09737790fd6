//! The training loop, as Keras's `model.fit` runs it: per epoch, an optional fresh order
//! of the samples, batches of `batch_size` (the last one may be smaller), one Adam step
//! per batch, and a history of the training loss and accuracy (averaged over the epoch's
//! batches, weighted by batch size, as measured while training with dropout on) and of
//! the validation loss and accuracy (measured at the end of the epoch, dropout off).

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::adam::{Adam, AdamConfig};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::head::{BatchStats, Head, check_labels};
use crate::rng::{Rng, Stream, rng};
use mias_core::rng::shuffle;

/// Features `[n, d]` (f32) with one label per row: 0 normal, 1 abnormal.
#[derive(Debug, Clone)]
pub struct LabelledFeatures {
    features: Tensor,
    labels: Vec<u32>,
}

impl LabelledFeatures {
    /// Pairs features `[n, d]` with `n` labels, each 0 or 1.
    pub fn new(features: Tensor, labels: Vec<u32>) -> Result<Self> {
        let n = match features.dims() {
            [n, d] if *d > 0 => *n,
            dims => {
                return Err(Error::InvalidData(format!(
                    "features have shape {dims:?}, expected [n, d] with d > 0"
                )));
            }
        };
        if features.dtype() != candle_core::DType::F32 {
            return Err(Error::InvalidData(format!(
                "features have dtype {:?}, expected f32",
                features.dtype()
            )));
        }
        check_labels(&labels, n)?;
        Ok(Self { features, labels })
    }

    /// Builds the features tensor from row-major data of `labels.len()` rows.
    pub fn from_rows(
        data: Vec<f32>,
        dim: usize,
        labels: Vec<u32>,
        device: &Device,
    ) -> Result<Self> {
        if dim == 0 || data.len() != labels.len() * dim {
            return Err(Error::InvalidData(format!(
                "{} values do not make {} rows of {dim} features",
                data.len(),
                labels.len()
            )));
        }
        let features = Tensor::from_vec(data, (labels.len(), dim), device)?;
        Self::new(features, labels)
    }

    /// The features `[n, d]`.
    pub fn features(&self) -> &Tensor {
        &self.features
    }

    /// The labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.features.dims()[1]
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean training cross-entropy over the epoch's batches, weighted by batch size.
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches (with dropout, before each step).
    pub train_accuracy: f64,
    /// Validation cross-entropy at the end of the epoch, when a validation set is given.
    pub val_loss: Option<f64>,
    /// Validation accuracy at the end of the epoch, when a validation set is given.
    pub val_accuracy: Option<f64>,
}

/// Per-epoch statistics of a training run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch, in order.
    pub epochs: Vec<EpochStats>,
}

/// A head being trained, with its optimiser and the random streams for batch order and
/// dropout masks (both derived from the config's seed).
#[derive(Debug)]
pub struct Trainer {
    head: Head,
    adam: Adam,
    shuffle_rng: Rng,
    dropout_rng: Rng,
    epoch: usize,
}

impl Trainer {
    /// Starts training `head` with its own config's optimiser constants and seed.
    pub fn new(head: Head) -> Result<Self> {
        let cfg = head.config().clone();
        cfg.validate()?;
        let adam = Adam::new(AdamConfig::from(&cfg), &head.params())?;
        Ok(Self {
            head,
            adam,
            shuffle_rng: rng(cfg.seed, Stream::Shuffle),
            dropout_rng: rng(cfg.seed, Stream::Dropout),
            epoch: 0,
        })
    }

    /// The head as trained so far.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Ends training and returns the head.
    pub fn into_head(self) -> Head {
        self.head
    }

    /// The optimiser.
    pub fn adam(&self) -> &Adam {
        &self.adam
    }

    /// One optimiser step on a batch, with a dropout mask drawn from the trainer's stream.
    pub fn step(&mut self, features: &Tensor, labels: &[u32]) -> Result<BatchStats> {
        let n = features.dim(0)?;
        let mask = self.head.dropout_mask(n, &mut self.dropout_rng)?;
        self.step_with_mask(features, labels, mask.as_ref())
    }

    /// One optimiser step on a batch with a given dropout mask (`None`: no dropout),
    /// shaped `[batch, last hidden width]` with entries 0 or `1 / (1 - rate)`.
    pub fn step_with_mask(
        &mut self,
        features: &Tensor,
        labels: &[u32],
        mask: Option<&Tensor>,
    ) -> Result<BatchStats> {
        let (stats, grads) = self.head.loss_and_grads(features, labels, mask)?;
        let params = self.adam.step(&self.head.params(), &grads)?;
        self.head.set_params(params);
        Ok(stats)
    }

    /// One pass over `train` and, when given, an evaluation on `val`.
    pub fn epoch(
        &mut self,
        train: &LabelledFeatures,
        val: Option<&LabelledFeatures>,
    ) -> Result<EpochStats> {
        if train.is_empty() {
            return Err(Error::InvalidData("the training set is empty".into()));
        }
        let cfg = self.head.config().clone();
        let n = train.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        if cfg.shuffle {
            shuffle(&mut order, &mut self.shuffle_rng);
        }
        let device = train.features().device().clone();
        let (mut loss_sum, mut correct) = (0.0, 0);
        for batch in order.chunks(cfg.batch_size) {
            let idx = Tensor::new(batch, &device)?;
            let x = train.features().index_select(&idx, 0)?;
            let y: Vec<u32> = batch.iter().map(|&i| train.labels()[i as usize]).collect();
            let s = self.step(&x, &y)?;
            loss_sum += s.loss * s.len as f64;
            correct += s.correct;
        }
        self.epoch += 1;
        let (val_loss, val_accuracy) = match val {
            Some(v) => {
                let (l, a) = self.head.evaluate(v.features(), v.labels())?;
                (Some(l), Some(a))
            }
            None => (None, None),
        };
        Ok(EpochStats {
            epoch: self.epoch,
            train_loss: loss_sum / n as f64,
            train_accuracy: correct as f64 / n as f64,
            val_loss,
            val_accuracy,
        })
    }

    /// Runs the config's number of epochs.
    pub fn fit(
        &mut self,
        train: &LabelledFeatures,
        val: Option<&LabelledFeatures>,
    ) -> Result<History> {
        let mut history = History::default();
        for _ in 0..self.head.config().epochs {
            history.epochs.push(self.epoch(train, val)?);
        }
        Ok(history)
    }
}

/// Trains a fresh head on `train` (optionally validating on `val`) with every choice
/// taken from `cfg`: initial weights from the seed's init stream, then
/// [`Trainer::fit`]. Runs on the device the training features live on.
pub fn train(
    cfg: &TrainConfig,
    train: &LabelledFeatures,
    val: Option<&LabelledFeatures>,
) -> Result<(Head, History)> {
    cfg.validate()?;
    if let Some(v) = val
        && v.dim() != train.dim()
    {
        return Err(Error::InvalidData(format!(
            "validation features have {} columns, training features {}",
            v.dim(),
            train.dim()
        )));
    }
    let device = train.features().device().clone();
    let head = Head::new(train.dim(), cfg, &mut rng(cfg.seed, Stream::Init), &device)?;
    let mut trainer = Trainer::new(head)?;
    let history = trainer.fit(train, val)?;
    Ok((trainer.into_head(), history))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_features_reject_bad_shapes_and_labels() {
        let dev = Device::Cpu;
        assert!(LabelledFeatures::from_rows(vec![0.0; 5], 2, vec![0, 1], &dev).is_err());
        let err = LabelledFeatures::from_rows(vec![0.0; 4], 2, vec![0, 3], &dev).unwrap_err();
        assert!(err.to_string().contains("label 3 at index 1"), "{err}");
        let t = Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap();
        assert!(LabelledFeatures::new(t, vec![0; 4]).is_err());
        let ok = LabelledFeatures::from_rows(vec![0.0; 6], 3, vec![0, 1], &dev).unwrap();
        assert_eq!((ok.len(), ok.dim()), (2, 3));
    }

    #[test]
    fn empty_training_set_is_an_error() {
        let dev = Device::Cpu;
        let data = LabelledFeatures::from_rows(vec![], 3, vec![], &dev).unwrap();
        let cfg = TrainConfig {
            hidden: vec![4],
            ..TrainConfig::paper()
        };
        assert!(matches!(
            train(&cfg, &data, None),
            Err(Error::InvalidData(_))
        ));
    }
}
