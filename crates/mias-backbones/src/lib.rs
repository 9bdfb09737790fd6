//! Frozen ImageNet feature extractors on candle: VGG16, Xception, MobileNetV2 and NASNetLarge.
//!
//! Each port is a batched forward from `[N, 3, S, S]` (already normalised) to globally
//! average-pooled features `[N, D]`, with weight names that are timm's `state_dict` keys, so the
//! Hub's timm files and the Keras-derived files of `../shared/weights` load alike. What differs
//! between the two is the [`Flavor`]: timm's own forward (symmetric padding, timm's BatchNorm eps)
//! or Keras's (TensorFlow SAME padding, Keras BatchNorm eps, Keras input normalisation).
//!
//! ```no_run
//! use candle_core::{Device, Tensor};
//! use mias_backbones::{BackboneKind, Flavor, WeightsSource};
//!
//! # fn main() -> mias_backbones::Result<()> {
//! let dev = Device::Cpu;
//! let source = WeightsSource::File("../shared/weights/vgg16.keras.safetensors".into());
//! let bb = mias_backbones::load(BackboneKind::Vgg16, &source, Flavor::Keras, &dev)?;
//! let side = bb.input().side;
//! let x = Tensor::zeros((2, 3, side, side), candle_core::DType::F32, &dev)?;
//! let feats = bb.features(&x)?; // [2, 512]
//! assert_eq!(feats.dims(), &[2, bb.feature_dim()]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod conv;
pub mod depthwise;
mod error;
pub mod layers;
pub mod models;
pub mod ops;
pub mod pool;
mod taps;
#[cfg(test)]
mod test_util;
pub mod weights;
pub mod winograd;

use std::fmt;
use std::str::FromStr;

use candle_core::{Device, Tensor};

pub use error::{Error, Result};
pub use weights::{Provenance, WeightsSource};

/// The four backbones of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackboneKind {
    /// VGG16 (Simonyan & Zisserman), convolutional base: 512 features at 224.
    Vgg16,
    /// Xception (Chollet), timm's `legacy_xception`: 2048 features at 299.
    Xception,
    /// MobileNetV2 1.0 (Sandler et al.), timm's `mobilenetv2_100`: 1280 features at 224.
    MobileNetV2,
    /// NASNet-A Large (Zoph et al.), timm's `nasnetalarge`: 4032 features at 331.
    NasNetLarge,
}

impl BackboneKind {
    /// All four, in the paper's order.
    pub const ALL: [BackboneKind; 4] = [
        BackboneKind::Vgg16,
        BackboneKind::Xception,
        BackboneKind::MobileNetV2,
        BackboneKind::NasNetLarge,
    ];

    /// The lowercase name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::Vgg16 => "vgg16",
            BackboneKind::Xception => "xception",
            BackboneKind::MobileNetV2 => "mobilenetv2",
            BackboneKind::NasNetLarge => "nasnetlarge",
        }
    }

    /// The name people know it by, as tables and figures print it.
    pub fn display_name(self) -> &'static str {
        match self {
            BackboneKind::Vgg16 => "VGG16",
            BackboneKind::Xception => "Xception",
            BackboneKind::MobileNetV2 => "MobileNetV2",
            BackboneKind::NasNetLarge => "NASNetLarge",
        }
    }

    /// The side of the square input the network was trained at.
    pub fn native_side(self) -> usize {
        match self {
            BackboneKind::Vgg16 | BackboneKind::MobileNetV2 => 224,
            BackboneKind::Xception => 299,
            BackboneKind::NasNetLarge => 331,
        }
    }

    /// The length of the pooled feature vector.
    pub fn feature_dim(self) -> usize {
        match self {
            BackboneKind::Vgg16 => 512,
            BackboneKind::Xception => 2048,
            BackboneKind::MobileNetV2 => 1280,
            BackboneKind::NasNetLarge => 4032,
        }
    }

    /// The side of the last feature map at the native input side (before global pooling):
    /// VGG16 and MobileNetV2 7, Xception 10, NASNetLarge 11.
    pub fn map_side(self) -> usize {
        match self {
            BackboneKind::Vgg16 | BackboneKind::MobileNetV2 => 7,
            BackboneKind::Xception => 10,
            BackboneKind::NasNetLarge => 11,
        }
    }

    /// The input this backbone expects under `flavor`: side and normalisation.
    pub fn input(self, flavor: Flavor) -> InputSpec {
        let norm = match (self, flavor) {
            (BackboneKind::Vgg16, Flavor::Keras) => Normalization::Caffe,
            (BackboneKind::Vgg16 | BackboneKind::MobileNetV2, Flavor::Timm) => Normalization::Torch,
            // Keras MobileNetV2 and Xception scale to [-1, 1]; timm's legacy_xception and
            // nasnetalarge use mean = std = 0.5 on [0, 1], which is the same map.
            _ => Normalization::Tf,
        };
        InputSpec {
            side: self.native_side(),
            norm,
        }
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackboneKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BackboneKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownBackbone(s.to_string()))
    }
}

