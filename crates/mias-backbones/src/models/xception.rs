//! # Xception (the original Chollet/Keras architecture)
//!
//! "Xception: Deep Learning with Depthwise Separable Convolutions", Chollet, 2017
//! (<https://arxiv.org/abs/1610.02357>). Reference implementations: timm `legacy_xception`
//! (`timm/models/xception.py`, Cadene's port of the Keras weights; not the Aligned
//! `xception41/65/71`) and Keras `keras.applications.Xception`.
//!
//! Entry flow: two plain 3x3 convolutions without padding (stride 2 then 1), then blocks 1-3,
//! each two separable convolutions and a 3x3 stride-2 max pool, plus a strided 1x1 convolution on
//! the skip path. Middle flow: blocks 4-11, three separable convolutions each, identity skip.
//! Exit flow: block 12 (728 -> 1024, strided), then two separable convolutions (1536, 2048).
//! Every separable convolution is a 3x3 depthwise convolution with padding 1 followed by a 1x1
//! convolution and a BatchNorm; activations are ReLU. Features = global average pool of the
//! 2048-channel map (10x10 at 299).
//!
//! Weights: timm's `legacy_xception` checkpoint (`xception-43020ad28.pth` from timm's GitHub
//! release), or the Keras weights converted to the same keys (`xception.keras.safetensors`).
//! Input: 299x299 RGB, `x / 127.5 - 1` (timm's mean = std = 0.5, the same map).
//!
//! The flavors differ in two places (`../shared/weights/FLAVOR.md` §3):
//! - BatchNorm eps: 1e-5 in timm, 1e-3 in Keras;
//! - the four max pools: timm pads 1 on every side, Keras pads TensorFlow SAME with -inf; the two
//!   agree at odd sizes but not at even ones (block 2 at 299: 74 -> 37).
//!
//! Both are checked against timm (`tests/it/timm_parity.rs`): the timm flavor against
//! `legacy_xception`, the keras flavor against `legacy_xception` with those two changes made to
//! timm's modules; the keras flavor against Keras itself once `xception.keras.safetensors` is in
//! `../shared/weights` (`tests/it/keras_parity.rs`).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec};
use crate::error::Result;
use crate::kernels::Activation;
use crate::kernels::ops::{add_into, relu};
use crate::layers::{
    Conv2d, ConvShape, Padding, SeparableConv2d, check_input, global_avg_pool, max_pool2d,
};

/// Xception configuration: BatchNorm eps and the padding of the strided max pools.
#[derive(Clone, Debug)]
pub struct Config {
    flavor: Flavor,
    bn_eps: f64,
    pool_padding: Padding,
}

impl Config {
    /// timm's `legacy_xception`: eps 1e-5, max pools padded 1 on every side.
    pub fn timm() -> Self {
        Self {
            flavor: Flavor::Timm,
            bn_eps: 1e-5,
            pool_padding: Padding::Symmetric(1),
        }
    }

    /// Keras's `Xception(include_top=False)`: eps 1e-3, max pools padded TensorFlow SAME.
    pub fn keras() -> Self {
        Self {
            flavor: Flavor::Keras,
            bn_eps: 1e-3,
            pool_padding: Padding::TfSame,
        }
    }

    /// The configuration of `flavor`.
    pub fn for_flavor(flavor: Flavor) -> Self {
        match flavor {
            Flavor::Timm => Self::timm(),
            Flavor::Keras => Self::keras(),
        }
    }
}

/// The Xception network up to the global average pool.
#[derive(Clone, Debug)]
pub struct Xception {
    flavor: Flavor,
    pool_padding: Padding,
    conv1: Conv2d,
    conv2: Conv2d,
    entry: Vec<StridedBlock>,
    middle: Vec<MiddleBlock>,
    exit: StridedBlock,
    conv3: SeparableConv2d,
    conv4: SeparableConv2d,
}

/// `(block name, c_in, c_mid, c_out, starts with ReLU)` of the four strided blocks.
#[rustfmt::skip]
const STRIDED: [(&str, usize, usize, usize, bool); 4] = [
    ("block1", 64, 128, 128, false),
    ("block2", 128, 256, 256, true),
    ("block3", 256, 728, 728, true),
    ("block12", 728, 728, 1024, true),
];

/// Blocks 4 to 11 of the middle flow.
const MIDDLE: std::ops::RangeInclusive<usize> = 4..=11;

