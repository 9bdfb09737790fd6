//! The paper's classification head on frozen features: `Dense(1024) ReLU, Dense(256)
//! ReLU, Dense(28) ReLU, Dropout, Dense(2), softmax` (hidden widths and dropout rate come
//! from [`TrainConfig`]).
//!
//! Weights follow Keras's layout and defaults: each `Dense` holds a kernel `[in, out]`
//! (so `y = x K + b`) initialised Glorot-uniform, `U(-l, l)` with `l = sqrt(6 / (in +
//! out))`, and a zero bias. Dropout is Keras's inverted dropout: at train time each unit
//! is kept with probability `1 - rate` and scaled by `1 / (1 - rate)`; at inference it is
//! the identity.
//!
//! The backward pass is written out by hand rather than taken from candle's autograd: the
//! network is a plain MLP, and the explicit form fixes the ReLU derivative at zero to 0
//! (as TensorFlow and JAX do; candle's autograd uses 1), avoids building a graph per
//! step, and runs unchanged on the CPU and CUDA.
//!
//! Checkpoint keys are `dense_{i}.kernel` and `dense_{i}.bias`, `i = 0` at the input and
//! `i = hidden.len()` for the 2-way output layer.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use mias_core::rng::{RngCore, unit_f32};

/// Classes of the head's softmax: 0 normal, 1 abnormal.
pub const CLASSES: usize = 2;

/// Rows per forward pass when predicting or evaluating.
const INFERENCE_BATCH: usize = 256;

/// A trained or freshly initialised head.
#[derive(Debug, Clone)]
pub struct Head {
    cfg: TrainConfig,
    input_dim: usize,
    kernels: Vec<Tensor>,
    biases: Vec<Tensor>,
}

/// Loss and accuracy of one batch, as seen during the step that trained on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// Mean categorical cross-entropy over the batch.
    pub loss: f64,
    /// Samples whose larger softmax output is their label's.
    pub correct: usize,
    /// Samples in the batch.
    pub len: usize,
}

