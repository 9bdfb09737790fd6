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

use candle_core::Tensor;

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
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// A fresh optimiser for parameters shaped like `params` (moments start at zero).
    pub fn new(cfg: AdamConfig, params: &[Tensor]) -> Result<Self> {
        let m = params
            .iter()
            .map(|p| p.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            cfg,
            step: 0,
            beta_1_power: 1.0,
            beta_2_power: 1.0,
            v: m.clone(),
            m,
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
        if params.len() != self.m.len() || grads.len() != self.m.len() {
            return Err(Error::InvalidData(format!(
                "adam holds {} parameters, got {} parameters and {} gradients",
                self.m.len(),
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
        // Round every scalar to f32 as Keras does for float32 variables.
        let alpha = alpha as f32 as f64;
        let one_minus_b1 = (1.0 - c.beta_1) as f32 as f64;
        let one_minus_b2 = (1.0 - c.beta_2) as f32 as f64;
        let eps = c.epsilon as f32 as f64;

        let mut out = Vec::with_capacity(params.len());
        for (i, (w, g)) in params.iter().zip(grads).enumerate() {
            let m = (&self.m[i] + (g - &self.m[i])?.affine(one_minus_b1, 0.0)?)?;
            let v = (&self.v[i] + (g.sqr()? - &self.v[i])?.affine(one_minus_b2, 0.0)?)?;
            let update = m.affine(alpha, 0.0)?.div(&v.sqrt()?.affine(1.0, eps)?)?;
            out.push((w - update)?);
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(out)
    }
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