impl Xception {
    /// Builds the network from timm's `legacy_xception` keys under `vb`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let eps = cfg.bn_eps;
        let conv1 = Conv2d::load_bn(
            vb.pp("conv1"),
            vb.pp("bn1"),
            ConvShape {
                c_in: 3,
                c_out: 32,
                k: 3,
                stride: 2,
                padding: Padding::Valid,
            },
            eps,
        )?
        .with_act(Activation::Relu);
        let conv2 = Conv2d::load_bn(
            vb.pp("conv2"),
            vb.pp("bn2"),
            ConvShape {
                c_in: 32,
                c_out: 64,
                k: 3,
                stride: 1,
                padding: Padding::Valid,
            },
            eps,
        )?
        .with_act(Activation::Relu);
        let strided = |i: usize| {
            let (name, c_in, c_mid, c_out, relu_first) = STRIDED[i];
            StridedBlock::new(vb.pp(name), c_in, c_mid, c_out, relu_first, eps)
        };
        let entry = (0..3).map(strided).collect::<Result<Vec<_>>>()?;
        let middle = MIDDLE
            .map(|i| MiddleBlock::new(vb.pp(format!("block{i}")), 728, eps))
            .collect::<Result<Vec<_>>>()?;
        let exit = strided(3)?;
        let conv3 = sep_bn(vb.pp("conv3"), vb.pp("bn3"), 1024, 1536, eps)?;
        let conv4 = sep_bn(vb.pp("conv4"), vb.pp("bn4"), 1536, 2048, eps)?;
        Ok(Self {
            flavor: cfg.flavor,
            pool_padding: cfg.pool_padding,
            conv1,
            conv2,
            entry,
            middle,
            exit,
            conv3: conv3.with_act(Activation::Relu),
            conv4: conv4.with_act(Activation::Relu),
        })
    }

    /// The last feature map `[N, 2048, H', W']` (10x10 at 299), after the final ReLU.
    pub fn forward_map(&self, xs: &Tensor) -> Result<Tensor> {
        check_input("xception", xs, 32)?;
        let x = self.middle_flow(xs)?;
        let x = self.exit.forward(&x, self.pool_padding)?;
        self.conv4.forward(&self.conv3.forward(&x)?)
    }

    /// The dense map of `layer`: [`Xception::forward_map`] for [`DenseLayer::Last`], the ReLU of
    /// the middle flow's output (728 channels, stride 16) for [`DenseLayer::PreviousStage`].
    pub fn forward_dense(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        let (_, h, w) = check_input("xception", xs, 32)?;
        BackboneKind::Xception.dense_grid(layer, h, w)?;
        match layer {
            DenseLayer::Last => self.forward_map(xs),
            DenseLayer::PreviousStage => Ok(relu(&self.middle_flow(xs)?)?),
        }
    }

    /// Stem, entry flow and middle flow: the output of block 11 (before any ReLU).
    fn middle_flow(&self, xs: &Tensor) -> Result<Tensor> {
        let mut x = self.conv2.forward(&self.conv1.forward(xs)?)?;
        for block in &self.entry {
            x = block.forward(&x, self.pool_padding)?;
        }
        for block in &self.middle {
            x = block.forward(&x)?;
        }
        Ok(x)
    }
}

impl Backbone for Xception {
    fn kind(&self) -> BackboneKind {
        BackboneKind::Xception
    }

    fn input(&self) -> InputSpec {
        BackboneKind::Xception.input(self.flavor)
    }

    fn features(&self, xs: &Tensor) -> Result<Tensor> {
        global_avg_pool(&self.forward_map(xs)?)
    }

    fn feature_map(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_map(xs)
    }

    fn dense_map(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        self.forward_dense(xs, layer)
    }
}

/// A separable convolution `P.conv1` (depthwise 3x3, pad 1) + `P.pointwise` with the BatchNorm
/// under `vb_bn` folded in.
fn sep_bn(
    vb: VarBuilder,
    vb_bn: VarBuilder,
    c_in: usize,
    c_out: usize,
    eps: f64,
) -> Result<SeparableConv2d> {
    SeparableConv2d::load_bn(
        vb.pp("conv1"),
        vb.pp("pointwise"),
        vb_bn,
        ConvShape {
            c_in,
            c_out,
            k: 3,
            stride: 1,
            padding: Padding::Symmetric(1),
        },
        eps,
    )
}

/// Blocks 1, 2, 3 and 12: `[ReLU] sep BN ReLU sep BN maxpool(3, 2)` plus `skipbn(skip(x))`, a
/// strided 1x1 convolution of the block input (before any ReLU).
#[derive(Clone, Debug)]
struct StridedBlock {
    relu_first: bool,
    sep1: SeparableConv2d,
    sep2: SeparableConv2d,
    skip: Conv2d,
}

