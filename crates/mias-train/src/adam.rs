//! Adam with the semantics of Keras 3 (`keras/src/optimizers/adam.py`, `update_step`),
//! without weight decay, AMSGrad, clipping or EMA.
//!
//! For step `t = 1, 2, ...` and each parameter `w` with gradient `g`, Keras 3 does
//!
//! ```text
//! alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//! m    += (g   - m) * (1 - beta_1)
//! v    += (g^2 - v) * (1 - beta_2)
//! w    -= (m * alpha) / (sqrt(v) + epsilon)
//! ```
//!
//! which is the textbook `m = beta_1 m + (1 - beta_1) g` written as an increment, with the
//! bias corrections folded into the step size and epsilon added to the uncorrected
//! `sqrt(v)` (Keras's "epsilon hat"). This module implements exactly that increment form,
//! in f32 on the parameters' device. The bias-correction factor is computed in f64 from
//! running products of the betas (no `powf`, so it is bit-identical on every machine) and
//! rounded to f32 once; Keras rounds the betas and their powers to f32 first, which moves
//! `alpha` by at most a few f32 ulps.
//!
//! On the CPU the update runs as one fused loop over host vectors (candle would make a
//! pass and an allocation per elementwise op: about 30x slower for the paper's 800k
//! parameters); on other devices it runs as candle tensor ops. Both evaluate the same f32
//! expressions in the same order, so they agree bit for bit (tested).

use candle_core::Tensor;
use rayon::prelude::*;

use crate::config::TrainConfig;
use crate::error::{Error, Result};

/// Adam's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// The learning rate.
    pub learning_rate: f64,
    /// Decay of the first moment.
    pub beta_1: f64,
    /// Decay of the second moment.
    pub beta_2: f64,
    /// Added to `sqrt(v)`.
    pub epsilon: f64,
}

impl Default for AdamConfig {
    /// The paper's: learning rate 5e-5 and Keras's betas and epsilon.
    fn default() -> Self {
        Self::from(&TrainConfig::paper())
    }
}

impl From<&TrainConfig> for AdamConfig {
    fn from(c: &TrainConfig) -> Self {
        Self {
            learning_rate: c.learning_rate,
            beta_1: c.beta_1,
            beta_2: c.beta_2,
            epsilon: c.epsilon,
        }
    }
}

/// The optimiser's state: the step count and both moments of every parameter.
#[derive(Debug, Clone)]
pub struct Adam {
    cfg: AdamConfig,
    step: u64,
    beta_1_power: f64,
    beta_2_power: f64,
    moments: Moments,
}

/// First and second moments, on the host (CPU parameters) or on the parameters' device.
#[derive(Debug, Clone)]
enum Moments {
    Host { m: Vec<Vec<f32>>, v: Vec<Vec<f32>> },
    Device { m: Vec<Tensor>, v: Vec<Tensor> },
}

impl Moments {
    fn len(&self) -> usize {
        match self {
            Moments::Host { m, .. } => m.len(),
            Moments::Device { m, .. } => m.len(),
        }
    }
}

/// The f32 scalars of one update.
#[derive(Debug, Clone, Copy)]
struct Scalars {
    alpha: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    eps: f32,
}

impl Adam {
    /// A fresh optimiser for parameters shaped like `params` (moments start at zero).
    pub fn new(cfg: AdamConfig, params: &[Tensor]) -> Result<Self> {
        let on_cpu = params.iter().all(|p| p.device().is_cpu());
        Self::with_moments(cfg, params, on_cpu)
    }

