//! The cell classifier: mias-train's L2-regularised logistic regression on standardised cell
//! features (statistics from the training cells only), class-balanced, as the lesion method
//! uses it.

use std::path::Path;

use anyhow::Context;
use mias_train::{LogisticConfig, LogisticRegression};

/// A trained cell classifier.
#[derive(Clone, Debug)]
pub struct CellModel {
    model: LogisticRegression,
}

/// Trains on `rows` (`labels.len()` rows of `dim` values) with inverse regularisation `c`;
/// `solver` is L-BFGS's (tolerance, iteration cap).
pub fn fit(
    rows: &[f32],
    dim: usize,
    labels: &[bool],
    c: f64,
    solver: (f64, usize),
) -> anyhow::Result<CellModel> {
    let cfg = LogisticConfig {
        c,
        tol: solver.0,
        max_iter: solver.1,
        ..LogisticConfig::default()
    };
    let labels: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
    let model = LogisticRegression::fit(rows, dim, &labels, None, &cfg)
        .context("training the cell classifier")?;
    Ok(CellModel { model })
}

impl CellModel {
    /// The logit of every row.
    pub fn logits(&self, rows: &[f32]) -> anyhow::Result<Vec<f32>> {
        Ok(self
            .model
            .decision_function(rows)?
            .into_iter()
            .map(|v| v as f32)
            .collect())
    }

    /// Writes the model (safetensors).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.model
            .save(path)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Reads a model written by [`CellModel::save`].
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let model = LogisticRegression::load(path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(CellModel { model })
    }

    /// Whether L-BFGS met its tolerance before the iteration cap (a loaded model: as saved).
    pub fn converged(&self) -> bool {
        self.model.report().converged
    }

    /// Features per row.
    pub fn dim(&self) -> usize {
        self.model.dim()
    }
}
