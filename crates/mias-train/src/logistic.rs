//! L2-regularised binary logistic regression on standardised features: the cell classifier
//! of the lesion method.
//!
//! [`LogisticRegression::fit`] reproduces scikit-learn's
//! `make_pipeline(StandardScaler(), LogisticRegression(C, class_weight, solver="lbfgs"))`:
//!
//! - **Standardisation** with the training rows' statistics only: each feature's mean and
//!   population standard deviation (`ddof = 0`), computed in f64 and stored with the model;
//!   a constant feature (variance within rounding of zero, sklearn's rule) gets scale 1.
//!   New rows are standardised with the stored statistics, never their own.
//! - **Objective**, minimised over the coefficients `w` (on standardised features `z`) and an
//!   unpenalised intercept `b`: `C * sum_i s_i * loss_i + 0.5 * ||w||^2`, with
//!   `loss_i = log(1 + exp(-y'_i (w.z_i + b)))`, `y'_i = +-1`, and `s_i` the sample weight
//!   times the class weight. [`ClassWeight::Balanced`] is sklearn's `"balanced"`: class `k`
//!   weighs `W / (2 * W_k)`, with `W_k` the total sample weight of class `k` and `W` that of
//!   both, so each class carries half the total weight; without sample weights this is
//!   `n / (2 * n_k)`. (scikit-learn 1.9 weighs by sample weights this way; releases before
//!   its `compute_class_weight` took `sample_weight` counted rows.)
//!   The solver works on the same objective divided by `sum_i s_i`, so the tolerance does not
//!   depend on the number of rows; the optimum is the same.
//! - **Solver**: full-batch L-BFGS (10 corrections) with a strong-Wolfe line search
//!   (`c1 = 1e-4`, `c2 = 0.9`, cubic interpolation), from zero. It stops when the largest
//!   gradient component of the normalised objective is at most [`LogisticConfig::tol`], or
//!   when a step lowers the objective by less than `64 * f64::EPSILON` relatively (sklearn's
//!   `ftol` for lbfgs), or after [`LogisticConfig::max_iter`] iterations;
//!   [`FitReport::converged`] says which happened, and a caller decides what to do with an
//!   unconverged fit.
//!
//! Each evaluation is one pass over the f32 rows, never copied or standardised in memory:
//! the centred row `x - mean` is formed in f64 per row, the margin and the gradient
//! contribution computed from it. Rows are cut into fixed blocks of 1,024 whose partial
//! sums are added in block order, so a fit is bit-identical for any number of threads.
//!
//! Why written here rather than taken from a crate: `linfa-logistic` (the Rust ecosystem's
//! logistic regression) takes neither sample nor class weights, needs the rows copied into an
//! `ndarray` of f64 (gigabytes at 100,000 x 2,048) and brings `ndarray`, `argmin` and `linfa`
//! for one solver; `argmin` alone would still leave the objective, the weights and the
//! standardisation to write. The objective and the L-BFGS loop are a few hundred lines,
//! tested against sklearn on a committed fixture.
//!
//! Models are saved as safetensors ([`LogisticRegression::save`]): f64 tensors `coef`,
//! `intercept`, `mean`, `scale`, and one metadata entry, [`META_LOGISTIC`], holding the
//! format tag, the dimension, the config and the fit report as JSON (fields in a fixed
//! order: one key, so the header is byte-identical for identical models).
//!
//! ```
//! use mias_train::{ClassWeight, LogisticConfig, LogisticRegression};
//!
//! # fn main() -> mias_train::Result<()> {
//! // Feature 0 separates the classes (with overlap), feature 1 is noise; 1 positive in 4.
//! let mut rows = Vec::new();
//! let mut labels = Vec::new();
//! for i in 0..200u32 {
//!     let label = u32::from(i % 4 == 0);
//!     let noise = ((i * 37) % 17) as f32 / 17.0 - 0.5;
//!     rows.extend([label as f32 * 2.0 + 3.0 * noise, 100.0 + noise]);
//!     labels.push(label);
//! }
//! let cfg = LogisticConfig { c: 1.0, class_weight: ClassWeight::Balanced, ..LogisticConfig::default() };
//! let model = LogisticRegression::fit(&rows, 2, &labels, None, &cfg)?;
//! assert!(model.report().converged);
//! assert!(model.coef()[0] > 0.5 && model.coef()[1].abs() < model.coef()[0]);
//! let p = model.predict_proba(&[2.0, 100.0, 0.0, 100.0])?;
//! assert!(p[0] > 0.5 && p[1] < 0.5);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use rayon::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format tag of a saved logistic regression.
pub const LOGISTIC_FORMAT: &str = "mias-logistic/1";
/// The one metadata key of a saved logistic regression (JSON: format, dim, config, report).
pub const META_LOGISTIC: &str = "mias_logistic";