impl Head {
    /// A fresh head for `input_dim` features: Glorot-uniform kernels drawn from `rng` layer
    /// by layer, each in row-major `[in, out]` order, and zero biases.
    pub fn new(
        input_dim: usize,
        cfg: &TrainConfig,
        rng: &mut impl RngCore,
        device: &Device,
    ) -> Result<Self> {
        cfg.validate()?;
        if input_dim == 0 {
            return Err(Error::InvalidData("input dimension is 0".into()));
        }
        let mut kernels = Vec::new();
        let mut biases = Vec::new();
        for (_, fan_in, fan_out) in layer_dims(input_dim, &cfg.hidden) {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            let data: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| (2.0 * unit_f32(rng) - 1.0) * limit)
                .collect();
            kernels.push(Tensor::from_vec(data, (fan_in, fan_out), device)?);
            biases.push(Tensor::zeros(fan_out, DType::F32, device)?);
        }
        Ok(Self {
            cfg: cfg.clone(),
            input_dim,
            kernels,
            biases,
        })
    }

    /// A head from named tensors (`dense_{i}.kernel`, `dense_{i}.bias`); `source` names
    /// where they came from in errors. Every key must be present with its exact shape and
    /// dtype f32, and no other key may be.
    pub fn from_tensors(
        input_dim: usize,
        cfg: &TrainConfig,
        tensors: &HashMap<String, Tensor>,
        source: &Path,
    ) -> Result<Self> {
        cfg.validate()?;
        let expected = Self::expected_shapes(input_dim, cfg);
        for key in tensors.keys() {
            if !expected.iter().any(|(k, _)| k == key) {
                return Err(Error::UnexpectedKey {
                    path: source.to_path_buf(),
                    key: key.clone(),
                });
            }
        }
        let mut params = Vec::with_capacity(expected.len());
        for (key, shape) in &expected {
            let t = tensors.get(key).ok_or_else(|| Error::MissingKey {
                path: source.to_path_buf(),
                key: key.clone(),
            })?;
            if t.dims() != shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    path: source.to_path_buf(),
                    key: key.clone(),
                    expected: shape.clone(),
                    actual: t.dims().to_vec(),
                });
            }
            if t.dtype() != DType::F32 {
                return Err(Error::DTypeMismatch {
                    path: source.to_path_buf(),
                    key: key.clone(),
                    actual: format!("{:?}", t.dtype()).to_lowercase(),
                });
            }
            params.push(t.clone());
        }
        let mut head = Self {
            cfg: cfg.clone(),
            input_dim,
            kernels: Vec::new(),
            biases: Vec::new(),
        };
        head.set_params(params);
        Ok(head)
    }

    /// Names and shapes of the tensors a head with this config holds, in parameter order
    /// (kernel then bias, input layer first).
    pub fn expected_shapes(input_dim: usize, cfg: &TrainConfig) -> Vec<(String, Vec<usize>)> {
        layer_dims(input_dim, &cfg.hidden)
            .flat_map(|(i, fan_in, fan_out)| {
                [
                    (format!("dense_{i}.kernel"), vec![fan_in, fan_out]),
                    (format!("dense_{i}.bias"), vec![fan_out]),
                ]
            })
            .collect()
    }

    /// The named tensors, in parameter order.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        Self::expected_shapes(self.input_dim, &self.cfg)
            .into_iter()
            .map(|(k, _)| k)
            .zip(self.params())
            .collect()
    }

    /// The parameters in order: kernel 0, bias 0, kernel 1, bias 1, ...
    pub fn params(&self) -> Vec<Tensor> {
        self.kernels
            .iter()
            .zip(&self.biases)
            .flat_map(|(k, b)| [k.clone(), b.clone()])
            .collect()
    }

    /// Replaces the parameters, given in [`Head::params`] order and shapes.
    pub(crate) fn set_params(&mut self, params: Vec<Tensor>) {
        self.kernels.clear();
        self.biases.clear();
        let mut it = params.into_iter();
        while let (Some(k), Some(b)) = (it.next(), it.next()) {
            self.kernels.push(k);
            self.biases.push(b);
        }
    }

    /// The config the head was built with.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Features per sample.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.kernels[0].device()
    }

    /// A copy of the head on another device.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        let params = self
            .params()
            .iter()
            .map(|p| p.to_device(device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut head = self.clone();
        head.set_params(params);
        Ok(head)
    }

    /// Logits `[n, 2]` at inference (dropout off) for features `[n, input_dim]`.
    pub fn logits(&self, features: &Tensor) -> Result<Tensor> {
        self.check_features(features)?;
        let last = self.kernels.len() - 1;
        let mut h = features.clone();
        for i in 0..last {
            h = self.dense(i, &h)?.relu()?;
        }
        self.dense(last, &h)
    }

    /// Softmax outputs `[n, 2]` (normal, abnormal) at inference, computed in batches.
    pub fn predict_softmax(&self, features: &Tensor) -> Result<Tensor> {
        self.check_features(features)?;
        let n = features.dim(0)?;
        let mut parts = Vec::with_capacity(n.div_ceil(INFERENCE_BATCH));
        for start in (0..n).step_by(INFERENCE_BATCH) {
            let len = INFERENCE_BATCH.min(n - start);
            let logits = self.logits(&features.narrow(0, start, len)?)?;
            parts.push(candle_nn::ops::softmax_last_dim(&logits)?);
        }
        if parts.is_empty() {
            return Ok(Tensor::zeros((0, CLASSES), DType::F32, features.device())?);
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// The probability of abnormal (softmax output 1) for each row of `[n, input_dim]`.
    pub fn predict_proba(&self, features: &Tensor) -> Result<Vec<f32>> {
        let p = self.predict_softmax(features)?;
        Ok(p.narrow(1, 1, 1)?.squeeze(1)?.to_vec1::<f32>()?)
    }

    /// Mean cross-entropy and accuracy at inference over `features` with `labels` (0/1).
    pub fn evaluate(&self, features: &Tensor, labels: &[u32]) -> Result<(f64, f64)> {
        self.check_features(features)?;
        let n = features.dim(0)?;
        check_labels(labels, n)?;
        if n == 0 {
            return Err(Error::InvalidData("cannot evaluate on 0 samples".into()));
        }
        let (mut loss, mut correct) = (0.0, 0);
        for start in (0..n).step_by(INFERENCE_BATCH) {
            let len = INFERENCE_BATCH.min(n - start);
            let logits = self.logits(&features.narrow(0, start, len)?)?;
            let s = batch_stats(&logits, &labels[start..start + len])?;
            loss += s.loss * len as f64;
            correct += s.correct;
        }
        Ok((loss / n as f64, correct as f64 / n as f64))
    }

    /// A dropout mask `[rows, last hidden width]` drawn row-major from `rng`: each entry is
    /// `1 / (1 - rate)` where the draw `u` in `[0, 1)` has `u >= rate`, else 0. `None`
    /// when the rate is 0 (no draws are made).
    pub fn dropout_mask(&self, rows: usize, rng: &mut impl RngCore) -> Result<Option<Tensor>> {
        let rate = self.cfg.dropout as f32;
        if rate == 0.0 {
            return Ok(None);
        }
        let width = *self.cfg.hidden.last().unwrap_or(&0);
        let keep = 1.0 / (1.0 - rate);
        let data: Vec<f32> = (0..rows * width)
            .map(|_| if unit_f32(rng) >= rate { keep } else { 0.0 })
            .collect();
        Ok(Some(Tensor::from_vec(data, (rows, width), self.device())?))
    }

    /// Forward and backward pass of one training batch: the batch's loss and accuracy and
    /// the gradient of the mean loss for each parameter, in [`Head::params`] order.
    /// `mask` (from [`Head::dropout_mask`] or given) multiplies the last hidden layer's
    /// output; `None` means no dropout.
    pub fn loss_and_grads(
        &self,
        features: &Tensor,
        labels: &[u32],
        mask: Option<&Tensor>,
    ) -> Result<(BatchStats, Vec<Tensor>)> {
        self.check_features(features)?;
        let n = features.dim(0)?;
        check_labels(labels, n)?;
        if n == 0 {
            return Err(Error::InvalidData("cannot train on an empty batch".into()));
        }
        let last = self.kernels.len() - 1;
        if let Some(m) = mask {
            let want = [n, self.cfg.hidden[last - 1]];
            if m.dims() != want {
                return Err(Error::InvalidData(format!(
                    "dropout mask has shape {:?}, expected {want:?}",
                    m.dims()
                )));
            }
        }

        // Forward, keeping each layer's input and each hidden pre-activation.
        let mut inputs = Vec::with_capacity(last + 1);
        let mut pre = Vec::with_capacity(last);
        let mut h = features.clone();
        for i in 0..last {
            let z = self.dense(i, &h)?;
            let mut a = z.relu()?;
            if i == last - 1
                && let Some(m) = mask
            {
                a = (a * m)?;
            }
            inputs.push(h);
            pre.push(z);
            h = a;
        }
        inputs.push(h);
        let logits = self.dense(last, &inputs[last])?;
        let stats = batch_stats(&logits, labels)?;

        // Backward. d(mean CE)/d(logits) = (softmax - onehot) / n.
        let onehot = one_hot(labels, features.device())?;
        let probs = candle_nn::ops::softmax_last_dim(&logits)?;
        let mut dz = (probs - onehot)?.affine(1.0 / n as f64, 0.0)?;
        let mut grads = vec![None; 2 * (last + 1)];
        for i in (0..=last).rev() {
            grads[2 * i] = Some(inputs[i].t()?.matmul(&dz)?);
            grads[2 * i + 1] = Some(dz.sum(0)?);
            if i == 0 {
                break;
            }
            let mut dh = dz.matmul(&self.kernels[i].t()?)?;
            if i == last
                && let Some(m) = mask
            {
                dh = (dh * m)?;
            }
            let relu_grad = pre[i - 1].gt(0f32)?.to_dtype(DType::F32)?;
            dz = (dh * relu_grad)?;
        }
        Ok((stats, grads.into_iter().flatten().collect()))
    }

    fn dense(&self, i: usize, x: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&self.kernels[i])?.broadcast_add(&self.biases[i])?)
    }

    fn check_features(&self, features: &Tensor) -> Result<()> {
        match features.dims() {
            [_, d] if *d == self.input_dim => {}
            dims => {
                return Err(Error::InvalidData(format!(
                    "features have shape {dims:?}, expected [n, {}]",
                    self.input_dim
                )));
            }
        }
        if features.dtype() != DType::F32 {
            return Err(Error::InvalidData(format!(
                "features have dtype {:?}, expected f32",
                features.dtype()
            )));
        }
        Ok(())
    }
}

