//! The lesion method's configuration (`data/configs/lesion.toml`), checked before any work
//! starts; errors name the key.

use std::path::Path;

use anyhow::{Context, bail};
use mias_backbones::{BackboneKind, DenseLayer};
use mias_data::LabelVariant;
use serde::{Deserialize, Serialize};

/// The committed configuration of the lesion method.
pub const LESION_TOML: &str = include_str!("../../data/configs/lesion.toml");

/// Every hyper-parameter of the lesion method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LesionConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Label variant.
    pub labels: LabelVariant,
    /// Backbones, by name.
    pub backbones: Vec<String>,
    /// Side of the square input the whole film is resized to.
    pub side: u32,
    /// Which model is the method (the headline), fixed before the run: `women` (the women
    /// model of `[women]`) or `ensemble` (the ensemble of the cell classifiers). Required in a
    /// configuration file ([`LesionConfig::validate`]); absent only in the run.json records
    /// from before the key, whose method was the ensemble ([`LesionConfig::headline`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<Headline>,
    /// Which cells train the classifier.
    pub cells: CellsConfig,
    /// The cell classifier and the inner selection of its parameters.
    pub classifier: ClassifierConfig,
    /// Outer cross-validation and reporting.
    pub evaluation: EvaluationConfig,
    /// The women model (regional asymmetry of both breasts), when the run has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub women: Option<super::women::WomenConfig>,
}

/// The model a run reports as the method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Headline {
    /// The women model of `[women]` ([`super::women`]).
    Women,
    /// The ensemble of the cell classifiers, scored by the variant that chooses C and k.
    Ensemble,
}

/// Which cells train the classifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellsConfig {
    /// Breast cells drawn per normal image and view as negatives.
    pub negatives_per_view: usize,
}

/// The cell classifier and the inner selection of its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Candidate inverse regularisation strengths.
    pub c_grid: Vec<f64>,
    /// Candidate numbers of top cells averaged into an image score.
    pub top_k_grid: Vec<usize>,
    /// Folds of the inner cross-validation (inside each outer training set).
    pub inner_folds: usize,
    /// L-BFGS tolerance on the largest gradient component of the mean objective.
    pub tol: f64,
    /// Most L-BFGS iterations.
    pub max_iter: usize,
    /// Score each film against the woman's other breast too (`lesion+bilateral`, which then
    /// also chooses C and k); `false` scores films alone (`lesion`), for collections whose films
    /// lack the other breast (CBIS-DDSM lists only breasts with lesions).
    #[serde(default = "yes")]
    pub bilateral: bool,
}

fn yes() -> bool {
    true
}

/// Outer cross-validation and reporting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Outer folds (the honest protocol's).
    pub folds: usize,
    /// Bootstrap replicates (resampling women) for every AUC interval.
    pub bootstrap_replicates: usize,
    /// Heatmaps drawn per abnormality class (and for normals).
    pub heatmaps_per_class: usize,
}

impl LesionConfig {
    /// The committed configuration.
    pub fn committed() -> anyhow::Result<Self> {
        Self::parse(LESION_TOML, Path::new("data/configs/lesion.toml"))
    }