/// Rows per block of the parallel passes; partial sums are added in block order.
const BLOCK_ROWS: usize = 1024;
/// L-BFGS memory (scipy's default `maxcor`).
const MEMORY: usize = 10;
/// Relative decrease of the objective below which a step counts as no progress
/// (sklearn's `ftol` for lbfgs).
const FTOL: f64 = 64.0 * f64::EPSILON;
/// Function evaluations allowed per line search (sklearn's `maxls`).
const MAX_LINE_SEARCH: usize = 50;
const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// How the two classes are weighted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeight {
    /// sklearn's `"balanced"`: class `k` weighs `W / (2 * W_k)` (`n / (2 * n_k)` without
    /// sample weights).
    #[default]
    Balanced,
    /// Both classes weigh 1 (sklearn's `None`).
    Uniform,
}

/// Hyper-parameters of [`LogisticRegression::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticConfig {
    /// Inverse regularisation strength, sklearn's `C` (> 0): larger is weaker.
    pub c: f64,
    /// Class weights.
    pub class_weight: ClassWeight,
    /// Stop when the largest gradient component of the objective divided by the total
    /// weight is at most this (> 0).
    pub tol: f64,
    /// Most L-BFGS iterations (>= 1).
    pub max_iter: usize,
}

impl Default for LogisticConfig {
    /// `C = 1`, balanced classes, `tol = 1e-6`, at most 1,000 iterations.
    fn default() -> Self {
        LogisticConfig {
            c: 1.0,
            class_weight: ClassWeight::Balanced,
            tol: 1e-6,
            max_iter: 1000,
        }
    }
}

impl LogisticConfig {
    fn validate(&self) -> Result<()> {
        let bad = |field, value: String, reason| {
            Err(Error::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if !(self.c.is_finite() && self.c > 0.0) {
            return bad("c", self.c.to_string(), "must be a positive finite number");
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return bad(
                "tol",
                self.tol.to_string(),
                "must be a positive finite number",
            );
        }
        if self.max_iter == 0 {
            return bad("max_iter", "0".into(), "must be at least 1");
        }
        Ok(())
    }
}

/// How a fit went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitReport {
    /// Training rows.
    pub rows: usize,
    /// Training rows labelled 1.
    pub positives: usize,
    /// The class weights used, `[class 0, class 1]`, before the sample weights.
    pub class_weights: [f64; 2],
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Evaluations of the objective and its gradient (passes over the rows).
    pub evaluations: usize,
    /// True when the gradient or the objective's decrease fell below its tolerance; false
    /// when the iterations ran out or the line search found no lower point.
    pub converged: bool,
    /// The final objective divided by the total weight.
    pub objective: f64,
    /// The final largest gradient component of that objective.
    pub gradient_max: f64,
}

/// A fitted model: standardisation statistics, coefficients and intercept.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticRegression {
    config: LogisticConfig,
    report: FitReport,
    mean: Vec<f64>,
    scale: Vec<f64>,
    coef: Vec<f64>,
    intercept: f64,
}