    fn with_moments(cfg: AdamConfig, params: &[Tensor], host: bool) -> Result<Self> {
        let moments = if host {
            let m: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.elem_count()]).collect();
            Moments::Host { v: m.clone(), m }
        } else {
            let m = params
                .iter()
                .map(|p| p.zeros_like())
                .collect::<candle_core::Result<Vec<_>>>()?;
            Moments::Device { v: m.clone(), m }
        };
        Ok(Self {
            cfg,
            step: 0,
            beta_1_power: 1.0,
            beta_2_power: 1.0,
            moments,
        })
    }

    /// The constants in use.
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }

    /// Steps taken so far (Keras's `iterations`).
    pub fn iterations(&self) -> u64 {
        self.step
    }

    /// Applies one update to every parameter and returns the new parameters, in order.
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor]) -> Result<Vec<Tensor>> {
        let held = self.moments.len();
        if params.len() != held || grads.len() != held {
            return Err(Error::InvalidData(format!(
                "adam holds {held} parameters, got {} parameters and {} gradients",
                params.len(),
                grads.len()
            )));
        }
        for (i, (w, g)) in params.iter().zip(grads).enumerate() {
            if w.dims() != g.dims() {
                return Err(Error::InvalidData(format!(
                    "adam parameter {i} has shape {:?} but its gradient {:?}",
                    w.dims(),
                    g.dims()
                )));
            }
        }
        let c = self.cfg;
        self.step += 1;
        self.beta_1_power *= c.beta_1;
        self.beta_2_power *= c.beta_2;
        let alpha = c.learning_rate * (1.0 - self.beta_2_power).sqrt() / (1.0 - self.beta_1_power);
        // Every scalar rounded to f32, as Keras does for float32 variables.
        let k = Scalars {
            alpha: alpha as f32,
            one_minus_b1: (1.0 - c.beta_1) as f32,
            one_minus_b2: (1.0 - c.beta_2) as f32,
            eps: c.epsilon as f32,
        };
        match &mut self.moments {
            Moments::Host { m, v } => step_host(k, params, grads, m, v),
            Moments::Device { m, v } => step_device(k, params, grads, m, v),
        }
    }
}

fn step_host(
    k: Scalars,
    params: &[Tensor],
    grads: &[Tensor],
    ms: &mut [Vec<f32>],
    vs: &mut [Vec<f32>],
) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(params.len());
    for (((w, g), m), v) in params.iter().zip(grads).zip(ms).zip(vs) {
        let mut wv = w.flatten_all()?.to_vec1::<f32>()?;
        let gv = g.flatten_all()?.to_vec1::<f32>()?;
        // Each element on its own, so splitting the work over threads changes no bit; a head
        // on flattened feature maps has tens of millions of weights, where this loop dominates.
        wv.par_iter_mut()
            .zip(gv.par_iter())
            .zip(m.par_iter_mut())
            .zip(v.par_iter_mut())
            .with_min_len(1 << 14)
            .for_each(|(((wi, &gi), mi), vi)| {
                *mi += (gi - *mi) * k.one_minus_b1;
                *vi += (gi * gi - *vi) * k.one_minus_b2;
                *wi -= (*mi * k.alpha) / (vi.sqrt() + k.eps);
            });
        out.push(Tensor::from_vec(wv, w.shape(), w.device())?);
    }
    Ok(out)
}

