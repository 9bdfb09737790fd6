//! The experiment's configuration: every hyper-parameter of the paper in one TOML file
//! (`data/configs/paper.toml`), checked before any work starts.

use std::path::Path;

use anyhow::{Context, bail};
use mias_backbones::BackboneKind;
use mias_data::LabelVariant;
use mias_data::augment::Augment;
use mias_data::split::Fractions;
use mias_train::TrainConfig;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::runner::Pooling;

/// The committed configuration of the paper's experiment.
pub const PAPER_TOML: &str = include_str!("../../data/configs/paper.toml");

/// Everything `reproduce` needs to know besides where the data and weights are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Label variant.
    pub labels: LabelVariant,
    /// Backbones to run, in order (written by name: `vgg16`, `xception`, `mobilenetv2`,
    /// `nasnetlarge`).
    #[serde(
        serialize_with = "crate::by_name::serialize_list",
        deserialize_with = "backbone_list"
    )]
    pub backbones: Vec<BackboneKind>,
    /// Decision threshold on the probability of abnormal.
    pub threshold: f64,
    /// How each backbone's last feature map becomes the head's input.
    #[serde(default)]
    pub pooling: Pooling,
    /// Augmentation ranges.
    pub augment: Augment,
    /// The paper's (leaky) protocol.
    pub paper: PaperProtocol,
    /// The split by image (the common Keras practice; the other breast leaks). When absent
    /// (configs written before it existed): the honest protocol's views and the paper
    /// protocol's split; see [`ExperimentConfig::image_protocol`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageProtocol>,
    /// The leakage-free protocol.
    pub honest: HonestProtocol,
    /// The head and its training.
    pub train: TrainConfig,
}

/// Reads the `backbones` list; an unknown name is an error naming the key and the value.
fn backbone_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<BackboneKind>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|name| {
            name.parse()
                .map_err(|e| serde::de::Error::custom(format!("key `backbones`: {e}")))
        })
        .collect()
}

/// Which evaluation protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Augment first, split by item (the paper's; leaks on purpose). Settings: [`PaperProtocol`].
    Paper,
    /// A random split by image, augmentation of training images only: no copy of a test image
    /// is in training, but the other breast of its woman may be. Settings: [`ImageProtocol`].
    Image,
    /// Grouped stratified cross-validation, augmentation on training folds only. Settings:
    /// [`HonestProtocol`].
    Honest,
    /// A collection's own train/test split (a manifest's `split` column, CBIS-DDSM's case
    /// files), training images augmented with [`HonestProtocol`]'s views; only for datasets
    /// that have one.
    Official,
}

impl Protocol {
    /// The protocols every dataset has, from the leakiest to the leakage-free one
    /// ([`Protocol::Official`] needs a collection's split).
    pub const ALL: [Protocol; 3] = [Protocol::Paper, Protocol::Image, Protocol::Honest];

    /// Every protocol `dataset` allows: [`Protocol::ALL`], then [`Protocol::Official`] where
    /// the dataset has its own train/test split.
    pub fn every(dataset: &mias_data::Dataset) -> Vec<Protocol> {
        let mut all = Protocol::ALL.to_vec();
        if dataset.has_official_split() {
            all.push(Protocol::Official);
        }
        all
    }

    /// The protocol's name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Paper => "paper",
            Protocol::Image => "image",
            Protocol::Honest => "honest",
            Protocol::Official => "official",
        }
    }

    /// What leaks from training into a test item under this protocol, in words.
    pub fn leaks(self) -> &'static str {
        match self {
            Protocol::Paper => "copies of the test image and the other breast",
            Protocol::Image => "the other breast only",
            Protocol::Honest => "nothing",
            Protocol::Official => "whatever the collection's split shares (see its audit)",
        }
    }
}

/// The paper's protocol: augment first, then split by item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperProtocol {
    /// Items per image: the original and `views - 1` augmented copies.
    pub views: u32,
    /// Shares of the pooled items.
    pub split: Fractions,
}

/// A random split by image with augmentation of training images only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageProtocol {
    /// Items per training image (original and augmented copies); validation and test images
    /// give their original only.
    pub views: u32,
    /// Shares of the images.
    pub split: Fractions,
}

/// Grouped, stratified cross-validation with augmentation of training images only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HonestProtocol {
    /// Number of folds.
    pub folds: usize,
    /// Items per training image (original and augmented copies).
    pub views: u32,
}

impl ExperimentConfig {
    /// The committed paper configuration.
    pub fn paper() -> anyhow::Result<Self> {
        Self::parse(PAPER_TOML, Path::new("data/configs/paper.toml"))
    }