impl LogisticRegression {
    /// Fits the model to `labels.len()` rows of `dim` features (`rows`, row-major), labels
    /// 0 or 1, optional non-negative sample weights (multiplied by the class weights), under
    /// `config`. Errors name the offending row, column or field.
    pub fn fit(
        rows: &[f32],
        dim: usize,
        labels: &[u32],
        sample_weight: Option<&[f32]>,
        config: &LogisticConfig,
    ) -> Result<Self> {
        config.validate()?;
        let n = labels.len();
        check_rows(rows, dim, n)?;
        if n == 0 {
            return Err(Error::InvalidData("no training rows".into()));
        }
        let mut counts = [0usize; 2];
        for (i, &y) in labels.iter().enumerate() {
            match y {
                0 | 1 => counts[y as usize] += 1,
                _ => {
                    return Err(Error::InvalidData(format!(
                        "label {y} of row {i} is not 0 or 1"
                    )));
                }
            }
        }
        if let Some(w) = sample_weight {
            if w.len() != n {
                return Err(Error::InvalidData(format!(
                    "{} sample weights for {n} rows",
                    w.len()
                )));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::InvalidData(format!(
                    "sample weight {} of row {i} is not a non-negative finite number",
                    w[i]
                )));
            }
        }
        let row_weight = |i: usize| sample_weight.map_or(1.0, |w| w[i] as f64);
        let mut class_sums = [0.0f64; 2];
        for (i, &y) in labels.iter().enumerate() {
            class_sums[y as usize] += row_weight(i);
        }
        if class_sums[0] <= 0.0 || class_sums[1] <= 0.0 {
            return Err(Error::InvalidData(format!(
                "both classes need rows of positive weight; found {} rows of class 0 and {} of \
                 class 1 (total weights {} and {})",
                counts[0], counts[1], class_sums[0], class_sums[1]
            )));
        }
        let class_weights = match config.class_weight {
            ClassWeight::Uniform => [1.0, 1.0],
            ClassWeight::Balanced => {
                let all = class_sums[0] + class_sums[1];
                class_sums.map(|k| all / (2.0 * k))
            }
        };
        let mut weights: Vec<f64> = labels
            .iter()
            .enumerate()
            .map(|(i, &y)| class_weights[y as usize] * row_weight(i))
            .collect();
        let total: f64 = weights.iter().sum();
        for w in &mut weights {
            *w /= total;
        }
        let (mean, scale) = standardisation(rows, dim, n);
        let problem = Problem {
            rows,
            dim,
            labels,
            weights: &weights,
            mean: &mean,
            scale: &scale,
            lambda: 1.0 / (config.c * total),
        };
        let solution = lbfgs(&problem, config.tol, config.max_iter);
        let report = FitReport {
            rows: n,
            positives: counts[1],
            class_weights,
            iterations: solution.iterations,
            evaluations: solution.evaluations,
            converged: solution.converged,
            objective: solution.f,
            gradient_max: max_abs(&solution.g),
        };
        let mut coef = solution.x;
        let intercept = coef.pop().expect("dim + 1 parameters");
        Ok(LogisticRegression {
            config: config.clone(),
            report,
            mean,
            scale,
            coef,
            intercept,
        })
    }

    /// The decision function `w.z + b` of each row (`rows` row-major, `dim` features each),
    /// standardised with the training statistics.
    pub fn decision_function(&self, rows: &[f32]) -> Result<Vec<f64>> {
        let dim = self.dim();
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return Err(Error::InvalidData(format!(
                "{} values are not whole rows of {dim} features",
                rows.len()
            )));
        }
        let v: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.scale)
            .map(|(w, s)| w / s)
            .collect();
        let mut out = vec![0.0; rows.len() / dim];
        out.par_chunks_mut(BLOCK_ROWS)
            .zip(rows.par_chunks(BLOCK_ROWS * dim))
            .for_each(|(out, block)| {
                let mut centred = vec![0.0; dim];
                for (o, row) in out.iter_mut().zip(block.chunks_exact(dim)) {
                    centre(row, &self.mean, &mut centred);
                    *o = self.intercept + dot(&centred, &v);
                }
            });
        Ok(out)
    }

    /// The probability of class 1 for each row: the logistic function of
    /// [`LogisticRegression::decision_function`].
    pub fn predict_proba(&self, rows: &[f32]) -> Result<Vec<f64>> {
        Ok(self
            .decision_function(rows)?
            .into_iter()
            .map(sigmoid)
            .collect())
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.coef.len()
    }

    /// Coefficients on standardised features (sklearn's `coef_` after a `StandardScaler`).
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    /// The intercept (sklearn's `intercept_`).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Per-feature mean of the training rows (sklearn's `StandardScaler.mean_`).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature scale: the training rows' population standard deviation, 1 for a
    /// constant feature (sklearn's `StandardScaler.scale_`).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// The hyper-parameters it was fitted with.
    pub fn config(&self) -> &LogisticConfig {
        &self.config
    }

    /// How the fit went.
    pub fn report(&self) -> &FitReport {
        &self.report
    }

    /// Writes the model to `path` as safetensors, atomically (see the module docs).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let header = Header {
            format: LOGISTIC_FORMAT.to_string(),
            dim: self.dim(),
            config: self.config.clone(),
            report: self.report.clone(),
        };
        let json = serde_json::to_string(&header).map_err(|e| Error::BadMetadata {
            path: path.to_path_buf(),
            key: META_LOGISTIC,
            reason: e.to_string(),
        })?;
        let bytes = |v: &[f64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let named = [
            ("coef", bytes(&self.coef)),
            ("intercept", bytes(&[self.intercept])),
            ("mean", bytes(&self.mean)),
            ("scale", bytes(&self.scale)),
        ];
        let views = named
            .iter()
            .map(|(k, b)| TensorView::new(Dtype::F64, vec![b.len() / 8], b).map(|v| (*k, v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| Error::Safetensors {
                path: path.to_path_buf(),
                source,
            })?;
        let metadata = BTreeMap::from([(META_LOGISTIC.to_string(), json)]);
        let buffer = mias_core::safetensors::serialize(views, &metadata).map_err(|source| {
            Error::Safetensors {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(mias_core::fs::write_atomic(path, &buffer)?)
    }

    /// Reads a model written by [`LogisticRegression::save`], checking the format tag, the
    /// tensors' names, dtypes and shapes, and that every value is finite.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let buffer = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let st_error = |source| Error::Safetensors {
            path: path.to_path_buf(),
            source,
        };
        let bad_meta = |reason: String| Error::BadMetadata {
            path: path.to_path_buf(),
            key: META_LOGISTIC,
            reason,
        };
        let (_, meta) = SafeTensors::read_metadata(&buffer).map_err(st_error)?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_LOGISTIC))
            .ok_or_else(|| bad_meta("absent".into()))?;
        let header: Header = serde_json::from_str(json).map_err(|e| bad_meta(e.to_string()))?;
        if header.format != LOGISTIC_FORMAT {
            return Err(bad_meta(format!(
                "format {:?}, expected {LOGISTIC_FORMAT:?}",
                header.format
            )));
        }
        header
            .config
            .validate()
            .map_err(|e| bad_meta(e.to_string()))?;
        let st = SafeTensors::deserialize(&buffer).map_err(st_error)?;
        let mut tensors: std::collections::HashMap<String, Vec<f64>> = Default::default();
        for (key, view) in st.tensors() {
            let expected = match key.as_str() {
                "coef" | "mean" | "scale" => header.dim,
                "intercept" => 1,
                _ => {
                    return Err(Error::UnexpectedKey {
                        path: path.to_path_buf(),
                        key,
                    });
                }
            };
            if view.dtype() != Dtype::F64 {
                return Err(Error::InvalidData(format!(
                    "{}: tensor `{key}` has dtype {:?}, expected F64",
                    path.display(),
                    view.dtype()
                )));
            }
            if view.shape() != [expected] {
                return Err(Error::ShapeMismatch {
                    path: path.to_path_buf(),
                    key,
                    expected: vec![expected],
                    actual: view.shape().to_vec(),
                });
            }
            let values: Vec<f64> = view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidData(format!(
                    "{}: tensor `{key}` holds {} at index {i}",
                    path.display(),
                    values[i]
                )));
            }
            if key == "scale"
                && let Some(i) = values.iter().position(|v| *v <= 0.0)
            {
                return Err(Error::InvalidData(format!(
                    "{}: tensor `scale` holds {} at index {i}; scales are positive",
                    path.display(),
                    values[i]
                )));
            }
            tensors.insert(key, values);
        }
        let mut take = |key: &str| {
            tensors.remove(key).ok_or_else(|| Error::MissingKey {
                path: path.to_path_buf(),
                key: key.to_string(),
            })
        };
        Ok(LogisticRegression {
            coef: take("coef")?,
            intercept: take("intercept")?[0],
            mean: take("mean")?,
            scale: take("scale")?,
            config: header.config,
            report: header.report,
        })
    }
}