impl StridedBlock {
    fn new(
        vb: VarBuilder,
        c_in: usize,
        c_mid: usize,
        c_out: usize,
        relu_first: bool,
        eps: f64,
    ) -> Result<Self> {
        // timm drops the leading ReLU of block1's `rep`, so its indices start one lower.
        let o = usize::from(relu_first);
        let rep = vb.pp("rep");
        let sep1 = sep_bn(
            rep.pp(o.to_string()),
            rep.pp((o + 1).to_string()),
            c_in,
            c_mid,
            eps,
        )?
        .with_act(Activation::Relu);
        let sep2 = sep_bn(
            rep.pp((o + 3).to_string()),
            rep.pp((o + 4).to_string()),
            c_mid,
            c_out,
            eps,
        )?;
        let shape = ConvShape {
            stride: 2,
            ..ConvShape::pointwise(c_in, c_out)
        };
        let skip = Conv2d::load_bn(vb.pp("skip"), vb.pp("skipbn"), shape, eps)?;
        Ok(Self {
            relu_first,
            sep1,
            sep2,
            skip,
        })
    }

    fn forward(&self, x: &Tensor, pool_padding: Padding) -> Result<Tensor> {
        let r = if self.relu_first { relu(x)? } else { x.clone() };
        let r = self.sep2.forward(&self.sep1.forward(&r)?)?;
        let r = max_pool2d(&r, 3, 2, pool_padding)?;
        // `r` is a fresh output: the sum goes into its storage.
        Ok(add_into(r, &self.skip.forward(x)?)?)
    }
}

/// Blocks 4 to 11: three times `ReLU sep BN` (`rep.1/2`, `rep.4/5`, `rep.7/8`), plus `x`.
#[derive(Clone, Debug)]
struct MiddleBlock {
    seps: [SeparableConv2d; 3],
}

impl MiddleBlock {
    fn new(vb: VarBuilder, c: usize, eps: f64) -> Result<Self> {
        let rep = vb.pp("rep");
        let sep = |i: usize| {
            sep_bn(
                rep.pp(i.to_string()),
                rep.pp((i + 1).to_string()),
                c,
                c,
                eps,
            )
        };
        Ok(Self {
            seps: [
                sep(1)?.with_act(Activation::Relu),
                sep(4)?.with_act(Activation::Relu),
                sep(7)?,
            ],
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut r = relu(x)?;
        for sep in &self.seps {
            r = sep.forward(&r)?;
        }
        Ok(add_into(r, x)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn zero_model(flavor: Flavor) -> Xception {
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        Xception::new(&Config::for_flavor(flavor), vb).expect("zero weights load")
    }

    #[test]
    fn map_size_by_hand_at_other_sides() {
        // 64: conv1 31, conv2 29, pools 15, 8, 4, 2 (both paddings agree at these sizes).
        // 75: conv1 37, conv2 35, pools 18, 9, 5, 3.
        for flavor in [Flavor::Timm, Flavor::Keras] {
            let model = zero_model(flavor);
            for (side, map) in [(64, 2), (75, 3)] {
                let x = Tensor::zeros((2, 3, side, side), DType::F32, &Device::Cpu).unwrap();
                let y = model.forward_map(&x).unwrap();
                assert_eq!(y.dims(), &[2, 2048, map, map], "{flavor} at {side}");
                let f = model.features(&x).unwrap();
                assert_eq!(f.dims(), &[2, 2048]);
            }
        }
    }

    #[test]
    fn rejects_small_and_malformed_inputs() {
        let model = zero_model(Flavor::Timm);
        let x = Tensor::zeros((1, 3, 31, 40), DType::F32, &Device::Cpu).unwrap();
        let err = model.features(&x).unwrap_err();
        assert!(
            matches!(err, crate::Error::InputTooSmall { h: 31, w: 40, .. }),
            "{err}"
        );
        let x = Tensor::zeros((1, 1, 64, 64), DType::F32, &Device::Cpu).unwrap();
        let err = model.features(&x).unwrap_err();
        assert!(matches!(err, crate::Error::BadInput { .. }), "{err}");
    }

    #[test]
    fn flavors_differ_only_in_eps_and_pool_padding() {
        let (t, k) = (Config::timm(), Config::keras());
        assert_eq!((t.bn_eps, t.pool_padding), (1e-5, Padding::Symmetric(1)));
        assert_eq!((k.bn_eps, k.pool_padding), (1e-3, Padding::TfSame));
    }
}