/// `(index, fan_in, fan_out)` of each dense layer, the 2-way output last.
fn layer_dims(input_dim: usize, hidden: &[usize]) -> impl Iterator<Item = (usize, usize, usize)> {
    let ins = std::iter::once(input_dim).chain(hidden.iter().copied());
    let outs = hidden.iter().copied().chain(std::iter::once(CLASSES));
    ins.zip(outs).enumerate().map(|(i, (a, b))| (i, a, b))
}

/// Checks that there is one label per sample and each is 0 or 1.
pub(crate) fn check_labels(labels: &[u32], n: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::InvalidData(format!(
            "{} labels for {n} samples",
            labels.len()
        )));
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l >= CLASSES as u32)
    {
        return Err(Error::InvalidData(format!(
            "label {l} at index {i} is neither 0 (normal) nor 1 (abnormal)"
        )));
    }
    Ok(())
}

fn one_hot(labels: &[u32], device: &Device) -> Result<Tensor> {
    let mut data = vec![0f32; labels.len() * CLASSES];
    for (row, &l) in labels.iter().enumerate() {
        data[row * CLASSES + l as usize] = 1.0;
    }
    Ok(Tensor::from_vec(data, (labels.len(), CLASSES), device)?)
}

/// Mean cross-entropy (via a max-shifted log-softmax, in f64) and correct count of logits.
fn batch_stats(logits: &Tensor, labels: &[u32]) -> Result<BatchStats> {
    let rows = logits.to_vec2::<f32>()?;
    let mut loss = 0.0;
    let mut correct = 0;
    for (z, &l) in rows.iter().zip(labels) {
        let (z0, z1) = (z[0] as f64, z[1] as f64);
        let max = z0.max(z1);
        let log_sum = max + ((z0 - max).exp() + (z1 - max).exp()).ln();
        loss += log_sum - if l == 1 { z1 } else { z0 };
        // Keras's argmax takes the first index on ties.
        let predicted = u32::from(z1 > z0);
        correct += usize::from(predicted == l);
    }
    Ok(BatchStats {
        loss: loss / labels.len() as f64,
        correct,
        len: labels.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng};

    fn small() -> TrainConfig {
        TrainConfig {
            hidden: vec![5, 4, 3],
            ..TrainConfig::paper()
        }
    }

    #[test]
    fn glorot_limits_and_zero_biases() {
        let cfg = TrainConfig::paper();
        let head = Head::new(512, &cfg, &mut rng(1, Stream::Init), &Device::Cpu).unwrap();
        let shapes: Vec<_> = head
            .tensors()
            .iter()
            .map(|(k, t)| (k.clone(), t.dims().to_vec()))
            .collect();
        assert_eq!(shapes, Head::expected_shapes(512, &cfg));
        assert_eq!(shapes[0], ("dense_0.kernel".into(), vec![512, 1024]));
        assert_eq!(shapes[7], ("dense_3.bias".into(), vec![2]));
        for (i, (fi, fo)) in [(512, 1024), (1024, 256), (256, 28), (28, 2)]
            .into_iter()
            .enumerate()
        {
            let limit = (6.0f64 / (fi + fo) as f64).sqrt();
            let k = head.kernels[i]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let max = k.iter().fold(0f64, |m, x| m.max(x.abs() as f64));
            assert!(
                max <= limit && max > 0.9 * limit,
                "layer {i}: max {max}, limit {limit}"
            );
            // Variance of U(-l, l) is l^2 / 3. The mean of n squares estimates it with a
            // relative standard deviation of sqrt(4/45) * 3 / sqrt(n) (E x^4 = l^4 / 5):
            // allow 4 of them (0.5% for the first layer, 48% for the 56 weights of the last).
            let var = k.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / k.len() as f64;
            let tolerance = 4.0 * 3.0 * (4.0f64 / 45.0).sqrt() / (k.len() as f64).sqrt();
            assert!(
                (var / (limit * limit / 3.0) - 1.0).abs() < tolerance,
                "layer {i}: var {var}, tolerance {tolerance}"
            );
            let b = head.biases[i].to_vec1::<f32>().unwrap();
            assert!(b.iter().all(|x| *x == 0.0));
        }
    }

    #[test]
    fn same_seed_same_head() {
        let a = Head::new(6, &small(), &mut rng(9, Stream::Init), &Device::Cpu).unwrap();
        let b = Head::new(6, &small(), &mut rng(9, Stream::Init), &Device::Cpu).unwrap();
        let c = Head::new(6, &small(), &mut rng(10, Stream::Init), &Device::Cpu).unwrap();
        let flat = |h: &Head| -> Vec<f32> {
            h.params()
                .iter()
                .flat_map(|p| p.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .collect()
        };
        assert_eq!(flat(&a), flat(&b));
        assert_ne!(flat(&a), flat(&c));
    }

    #[test]
    fn dropout_mask_keeps_about_one_minus_rate_scaled() {
        let head = Head::new(6, &small(), &mut rng(0, Stream::Init), &Device::Cpu).unwrap();
        let m = head
            .dropout_mask(2000, &mut rng(0, Stream::Dropout))
            .unwrap()
            .unwrap();
        assert_eq!(m.dims(), [2000, 3]);
        let v = m.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| *x == 0.0 || *x == 2.0));
        let kept = v.iter().filter(|x| **x == 2.0).count() as f64 / v.len() as f64;
        // 6000 Bernoulli(0.5) draws: sd 0.0065; 5 sd.
        assert!((kept - 0.5).abs() < 0.033, "{kept}");
        let mut none = small();
        none.dropout = 0.0;
        let head = Head::new(6, &none, &mut rng(0, Stream::Init), &Device::Cpu).unwrap();
        assert!(
            head.dropout_mask(4, &mut rng(0, Stream::Dropout))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Central differences in f64 on a copy of the head promoted to f64 would need a
        // second forward; instead use f32 with a step large enough for f32 rounding and
        // compare a few coordinates of every parameter.
        let cfg = small();
        let dev = Device::Cpu;
        let head = Head::new(4, &cfg, &mut rng(3, Stream::Init), &dev).unwrap();
        // Non-zero biases so that every code path sees them.
        let mut params = head.params();
        for (j, p) in params.iter_mut().enumerate() {
            if j % 2 == 1 {
                *p = (p.ones_like().unwrap() * 0.05).unwrap();
            }
        }
        let mut head = head;
        head.set_params(params);
        let x = Tensor::new(
            &[
                [0.5f32, -1.0, 0.25, 2.0],
                [1.5, 0.3, -0.7, 0.1],
                [-0.2, 0.8, 1.1, -1.3],
            ],
            &dev,
        )
        .unwrap();
        let y = [1u32, 0, 1];
        let mask = Tensor::new(
            &[[2.0f32, 0.0, 2.0], [2.0, 2.0, 0.0], [0.0, 2.0, 2.0]],
            &dev,
        )
        .unwrap();
        let (_, grads) = head.loss_and_grads(&x, &y, Some(&mask)).unwrap();
        let loss_at = |h: &Head| h.loss_and_grads(&x, &y, Some(&mask)).unwrap().0.loss;
        let h = 1e-3f32;
        for (j, g) in grads.iter().enumerate() {
            let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for idx in [0, g.len() / 2, g.len() - 1] {
                let bumped = |delta: f32| {
                    let mut ps = head.params();
                    let mut v = ps[j].flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    v[idx] += delta;
                    ps[j] = Tensor::from_vec(v, ps[j].dims(), &dev).unwrap();
                    let mut h2 = head.clone();
                    h2.set_params(ps);
                    loss_at(&h2)
                };
                let numeric = (bumped(h) - bumped(-h)) / (2.0 * h as f64);
                assert!(
                    (numeric - g[idx] as f64).abs() < 2e-3,
                    "param {j}[{idx}]: analytic {}, numeric {numeric}",
                    g[idx]
                );
            }
        }
    }

    #[test]
    fn relu_derivative_at_zero_is_zero() {
        // Zero features and zero biases make every pre-activation exactly 0, so the logits
        // are 0, softmax is (1/2, 1/2) and, by hand, only the output bias gets a gradient:
        // mean over rows of (p - onehot) = ([-1/2, 1/2] + 2 [1/2, -1/2]) / 3 = [1/6, -1/6].
        // With a ReLU derivative of 1 at 0 (candle's autograd), the hidden biases would
        // get gradients too.
        let head = Head::new(4, &small(), &mut rng(0, Stream::Init), &Device::Cpu).unwrap();
        let x = Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
        let (stats, grads) = head.loss_and_grads(&x, &[0, 1, 1], None).unwrap();
        assert!((stats.loss - std::f64::consts::LN_2).abs() < 1e-7);
        // Ties go to class 0, as Keras's argmax does.
        assert_eq!(stats.correct, 1);
        for (j, g) in grads.iter().enumerate().take(grads.len() - 1) {
            let v = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(v.iter().all(|x| *x == 0.0), "param {j}: {v:?}");
        }
        let out_bias = grads.last().unwrap().to_vec1::<f32>().unwrap();
        assert!((out_bias[0] - 1.0 / 6.0).abs() < 1e-7 && (out_bias[1] + 1.0 / 6.0).abs() < 1e-7);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let head = Head::new(4, &small(), &mut rng(0, Stream::Init), &Device::Cpu).unwrap();
        let x = Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(head.predict_proba(&x), Err(Error::InvalidData(_))));
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            head.evaluate(&x, &[0]),
            Err(Error::InvalidData(_))
        ));
        let err = head.evaluate(&x, &[0, 2]).unwrap_err();
        assert!(err.to_string().contains("label 2 at index 1"), "{err}");
        let bad_mask = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            head.loss_and_grads(&x, &[0, 1], Some(&bad_mask)),
            Err(Error::InvalidData(_))
        ));
    }
}