/// The JSON under [`META_LOGISTIC`]; field order fixed by this declaration.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    dim: usize,
    config: LogisticConfig,
    report: FitReport,
}

fn check_rows(rows: &[f32], dim: usize, n: usize) -> Result<()> {
    if dim == 0 || rows.len() != n * dim {
        return Err(Error::InvalidData(format!(
            "{} values do not make {n} rows of {dim} features",
            rows.len()
        )));
    }
    if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "feature {} of row {} is {}",
            i % dim,
            i / dim,
            rows[i]
        )));
    }
    Ok(())
}

/// Per-feature mean and population standard deviation (two passes, f64, blocks added in
/// order); a constant feature, by sklearn's test (`var <= n eps var + (n mean eps)^2`),
/// gets scale 1.
fn standardisation(rows: &[f32], dim: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let sums = block_sums(rows, dim, |row, acc| {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a += x as f64;
        }
    });
    let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
    let squares = block_sums(rows, dim, |row, acc| {
        for ((a, &x), m) in acc.iter_mut().zip(row).zip(&mean) {
            let d = x as f64 - m;
            *a += d * d;
        }
    });
    let eps = f64::EPSILON;
    let scale = squares
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let var = s / n as f64;
            let bound = n as f64 * eps * var + (n as f64 * m * eps).powi(2);
            if var <= bound { 1.0 } else { var.sqrt() }
        })
        .collect();
    (mean, scale)
}

