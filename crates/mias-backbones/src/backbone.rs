//! What a backbone is, independent of any one network: the four kinds of the paper
//! ([`BackboneKind`]) with their native input side and feature length, which framework's forward
//! a port reproduces ([`Flavor`]), the input normalisation that goes with it ([`Normalization`],
//! [`InputSpec`]), and the [`Backbone`] trait every port implements.

use std::fmt;
use std::str::FromStr;

use candle_core::Tensor;

use crate::error::{Error, Result};

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

/// How raw RGB pixels in `0..=255` are mapped to the network input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Normalization {
    /// Keras `caffe`: subtract the ImageNet RGB mean `[123.68, 116.779, 103.939]`, no scaling
    /// (channel order RGB here: the weights' first layer was flipped from BGR).
    Caffe,
    /// Keras `tf`: `x / 127.5 - 1`.
    Tf,
    /// Keras `torch` / timm: `(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]`.
    Torch,
}

impl Normalization {
    /// The name Keras gives this mode (`caffe`, `tf`, `torch`).
    pub fn name(self) -> &'static str {
        match self {
            Normalization::Caffe => "caffe",
            Normalization::Tf => "tf",
            Normalization::Torch => "torch",
        }
    }

    /// Per-channel `(mean, std)` on the `0..=255` scale: input = `(x - mean) / std`.
    pub fn mean_std(self) -> ([f32; 3], [f32; 3]) {
        match self {
            Normalization::Caffe => ([123.68, 116.779, 103.939], [1.0; 3]),
            Normalization::Tf => ([127.5; 3], [127.5; 3]),
            Normalization::Torch => (
                [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
                [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
            ),
        }
    }
}

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