/// Which framework's forward pass a port reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// timm's forward: symmetric padding, timm's BatchNorm eps, ImageNet mean/std where timm uses it.
    Timm,
    /// Keras's forward: TensorFlow SAME padding where Keras uses it, Keras BatchNorm eps (1e-3)
    /// and Keras input normalisation. See `../shared/weights/FLAVOR.md`.
    Keras,
}

impl Flavor {
    /// The lowercase name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Timm => "timm",
            Flavor::Keras => "keras",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "timm" => Ok(Flavor::Timm),
            "keras" => Ok(Flavor::Keras),
            _ => Err(Error::UnknownFlavor(s.to_string())),
        }
    }
}

/// How raw RGB pixels in `0..=255` are mapped to the network input: the one type shared with
/// mias-data's preprocessing (`mias_core::Normalisation`), under this crate's historical name.
pub use mias_core::Normalisation as Normalization;

/// The input a backbone expects: a square RGB image of `side` pixels, normalised by `norm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputSpec {
    /// Side of the square input.
    pub side: usize,
    /// Normalisation of raw `0..=255` RGB values.
    pub norm: Normalization,
}

/// A frozen feature extractor: normalised images in, globally pooled features out.
pub trait Backbone: Send + Sync {
    /// Which network this is.
    fn kind(&self) -> BackboneKind;

    /// The input it expects (native side and normalisation of its flavor).
    fn input(&self) -> InputSpec;

    /// The length of the feature vector.
    fn feature_dim(&self) -> usize {
        self.kind().feature_dim()
    }

    /// Features `[N, D]` of a batch `[N, 3, H, W]` of normalised images (f32). Sides other than
    /// the native one work down to the network's minimum.
    fn features(&self, xs: &Tensor) -> Result<Tensor>;

    /// The last feature map `[N, D, h, w]` before global pooling (what a Keras `Flatten` head
    /// would see); [`Backbone::features`] is its mean over `h` and `w`.
    fn feature_map(&self, xs: &Tensor) -> Result<Tensor>;
}

/// Loads `kind` in `flavor` with weights from `source` onto `device`.
pub fn load(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    device: &Device,
) -> Result<Box<dyn Backbone>> {
    load_with_provenance(kind, source, flavor, device).map(|(bb, _)| bb)
}

/// As [`load`], also returning where the weights came from (path and sha256).
pub fn load_with_provenance(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    device: &Device,
) -> Result<(Box<dyn Backbone>, Provenance)> {
    let provenance = source.resolve(kind)?;
    let vb = weights::var_builder(&provenance.path, device)?;
    let bb = models::build(kind, flavor, vb)?;
    Ok((bb, provenance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        for k in BackboneKind::ALL {
            assert_eq!(k.name().parse::<BackboneKind>().unwrap(), k);
        }
        assert_eq!(
            "MobileNetV2".parse::<BackboneKind>().unwrap(),
            BackboneKind::MobileNetV2
        );
        let err = "resnet50".parse::<BackboneKind>().unwrap_err().to_string();
        assert!(err.contains("resnet50"), "{err}");
        assert_eq!("keras".parse::<Flavor>().unwrap(), Flavor::Keras);
        assert!("tf".parse::<Flavor>().is_err());
    }

    #[test]
    fn input_specs_follow_flavor_md() {
        let vgg = BackboneKind::Vgg16.input(Flavor::Keras);
        assert_eq!((vgg.side, vgg.norm.name()), (224, "caffe"));
        let mnv2 = BackboneKind::MobileNetV2.input(Flavor::Keras);
        assert_eq!((mnv2.side, mnv2.norm.name()), (224, "tf"));
        let xc = BackboneKind::Xception.input(Flavor::Timm);
        assert_eq!((xc.side, xc.norm.name()), (299, "tf"));
        assert_eq!(BackboneKind::NasNetLarge.native_side(), 331);
        assert_eq!(BackboneKind::NasNetLarge.feature_dim(), 4032);
    }
}
