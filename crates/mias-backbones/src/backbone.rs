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

    /// The stride of `layer`'s dense map in input pixels: each cell of the map stands for a
    /// `stride x stride` square of the input (see [`DenseLayer`]).
    pub fn dense_stride(self, layer: DenseLayer) -> usize {
        match (self, layer) {
            (BackboneKind::Vgg16, DenseLayer::Last) => 16,
            (BackboneKind::Vgg16, DenseLayer::PreviousStage) => 8,
            (_, DenseLayer::Last) => 32,
            (_, DenseLayer::PreviousStage) => 16,
        }
    }

    /// The channels of `layer`'s dense map: the length of each cell's feature vector.
    pub fn dense_channels(self, layer: DenseLayer) -> usize {
        match (self, layer) {
            (BackboneKind::Vgg16, _) => 512,
            (BackboneKind::Xception, DenseLayer::PreviousStage) => 728,
            (BackboneKind::MobileNetV2, DenseLayer::PreviousStage) => 96,
            (BackboneKind::NasNetLarge, DenseLayer::PreviousStage) => 2016,
            (kind, DenseLayer::Last) => kind.feature_dim(),
        }
    }

    /// The grid `(h / stride, w / stride)` of `layer`'s dense map for an `h x w` input, or
    /// [`Error::DenseSide`] when a side is not a positive multiple of the stride.
    pub fn dense_grid(self, layer: DenseLayer, h: usize, w: usize) -> Result<(usize, usize)> {
        let stride = self.dense_stride(layer);
        if h == 0 || w == 0 || !h.is_multiple_of(stride) || !w.is_multiple_of(stride) {
            return Err(Error::DenseSide {
                backbone: self.name(),
                layer: layer.name(),
                stride,
                h,
                w,
            });
        }
        Ok((h / stride, w / stride))
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

/// Which map [`Backbone::dense_map`] returns: the network's feature map of the whole image at
/// one depth, before any global pooling, one feature vector per cell of a grid of
/// [`BackboneKind::dense_stride`] pixels. The maps are those timm's `feature_info` names for
/// these strides:
///
/// | backbone | `Last` (stride, channels) | `PreviousStage` (stride, channels) |
/// |---|---|---|
/// | VGG16 | conv5_3 + ReLU, before the last max pool (16, 512) | conv4_3 + ReLU (8, 512) |
/// | Xception | conv4 + BN + ReLU, the last map (32, 2048) | ReLU of the middle flow's output, block 11 (16, 728) |
/// | MobileNetV2 | conv_head + BN + ReLU6, the last map (32, 1280) | output of `blocks.4`, linear (16, 96) |
/// | NASNetLarge | the final ReLU, the last map (32, 4032) | ReLU of `cell_11`'s output (16, 2016) |
///
/// For Xception, MobileNetV2 and NASNetLarge `Last` is [`Backbone::feature_map`]; for VGG16 it
/// is the map before `feature_map`'s final pool (twice its resolution).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DenseLayer {
    /// The deepest map (see the table).
    #[default]
    Last,
    /// The last map of the stage before, at half `Last`'s stride (see the table).
    PreviousStage,
}

impl DenseLayer {
    /// Both layers, deepest first.
    pub const ALL: [DenseLayer; 2] = [DenseLayer::Last, DenseLayer::PreviousStage];

    /// The lowercase name used in configurations and cache keys (`last`, `previous_stage`).
    pub fn name(self) -> &'static str {
        match self {
            DenseLayer::Last => "last",
            DenseLayer::PreviousStage => "previous_stage",
        }
    }
}

impl fmt::Display for DenseLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DenseLayer {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DenseLayer::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownDenseLayer(s.to_string()))
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

    /// The dense map of `layer` (see [`DenseLayer`]) for a batch `[N, 3, H, W]` of normalised
    /// images of any size whose sides are multiples of the layer's stride `s`
    /// ([`BackboneKind::dense_stride`]): `[N, C, H / s, W / s]`, `C` =
    /// [`BackboneKind::dense_channels`]. Cell `(i, j)` stands for the input square
    /// `[i * s, (i + 1) * s) x [j * s, (j + 1) * s)` (its receptive field is wider and centred on
    /// it, to within the padding rules of the stem); the whole image is one forward pass. A side that is not
    /// a multiple of `s` is [`Error::DenseSide`]; below the network's minimum input,
    /// [`Error::InputTooSmall`].
    ///
    /// Memory (CPU): the kernels work in tiles of a few MiB per thread (im2col, Winograd), so the
    /// peak is the two largest consecutive activations plus the weights. For VGG16 at batch 1
    /// that is two maps of 64 x H x W floats (128 MiB at 512 px, 512 MiB at 1024) and about
    /// 160 MiB of weights (the Winograd copies included): the whole process peaked at 336 MiB at
    /// 512 px and 737 MiB at 1024.
    fn dense_map(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor>;

    /// The dense maps of `layers`, in that order, each as [`Backbone::dense_map`] gives it (the
    /// same values, bit for bit). VGG16 computes them in one forward pass, the layers they share
    /// run once (its `previous_stage` map comes free with `last`); the other backbones run one
    /// pass per layer (the default).
    fn dense_maps(&self, xs: &Tensor, layers: &[DenseLayer]) -> Result<Vec<Tensor>> {
        layers.iter().map(|&l| self.dense_map(xs, l)).collect()
    }
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
    fn dense_grid_needs_multiples_of_the_stride() {
        let vgg = BackboneKind::Vgg16;
        assert_eq!(
            vgg.dense_grid(DenseLayer::Last, 512, 1024).unwrap(),
            (32, 64)
        );
        assert_eq!(
            vgg.dense_grid(DenseLayer::PreviousStage, 512, 512).unwrap(),
            (64, 64)
        );
        let mnv2 = BackboneKind::MobileNetV2;
        assert_eq!(
            mnv2.dense_grid(DenseLayer::Last, 1024, 1024).unwrap(),
            (32, 32)
        );
        let err = vgg.dense_grid(DenseLayer::Last, 520, 512).unwrap_err();
        assert!(
            matches!(
                err,
                Error::DenseSide {
                    stride: 16,
                    h: 520,
                    w: 512,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("vgg16") && msg.contains("520x512"), "{msg}");
        assert!(vgg.dense_grid(DenseLayer::Last, 0, 0).is_err());
        for layer in DenseLayer::ALL {
            assert_eq!(layer.name().parse::<DenseLayer>().unwrap(), layer);
        }
        assert!("conv5_3".parse::<DenseLayer>().is_err());
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