/// Sums `f(row, acc)` over rows into a `dim`-vector, per block in parallel, then over
/// blocks in order.
fn block_sums(rows: &[f32], dim: usize, f: impl Fn(&[f32], &mut [f64]) + Sync) -> Vec<f64> {
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(BLOCK_ROWS * dim)
        .map(|block| {
            let mut acc = vec![0.0; dim];
            for row in block.chunks_exact(dim) {
                f(row, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0; dim];
    for p in partial {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// The normalised objective: weights already divided by their total, `lambda = 1 / (C W)`.
struct Problem<'a> {
    rows: &'a [f32],
    dim: usize,
    labels: &'a [u32],
    weights: &'a [f64],
    mean: &'a [f64],
    scale: &'a [f64],
    lambda: f64,
}

impl Problem<'_> {
    /// The objective at `theta = [w, b]` and its gradient.
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let d = self.dim;
        let (w, b) = (&theta[..d], theta[d]);
        let v: Vec<f64> = w.iter().zip(self.scale).map(|(w, s)| w / s).collect();
        let partial: Vec<(f64, Vec<f64>)> = self
            .rows
            .par_chunks(BLOCK_ROWS * d)
            .zip(self.labels.par_chunks(BLOCK_ROWS))
            .zip(self.weights.par_chunks(BLOCK_ROWS))
            .map(|((block, labels), weights)| {
                let mut loss = 0.0;
                let mut g = vec![0.0; d + 1];
                let mut centred = vec![0.0; d];
                for ((row, &y), &s) in block.chunks_exact(d).zip(labels).zip(weights) {
                    if s == 0.0 {
                        continue;
                    }
                    centre(row, self.mean, &mut centred);
                    let m = b + dot(&centred, &v);
                    let y = y as f64;
                    // log(1 + e^m) - y m, written to stay finite for any margin.
                    loss += s * (softplus(m) - y * m);
                    let r = s * (sigmoid(m) - y);
                    axpy(r, &centred, &mut g[..d]);
                    g[d] += r;
                }
                (loss, g)
            })
            .collect();
        let mut f = 0.0;
        let mut grad = vec![0.0; d + 1];
        for (loss, g) in partial {
            f += loss;
            for (t, v) in grad.iter_mut().zip(g) {
                *t += v;
            }
        }
        for ((g, s), w) in grad[..d].iter_mut().zip(self.scale).zip(w) {
            *g = *g / s + self.lambda * w;
        }
        f += 0.5 * self.lambda * dot(w, w);
        (f, grad)
    }
}

fn centre(row: &[f32], mean: &[f64], out: &mut [f64]) {
    for ((o, &x), m) in out.iter_mut().zip(row).zip(mean) {
        *o = x as f64 - m;
    }
}

/// A dot product with four running sums (vectorises without reassociation by the compiler).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ac, ar) = a.split_at(a.len() / 4 * 4);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(4).zip(bc.chunks_exact(4)) {
        for ((acc, x), y) in acc.iter_mut().zip(x).zip(y) {
            *acc += x * y;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ar.iter().zip(br) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn sigmoid(m: f64) -> f64 {
    if m >= 0.0 {
        1.0 / (1.0 + (-m).exp())
    } else {
        let e = m.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + e^m)` without overflow.
fn softplus(m: f64) -> f64 {
    m.max(0.0) + (-m.abs()).exp().ln_1p()
}

struct Solution {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    iterations: usize,
    evaluations: usize,
    converged: bool,
}

/// One evaluated point of a line search.
struct Point {
    alpha: f64,
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    /// Directional derivative `g . p`.
    slope: f64,
}

/// L-BFGS from zero (see the module docs for the stopping rules).
fn lbfgs(problem: &Problem<'_>, tol: f64, max_iter: usize) -> Solution {
    let n = problem.dim + 1;
    let mut x = vec![0.0; n];
    let (mut f, mut g) = problem.eval(&x);
    let mut evaluations = 1;
    let mut memory: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(MEMORY);
    let mut iterations = 0;
    let mut converged = max_abs(&g) <= tol;
    while !converged && iterations < max_iter {
        let mut p = direction(&g, &memory);
        let mut slope = dot(&g, &p);
        if slope >= 0.0 {
            // Not a descent direction (lost curvature information): restart from -g.
            memory.clear();
            p = g.iter().map(|v| -v).collect();
            slope = dot(&g, &p);
        }
        let first = if memory.is_empty() {
            (1.0 / dot(&g, &g).sqrt()).min(1.0)
        } else {
            1.0
        };
        let (found, used) = line_search(problem, &x, f, slope, &p, first);
        evaluations += used;
        iterations += 1;
        let Some(next) = found else {
            break;
        };
        let s: Vec<f64> = next.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next.g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if memory.len() == MEMORY {
                memory.pop_front();
            }
            memory.push_back((s, y, 1.0 / sy));
        }
        let decrease = f - next.f;
        let stalled = decrease <= FTOL * f.abs().max(next.f.abs()).max(1.0);
        x = next.x;
        f = next.f;
        g = next.g;
        converged = max_abs(&g) <= tol || stalled;
    }
    Solution {
        x,
        f,
        g,
        iterations,
        evaluations,
        converged,
    }
}

/// The two-loop recursion: `-H g` with the stored corrections, `H0 = (s.y / y.y) I`.
fn direction(g: &[f64], memory: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mut alphas = Vec::with_capacity(memory.len());
    for (s, y, rho) in memory.iter().rev() {
        let a = rho * dot(s, &q);
        axpy(-a, y, &mut q);
        alphas.push(a);
    }
    if let Some((s, y, _)) = memory.back() {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y, rho), a) in memory.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &q);
        axpy(a - b, s, &mut q);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

/// A step satisfying the strong Wolfe conditions (Nocedal and Wright, algorithms 3.5 and
/// 3.6, cubic interpolation, safeguarded); `None` when none is found within
/// [`MAX_LINE_SEARCH`] evaluations and no evaluated point lowered the objective. Returns the
/// number of evaluations used.
fn line_search(
    problem: &Problem<'_>,
    x: &[f64],
    f0: f64,
    slope0: f64,
    p: &[f64],
    first: f64,
) -> (Option<Point>, usize) {
    let used = std::cell::Cell::new(0);
    let at = |alpha: f64| {
        used.set(used.get() + 1);
        let xa: Vec<f64> = x.iter().zip(p).map(|(x, p)| x + alpha * p).collect();
        let (f, g) = problem.eval(&xa);
        let slope = dot(&g, p);
        Point {
            alpha,
            x: xa,
            f,
            g,
            slope,
        }
    };
    let armijo = |pt: &Point| pt.f <= f0 + C1 * pt.alpha * slope0;
    let curvature = |pt: &Point| pt.slope.abs() <= -C2 * slope0;
    let start = Point {
        alpha: 0.0,
        x: x.to_vec(),
        f: f0,
        g: Vec::new(),
        slope: slope0,
    };
    let mut prev = start;
    let mut alpha = first;
    let mut best: Option<Point> = None;
    let keep_best = |pt: &Point, best: &mut Option<Point>| {
        if pt.f < f0 && best.as_ref().is_none_or(|b| pt.f < b.f) {
            *best = Some(Point {
                alpha: pt.alpha,
                x: pt.x.clone(),
                f: pt.f,
                g: pt.g.clone(),
                slope: pt.slope,
            });
        }
    };
    // Bracketing phase.
    let (mut lo, mut hi) = loop {
        if used.get() >= MAX_LINE_SEARCH {
            return (best, used.get());
        }
        let pt = at(alpha);
        if !pt.f.is_finite() {
            // Overflow far along the direction: come back towards the start.
            alpha = 0.5 * (prev.alpha + alpha);
            continue;
        }
        keep_best(&pt, &mut best);
        if !armijo(&pt) || (prev.alpha > 0.0 && pt.f >= prev.f) {
            break (prev, pt);
        }
        if curvature(&pt) {
            return (Some(pt), used.get());
        }
        if pt.slope >= 0.0 {
            break (pt, prev);
        }
        alpha = 2.0 * pt.alpha;
        prev = pt;
    };
    // Zoom phase: `lo` satisfies Armijo with the lowest objective so far; the step
    // between lo and hi contains a point satisfying both conditions.
    loop {
        if used.get() >= MAX_LINE_SEARCH {
            return (best, used.get());
        }
        let (a, b) = (lo.alpha, hi.alpha);
        let width = (b - a).abs();
        if width <= f64::EPSILON * a.abs().max(b.abs()) {
            return (best, used.get());
        }
        let mut trial = cubic_minimiser(&lo, &hi);
        let (left, right) = (a.min(b) + 0.1 * width, a.max(b) - 0.1 * width);
        if !trial.is_finite() || trial < left || trial > right {
            trial = 0.5 * (a + b);
        }
        let pt = at(trial);
        keep_best(&pt, &mut best);
        if !pt.f.is_finite() || !armijo(&pt) || pt.f >= lo.f {
            hi = pt;
        } else {
            if curvature(&pt) {
                return (Some(pt), used.get());
            }
            if pt.slope * (hi.alpha - lo.alpha) >= 0.0 {
                hi = lo;
            }
            lo = pt;
        }
    }
}

/// The minimiser of the cubic through two points with their values and slopes.
fn cubic_minimiser(a: &Point, b: &Point) -> f64 {
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.alpha - b.alpha);
    let disc = d1 * d1 - a.slope * b.slope;
    if disc < 0.0 {
        return f64::NAN;
    }
    let d2 = (b.alpha - a.alpha).signum() * disc.sqrt();
    b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient against central differences of the objective, on a small problem.
    #[test]
    fn gradient_matches_finite_differences() {
        let rows: Vec<f32> = (0..30)
            .map(|i| ((i * 7919) % 23) as f32 / 5.0 - 2.0)
            .collect();
        let labels: Vec<u32> = (0..10).map(|i| u32::from(i % 3 == 0)).collect();
        let weights: Vec<f64> = (0..10).map(|i| (1.0 + i as f64) / 55.0).collect();
        let (mean, scale) = standardisation(&rows, 3, 10);
        let problem = Problem {
            rows: &rows,
            dim: 3,
            labels: &labels,
            weights: &weights,
            mean: &mean,
            scale: &scale,
            lambda: 0.3,
        };
        let theta = [0.4, -1.1, 0.7, 0.2];
        let (_, g) = problem.eval(&theta);
        for k in 0..4 {
            let h = 1e-6;
            let mut up = theta;
            let mut down = theta;
            up[k] += h;
            down[k] -= h;
            let numeric = (problem.eval(&up).0 - problem.eval(&down).0) / (2.0 * h);
            assert!(
                (numeric - g[k]).abs() < 1e-8,
                "component {k}: {numeric} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn stable_link_functions() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert_eq!(softplus(-1000.0), 0.0);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((sigmoid(0.3) + sigmoid(-0.3) - 1.0).abs() < 1e-15);
    }
}