    /// Reads and checks a configuration file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and checks configuration text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> anyhow::Result<Self> {
        let cfg: LesionConfig = toml::from_str(text)
            .with_context(|| format!("{}: invalid lesion configuration", source.display()))?;
        cfg.validate()
            .with_context(|| format!("{}: invalid lesion configuration", source.display()))?;
        Ok(cfg)
    }

    /// The configured headline (the ensemble for records from before the key existed).
    pub fn headline(&self) -> Headline {
        self.headline.unwrap_or(Headline::Ensemble)
    }

    /// The backbones as types.
    pub fn kinds(&self) -> anyhow::Result<Vec<BackboneKind>> {
        self.backbones
            .iter()
            .map(|b| {
                b.parse::<BackboneKind>()
                    .map_err(|e| anyhow::anyhow!("key `backbones`: {e}"))
            })
            .collect()
    }

    /// Checks every value's range; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.backbones.is_empty() {
            bail!("key `backbones`: at least one backbone");
        }
        let kinds = self.kinds()?;
        for (i, k) in kinds.iter().enumerate() {
            if kinds[..i].contains(k) {
                bail!("key `backbones`: {:?} listed twice", k.name());
            }
            if !(self.side as usize).is_multiple_of(k.dense_stride(DenseLayer::Last)) {
                bail!(
                    "key `side`: {} is not a multiple of {}'s stride {}",
                    self.side,
                    k.name(),
                    k.dense_stride(DenseLayer::Last)
                );
            }
        }
        if !(64..=2048).contains(&self.side) {
            bail!("key `side`: {} is not in 64..=2048", self.side);
        }
        if self.cells.negatives_per_view == 0 {
            bail!("key `cells.negatives_per_view`: at least 1");
        }
        let c = &self.classifier;
        if c.c_grid.is_empty() || c.c_grid.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            bail!("key `classifier.c_grid`: one or more positive, finite values");
        }
        if c.top_k_grid.is_empty() || c.top_k_grid.contains(&0) {
            bail!("key `classifier.top_k_grid`: one or more values >= 1");
        }
        if !(c.tol.is_finite() && c.tol > 0.0) || c.max_iter == 0 {
            bail!(
                "keys `classifier.tol`, `classifier.max_iter`: a positive tolerance and >= 1 iteration"
            );
        }
        if !(2..=10).contains(&c.inner_folds) {
            bail!(
                "key `classifier.inner_folds`: {} is not in 2..=10",
                c.inner_folds
            );
        }
        let Some(headline) = self.headline else {
            bail!(
                "key `headline`: missing; name the model reported as the method, \"women\" or \
                 \"ensemble\""
            );
        };
        match (&self.women, headline) {
            (Some(w), _) => {
                w.validate()?;
                let kind = w.kind()?;
                if !kinds.contains(&kind) {
                    bail!(
                        "key `women.backbone`: {:?} is not among `backbones` ({})",
                        w.backbone,
                        self.backbones.join(", ")
                    );
                }
                for layer in w.layer_set()? {
                    if !(self.side as usize).is_multiple_of(kind.dense_stride(layer)) {
                        bail!(
                            "key `side`: {} is not a multiple of {}'s {} stride {}",
                            self.side,
                            kind.name(),
                            layer,
                            kind.dense_stride(layer)
                        );
                    }
                }
            }
            (None, Headline::Women) => {
                bail!("key `headline`: \"women\" needs a `[women]` section")
            }
            (None, Headline::Ensemble) => {}
        }
        let e = &self.evaluation;
        if !(2..=20).contains(&e.folds) {
            bail!("key `evaluation.folds`: {} is not in 2..=20", e.folds);
        }
        if !(100..=100_000).contains(&e.bootstrap_replicates) {
            bail!(
                "key `evaluation.bootstrap_replicates`: {} is not in 100..=100000",
                e.bootstrap_replicates
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_config_parses() {
        let cfg = LesionConfig::committed().unwrap();
        assert_eq!(cfg.side, 512);
        assert_eq!(cfg.evaluation.folds, 5);
        assert_eq!(cfg.kinds().unwrap()[0], BackboneKind::Vgg16);
        assert_eq!(cfg.headline, Some(Headline::Women));
        let w = cfg.women.as_ref().unwrap();
        assert_eq!(w.candidates().unwrap().len(), 72);
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases = [
            ("side = 512", "side = 500", "key `side`"),
            (
                "negatives_per_view = 64",
                "negatives_per_view = 0",
                "negatives_per_view",
            ),
            ("c_grid = [0.001", "c_grid = [-0.001", "classifier.c_grid"),
            (
                "top_k_grid = [1,",
                "top_k_grid = [0,",
                "classifier.top_k_grid",
            ),
            (
                "inner_folds = 4",
                "inner_folds = 1",
                "classifier.inner_folds",
            ),
            ("folds = 5", "folds = 1", "evaluation.folds"),
            ("\"vgg16\",", "\"resnet50\",", "resnet50"),
            ("seed = 42", "seed = 42\nbogus = 1", "unknown field `bogus`"),
            ("headline = \"women\"", "headline = \"best\"", "headline"),
            ("headline = \"women\"", "", "key `headline`: missing"),
            ("grids = [6, 8]", "grids = [6, 1]", "women.grids"),
            (
                "c_grid = [0.01, 0.1]",
                "c_grid = [0.01, 0.0]",
                "women.c_grid",
            ),
            (
                "backbone = \"vgg16\"",
                "backbone = \"xception\"",
                "women.backbone",
            ),
            (
                "layers = [\"previous_stage\"",
                "layers = [\"middle\"",
                "women.layers",
            ),
            (
                "registrations = [\"bbox\"",
                "registrations = [\"affine\"",
                "registrations",
            ),
            (
                "side_c = 0.01",
                "side_c = 0.01\nextra = 2",
                "unknown field `extra`",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(LESION_TOML.contains(from), "{from:?}");
            let text = LESION_TOML.replacen(from, to, 1);
            let err = LesionConfig::parse(&text, Path::new("l.toml")).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("l.toml") && msg.contains(expected),
                "{to:?}: {msg}"
            );
        }
    }
}