    /// Reads and checks a configuration file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and checks configuration text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> anyhow::Result<Self> {
        let cfg: ExperimentConfig = toml::from_str(text)
            .with_context(|| format!("{}: invalid configuration", source.display()))?;
        cfg.validate()
            .with_context(|| format!("{}: invalid configuration", source.display()))?;
        Ok(cfg)
    }

    /// The image protocol's settings: the `[image]` table, or when absent the honest
    /// protocol's views and the paper protocol's split.
    pub fn image_protocol(&self) -> ImageProtocol {
        self.image.clone().unwrap_or(ImageProtocol {
            views: self.honest.views,
            split: self.paper.split,
        })
    }

    /// Checks every value's range; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.backbones.is_empty() {
            bail!("key `backbones`: at least one backbone");
        }
        for (i, b) in self.backbones.iter().enumerate() {
            if self.backbones[..i].contains(b) {
                bail!("key `backbones`: `{b}` listed twice");
            }
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            bail!("key `threshold`: {} is not in (0, 1)", self.threshold);
        }
        self.augment.validate().context("table [augment]")?;
        self.paper.split.validate().context("key `paper.split`")?;
        let image = self.image_protocol();
        image.split.validate().context("key `image.split`")?;
        for (key, views) in [
            ("paper.views", self.paper.views),
            ("image.views", image.views),
            ("honest.views", self.honest.views),
        ] {
            if !(1..=50).contains(&views) {
                bail!("key `{key}`: {views} is not in 1..=50 (1 means no augmented copies)");
            }
        }
        if !(2..=20).contains(&self.honest.folds) {
            bail!("key `honest.folds`: {} is not in 2..=20", self.honest.folds);
        }
        self.train.validate().context("table [train]")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_config_holds_the_papers_values() {
        let cfg = ExperimentConfig::paper().unwrap();
        assert_eq!(cfg.backbones, BackboneKind::ALL);
        assert_eq!(cfg.train.hidden, [1024, 256, 28]);
        assert_eq!((cfg.train.epochs, cfg.train.batch_size), (10, 32));
        assert_eq!(cfg.train.learning_rate, 5e-5);
        assert_eq!(
            (cfg.train.beta_1, cfg.train.beta_2, cfg.train.epsilon),
            (0.9, 0.999, 1e-7)
        );
        assert_eq!(cfg.train.dropout, 0.5);
        assert_eq!(cfg.augment, Augment::paper());
        assert_eq!(cfg.labels, LabelVariant::Official);
        let image = cfg.image_protocol();
        assert_eq!(image.views, cfg.honest.views);
        assert_eq!(image.split, cfg.paper.split);
        // Configs from before the image protocol: the honest views and the paper's split.
        let start = PAPER_TOML.find("[image]").unwrap();
        let end = PAPER_TOML[start..].find("\n\n").unwrap() + start;
        let mut old = ExperimentConfig::parse(
            &format!("{}{}", &PAPER_TOML[..start], &PAPER_TOML[end..]),
            Path::new("old.toml"),
        )
        .unwrap();
        assert_eq!(old.image, None);
        old.honest.views = 3;
        assert_eq!(old.image_protocol().views, 3);
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases = [
            (
                "seed = 42\n",
                "seed = 42\nbogus = 3\n",
                "unknown field `bogus`",
            ),
            ("threshold = 0.5", "threshold = 1.5", "key `threshold`"),
            ("views = 5\nsplit", "views = 0\nsplit", "key `paper.views`"),
            ("folds = 5", "folds = 1", "key `honest.folds`"),
            (
                "[image]\nviews = 5",
                "[image]\nviews = 51",
                "key `image.views`",
            ),
            (
                "\"nasnetlarge\"]",
                "\"resnet50\"]",
                "key `backbones`: unknown backbone `resnet50`",
            ),
            (
                "\"nasnetlarge\"]",
                "\"vgg16\"]",
                "key `backbones`: `vgg16` listed twice",
            ),
            ("dropout = 0.5", "dropout = 1.5", "dropout"),
            (
                "rotation_range = 20.0",
                "rotation_range = -1.0",
                "rotation_range",
            ),
            ("test = 0.1 }", "test = 0.3 }", "add up to 1"),
        ];
        for (from, to, expected) in cases {
            assert!(PAPER_TOML.contains(from), "{from:?}");
            let text = PAPER_TOML.replacen(from, to, 1);
            let err = ExperimentConfig::parse(&text, Path::new("x.toml")).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("x.toml") && msg.contains(expected),
                "{to:?}: {msg}"
            );
        }
    }
}