fn step_device(
    k: Scalars,
    params: &[Tensor],
    grads: &[Tensor],
    ms: &mut [Tensor],
    vs: &mut [Tensor],
) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(params.len());
    for (((w, g), m), v) in params.iter().zip(grads).zip(ms).zip(vs) {
        // `affine(a, 0)` is `x * a + 0` and `affine(1, e)` is `x * 1 + e`: the same f32
        // results as the host loop.
        let m_new = (&*m + (g - &*m)?.affine(k.one_minus_b1 as f64, 0.0)?)?;
        let v_new = (&*v + (g.sqr()? - &*v)?.affine(k.one_minus_b2 as f64, 0.0)?)?;
        let update = m_new
            .affine(k.alpha as f64, 0.0)?
            .div(&v_new.sqrt()?.affine(1.0, k.eps as f64)?)?;
        out.push((w - update)?);
        *m = m_new;
        *v = v_new;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A scalar Adam in f64 written from the textbook form (not the increment form), with
    /// explicit bias-corrected moments: an independent check of the tensor version.
    fn textbook(cfg: AdamConfig, w0: f64, grads: &[f64]) -> f64 {
        let (mut w, mut m, mut v) = (w0, 0.0, 0.0);
        for (t, &g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            m = cfg.beta_1 * m + (1.0 - cfg.beta_1) * g;
            v = cfg.beta_2 * v + (1.0 - cfg.beta_2) * g * g;
            let lr_t =
                cfg.learning_rate * (1.0 - cfg.beta_2.powi(t)).sqrt() / (1.0 - cfg.beta_1.powi(t));
            w -= lr_t * m / (v.sqrt() + cfg.epsilon);
        }
        w
    }

    #[test]
    fn matches_the_textbook_form_over_several_steps() {
        let cfg = AdamConfig {
            learning_rate: 1e-2,
            ..AdamConfig::default()
        };
        let dev = Device::Cpu;
        let w0 = [0.5f32, -0.25, 1.0e-3, 2.0];
        // Gradients of different scales and signs, one tiny (close to epsilon).
        let gs: [[f32; 4]; 4] = [
            [0.3, -1.0, 1e-7, 5.0],
            [0.1, -0.5, -2e-7, 4.0],
            [-0.2, 0.25, 1e-7, -3.0],
            [0.05, 0.0, 0.0, 1.0],
        ];
        let mut w = vec![Tensor::new(&w0, &dev).unwrap()];
        let mut adam = Adam::new(cfg, &w).unwrap();
        for g in &gs {
            w = adam.step(&w, &[Tensor::new(g, &dev).unwrap()]).unwrap();
        }
        assert_eq!(adam.iterations(), 4);
        let got = w[0].to_vec1::<f32>().unwrap();
        for j in 0..4 {
            let grads: Vec<f64> = gs.iter().map(|g| g[j] as f64).collect();
            let want = textbook(cfg, w0[j] as f64, &grads);
            assert!(
                (got[j] as f64 - want).abs() < 2e-6,
                "element {j}: {} vs {want}",
                got[j]
            );
        }
    }

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // At t = 1, m / sqrt(v) = g / |g| once bias-corrected, so |dw| = lr (up to eps).
        let dev = Device::Cpu;
        let w = vec![Tensor::new(&[1.0f32, 1.0, 1.0], &dev).unwrap()];
        let mut adam = Adam::new(AdamConfig::default(), &w).unwrap();
        let g = Tensor::new(&[3.0f32, -0.01, 0.0], &dev).unwrap();
        let out = adam.step(&w, &[g]).unwrap()[0].to_vec1::<f32>().unwrap();
        assert!((out[0] - (1.0 - 5e-5)).abs() < 1e-7, "{out:?}");
        assert!((out[1] - (1.0 + 5e-5)).abs() < 1e-7, "{out:?}");
        assert_eq!(out[2], 1.0);
    }

    #[test]
    fn host_and_device_paths_agree_bit_for_bit() {
        let dev = Device::Cpu;
        let cfg = AdamConfig {
            learning_rate: 3e-3,
            ..AdamConfig::default()
        };
        let w0: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut a = vec![Tensor::from_vec(w0.clone(), (8, 8), &dev).unwrap()];
        let mut b = a.clone();
        let mut host = Adam::with_moments(cfg, &a, true).unwrap();
        let mut device = Adam::with_moments(cfg, &b, false).unwrap();
        for step in 0..5 {
            let g: Vec<f32> = (0..64)
                .map(|i| ((i * 7 + step * 3) as f32 * 0.11).cos() * 10f32.powi(i % 5 - 4))
                .collect();
            let g = [Tensor::from_vec(g, (8, 8), &dev).unwrap()];
            a = host.step(&a, &g).unwrap();
            b = device.step(&b, &g).unwrap();
        }
        let (a, b) = (
            a[0].flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b[0].flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_ne!(a, w0);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn mismatched_gradients_are_an_error() {
        let dev = Device::Cpu;
        let w = vec![Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap()];
        let mut adam = Adam::new(AdamConfig::default(), &w).unwrap();
        let g = Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap();
        assert!(matches!(adam.step(&w, &[g]), Err(Error::InvalidData(_))));
        assert!(matches!(adam.step(&w, &[]), Err(Error::InvalidData(_))));
        assert_eq!(adam.iterations(), 0);
    }
}
