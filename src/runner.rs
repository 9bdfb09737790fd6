//! One path from a film to what a backbone makes of it, for training and serving alike: a
//! working image (as `Dataset::image` or `inference::read_image` give it), a view of it, the
//! backbone's preprocessing, and the backbone's pooled features or dense map. The paper
//! method's extraction, the lesion method's maps and `predict` all go through a [`Runner`], so
//! a film given to `predict` is computed exactly as the run computed it (a test holds the two
//! equal to the bit).
//!
//! The backbone is loaded on the first forward pass, so a run whose cache holds everything
//! never reads the weights beyond their checksum.

use anyhow::Context;
use candle_core::{Device, Tensor};
use image::GrayImage;
use mias_backbones::{Backbone, DenseLayer};
use mias_data::preprocess::Preprocess;
use serde::{Deserialize, Serialize};

use crate::members::Member;

/// How a backbone's last feature map `[D, h, w]` becomes the head's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The mean over `h` and `w`: `D` features (Keras `pooling="avg"`).
    #[default]
    Avg,
    /// Every value of the map: `D * h * w` features (a Keras `Flatten` layer; channel-major
    /// order here, a fixed permutation of Keras's, which a freshly initialised dense layer
    /// does not care about).
    Flatten,
}

impl Pooling {
    /// The name in configs and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Avg => "avg",
            Pooling::Flatten => "flatten",
        }
    }

    /// True for [`Pooling::Avg`] (the default, left out of cache keys so that they stay the
    /// same as before the option existed).
    pub fn is_avg(&self) -> bool {
        *self == Pooling::Avg
    }
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "avg" => Ok(Pooling::Avg),
            "flatten" => Ok(Pooling::Flatten),
            other => Err(format!("unknown pooling {other:?} (known: avg, flatten)")),
        }
    }
}

/// What a dense map is of: the input side the film is resized to and the layer kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Input side, pixels (the film is resized to `side x side`).
    pub side: u32,
    /// The backbone layer whose whole map is kept.
    pub layer: DenseLayer,
}

impl MapSpec {
    /// Cells per side of `member`'s map.
    pub fn grid(&self, member: &Member) -> usize {
        self.side as usize / member.kind.dense_stride(self.layer)
    }

    /// The preprocessing of `member`'s map: the film resized to `side`, normalised its
    /// flavor's way.
    pub fn preprocess(&self, member: &Member) -> Preprocess {
        Preprocess::new(self.side, member.kind.input(member.flavor).norm)
    }

    /// Channels per cell of `member`'s map.
    pub fn channels(&self, member: &Member) -> usize {
        self.channels_of(member.kind)
    }

    /// Channels per cell of a `kind` backbone's map.
    pub fn channels_of(&self, kind: mias_backbones::BackboneKind) -> usize {
        kind.dense_channels(self.layer)
    }
}

/// A film's view for a dense map: 0 is the film as it is, 1 the film mirrored left to right.
pub fn map_view(film: &GrayImage, view: u32) -> GrayImage {
    if view == 1 {
        image::imageops::flip_horizontal(film)
    } else {
        film.clone()
    }
}

/// One member's backbone, loaded when first needed, with its preprocessing.
pub struct Runner {
    member: Member,
    device: Device,
    backbone: Option<Box<dyn Backbone>>,
}

impl Runner {
    /// A runner of `member` on `device`; nothing is loaded yet.
    pub fn new(member: &Member, device: &Device) -> Self {
        Runner {
            member: member.clone(),
            device: device.clone(),
            backbone: None,
        }
    }

    /// The member: backbone, flavor, weights.
    pub fn member(&self) -> &Member {
        &self.member
    }

    fn backbone(&mut self) -> anyhow::Result<&dyn Backbone> {
        if self.backbone.is_none() {
            let m = &self.member;
            let source = mias_backbones::WeightsSource::File(m.provenance.path.clone());
            let bb = mias_backbones::load_at(m.kind, &source, m.flavor, m.precision, &self.device)
                .with_context(|| {
                    format!(
                        "loading {} ({} flavor, {}) from {}",
                        m.kind,
                        m.flavor,
                        m.precision,
                        m.provenance.path.display()
                    )
                })?;
            self.backbone = Some(bb);
        }
        self.backbone
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("{} was not loaded", self.member.kind))
    }

    /// The head's input for a batch of views: one vector per view, pooled (`avg`, `[D]`) or
    /// the flattened last map (`flatten`, `[D * h * w]`).
    pub fn features(
        &mut self,
        views: &[GrayImage],
        pooling: Pooling,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let prep = preprocess_for(&self.member)?;
        let side = prep.side as usize;
        let mut values = Vec::with_capacity(views.len() * prep.len());
        for v in views {
            prep.extend_chw(v, &mut values);
        }
        let device = self.device.clone();
        let x = Tensor::from_vec(values, (views.len(), 3, side, side), &device)?;
        let bb = self.backbone()?;
        let f = forward(bb, &x, pooling)?;
        Ok(f.to_device(&Device::Cpu)?.to_vec2::<f32>()?)
    }

    /// The dense map `[C, g, g]` (channel-major, flattened) of view `view` of `film` (see
    /// [`map_view`]), the film resized to `spec.side` and normalised the backbone's way.
    pub fn dense_map(
        &mut self,
        film: &GrayImage,
        spec: MapSpec,
        view: u32,
    ) -> anyhow::Result<Vec<f32>> {
        let mut maps = self.dense_maps(film, spec.side, &[spec.layer], view)?;
        Ok(maps.remove(0))
    }

    /// [`Runner::dense_map`] of each of `layers` (in that order) at input side `side`, from one
    /// forward pass where the backbone shares it ([`Backbone::dense_maps`]).
    pub fn dense_maps(
        &mut self,
        film: &GrayImage,
        side: u32,
        layers: &[DenseLayer],
        view: u32,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let kind = self.member.kind;
        let prep = Preprocess::new(side, kind.input(self.member.flavor).norm);
        let px = side as usize;
        let device = self.device.clone();
        let x = Tensor::from_vec(prep.chw(&map_view(film, view)), (1, 3, px, px), &device)?;
        let maps = self
            .backbone()?
            .dense_maps(&x, layers)
            .with_context(|| format!("{kind} dense map at {side} px"))?;
        maps.iter()
            .map(|m| Ok(m.flatten_all()?.to_device(&Device::Cpu)?.to_vec1::<f32>()?))
            .collect()
    }
}

/// The preprocessing of `member`'s pooled features: its backbone's own input side and its
/// flavor's normalisation.
pub fn preprocess_for(member: &Member) -> anyhow::Result<Preprocess> {
    let spec = member.kind.input(member.flavor);
    let side = u32::try_from(spec.side).context("input side")?;
    Ok(Preprocess::new(side, spec.norm))
}

/// The head's input for a batch `[N, 3, S, S]`: pooled features `[N, D]`, or the flattened
/// last map `[N, D * h * w]`.
fn forward(bb: &dyn Backbone, x: &Tensor, pooling: Pooling) -> anyhow::Result<Tensor> {
    let f = match pooling {
        Pooling::Avg => bb.features(x),
        Pooling::Flatten => bb.feature_map(x).and_then(|m| Ok(m.flatten_from(1)?)),
    };
    f.with_context(|| format!("{} forward pass", bb.kind()))
}
