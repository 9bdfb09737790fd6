//! # MobileNetV2 1.0
//!
//! "MobileNetV2: Inverted Residuals and Linear Bottlenecks", Sandler et al., 2018
//! (<https://arxiv.org/abs/1801.04381>). Reference implementation: timm `mobilenetv2_100`
//! (`timm/models/efficientnet.py`, arch string `ds_r1_k3_s1_c16, ir_r2_k3_s2_e6_c24,
//! ir_r3_k3_s2_e6_c32, ir_r4_k3_s2_e6_c64, ir_r3_k3_s1_e6_c96, ir_r3_k3_s2_e6_c160,
//! ir_r1_k3_s1_e6_c320`), and Keras `applications.MobileNetV2(alpha=1.0)`.
//!
//! Stem 3x3 s2 conv (32) + BN + ReLU6; a depthwise-separable block to 16; sixteen inverted
//! residual blocks (1x1 expand x6 + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 linear
//! projection and BN, identity skip when shape is kept); 1x1 head conv to 1280 + BN + ReLU6; global average
//! pool. Features: 1280 at 224 (map 7x7). BatchNorm eps 1e-5 in both flavors (the Coral file's
//! BatchNorms carry folded biases computed for that eps); every BatchNorm is folded into its
//! convolution at load time.
//!
//! Flavors differ only in the padding of the five stride-2 3x3 convolutions (`conv_stem`,
//! `blocks.{1,2,3,5}.0.conv_dw`): timm pads them symmetrically by 1, Keras/TensorFlow uses SAME
//! (for even sides: nothing on top/left, one on bottom/right). Input normalisation: Keras `tf`
//! (`x / 127.5 - 1`) or timm's ImageNet mean/std.
//!
//! Weights: `timm/mobilenetv2_100.ra_in1k` on the Hub, or `mobilenetv2.coral.safetensors`
//! (Google Coral's TFLite model, dequantised, converted to these keys). The `classifier` is not
//! read.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec};
use crate::error::Result;
use crate::kernels::Activation;
use crate::kernels::ops::add_into;
use crate::layers::{
    Conv2d, ConvShape, DepthwiseConv2d, FusedInvertedResidual, Padding, check_input,
    global_avg_pool,
};

/// A stage of inverted residual blocks.
#[derive(Clone, Copy, Debug)]
struct Stage {
    repeats: usize,
    out: usize,
    stride: usize,
    expand: usize,
}

/// MobileNetV2 configuration.
#[derive(Clone, Debug)]
pub struct Config {
    flavor: Flavor,
    /// Padding of the stride-2 3x3 convolutions.
    strided_padding: Padding,
    bn_eps: f64,
    stem: usize,
    first_out: usize,
    stages: Vec<Stage>,
    head: usize,
}

#[rustfmt::skip]
const STAGES: [Stage; 6] = [
    Stage { repeats: 2, out: 24, stride: 2, expand: 6 },
    Stage { repeats: 3, out: 32, stride: 2, expand: 6 },
    Stage { repeats: 4, out: 64, stride: 2, expand: 6 },
    Stage { repeats: 3, out: 96, stride: 1, expand: 6 },
    Stage { repeats: 3, out: 160, stride: 2, expand: 6 },
    Stage { repeats: 1, out: 320, stride: 1, expand: 6 },
];

impl Config {
    /// timm's `mobilenetv2_100`: symmetric padding everywhere.
    pub fn timm() -> Self {
        Self::for_flavor(Flavor::Timm)
    }

    /// Keras's `MobileNetV2(alpha=1.0)`: TensorFlow SAME padding on the stride-2 convolutions.
    pub fn keras() -> Self {
        Self::for_flavor(Flavor::Keras)
    }

    /// The configuration of `flavor`.
    pub fn for_flavor(flavor: Flavor) -> Self {
        Self {
            flavor,
            strided_padding: match flavor {
                Flavor::Timm => Padding::Symmetric(1),
                Flavor::Keras => Padding::TfSame,
            },
            bn_eps: 1e-5,
            stem: 32,
            first_out: 16,
            stages: STAGES.to_vec(),
            head: 1280,
        }
    }
}

/// The MobileNetV2 feature extractor.
#[derive(Clone, Debug)]
pub struct MobileNetV2 {
    flavor: Flavor,
    stem: Conv2d,
    first: DsBlock,
    blocks: Vec<InvertedResidual>,
    /// How many of `blocks` run at output stride 16 or less (through timm's `blocks.4`).
    blocks_to_stride16: usize,
    head: Conv2d,
}

impl MobileNetV2 {
    /// Builds the network from timm's keys (`conv_stem`, `bn1`, `blocks.*`, `conv_head`, `bn2`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let eps = cfg.bn_eps;
        let stem = Conv2d::load_bn(
            vb.pp("conv_stem"),
            vb.pp("bn1"),
            ConvShape {
                c_in: 3,
                c_out: cfg.stem,
                k: 3,
                stride: 2,
                padding: cfg.strided_padding,
            },
            eps,
        )?
        .with_act(Activation::Relu6);
        let vbb = vb.pp("blocks");
        let first = DsBlock::new(vbb.pp("0").pp("0"), cfg.stem, cfg.first_out, eps)?;
        let mut blocks = Vec::new();
        let mut c_in = cfg.first_out;
        // The stem halves the input; each stage multiplies the stride by its own.
        let mut stride_so_far = 2;
        let mut blocks_to_stride16 = 0;
        for (s, stage) in cfg.stages.iter().enumerate() {
            stride_so_far *= stage.stride;
            if stride_so_far <= 16 {
                blocks_to_stride16 += stage.repeats;
            }
            for b in 0..stage.repeats {
                let stride = if b == 0 { stage.stride } else { 1 };
                let padding = if stride == 2 {
                    cfg.strided_padding
                } else {
                    Padding::Symmetric(1)
                };
                blocks.push(InvertedResidual::new(
                    vbb.pp((s + 1).to_string()).pp(b.to_string()),
                    c_in,
                    stage.out,
                    c_in * stage.expand,
                    stride,
                    padding,
                    eps,
                )?);
                c_in = stage.out;
            }
        }
        let head = Conv2d::load_bn(
            vb.pp("conv_head"),
            vb.pp("bn2"),
            ConvShape::pointwise(c_in, cfg.head),
            eps,
        )?
        .with_act(Activation::Relu6);
        Ok(Self {
            flavor: cfg.flavor,
            stem,
            first,
            blocks,
            blocks_to_stride16,
            head,
        })
    }

    /// The last feature map `[N, 1280, H/32, W/32]` (rounded up).
    pub fn forward_map(&self, xs: &Tensor) -> Result<Tensor> {
        check_input("mobilenetv2", xs, 3)?;
        self.head.forward(&self.run_blocks(xs, self.blocks.len())?)
    }

    /// The dense map of `layer`: [`MobileNetV2::forward_map`] for [`DenseLayer::Last`], the
    /// output of the last stride-16 block (timm's `blocks.4`, 96 channels, linear) for
    /// [`DenseLayer::PreviousStage`].
    pub fn forward_dense(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        let (_, h, w) = check_input("mobilenetv2", xs, 3)?;
        BackboneKind::MobileNetV2.dense_grid(layer, h, w)?;
        match layer {
            DenseLayer::Last => self.forward_map(xs),
            DenseLayer::PreviousStage => self.run_blocks(xs, self.blocks_to_stride16),
        }
    }

    /// Stem, first block and the first `n` inverted residual blocks.
    fn run_blocks(&self, xs: &Tensor, n: usize) -> Result<Tensor> {
        let mut x = self.stem.forward(xs)?;
        x = self.first.forward(&x)?;
        for block in &self.blocks[..n] {
            x = block.forward(&x)?;
        }
        Ok(x)
    }
}

impl Backbone for MobileNetV2 {
    fn kind(&self) -> BackboneKind {
        BackboneKind::MobileNetV2
    }

    fn input(&self) -> InputSpec {
        BackboneKind::MobileNetV2.input(self.flavor)
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

/// `blocks.0.0`: depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN, no skip (channels change).
#[derive(Clone, Debug)]
struct DsBlock {
    conv_dw: DepthwiseConv2d,
    conv_pw: Conv2d,
}

impl DsBlock {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize, eps: f64) -> Result<Self> {
        let conv_dw = DepthwiseConv2d::load_bn(
            vb.pp("conv_dw"),
            vb.pp("bn1"),
            c_in,
            3,
            1,
            Padding::Symmetric(1),
            eps,
        )?
        .with_act(Activation::Relu6);
        let shape = ConvShape::pointwise(c_in, c_out);
        let conv_pw = Conv2d::load_bn(vb.pp("conv_pw"), vb.pp("bn2"), shape, eps)?;
        Ok(Self { conv_dw, conv_pw })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv_pw.forward(&self.conv_dw.forward(x)?)
    }
}

/// Inverted residual: expand 1x1 + BN + ReLU6, depthwise 3x3 + BN + ReLU6, project 1x1 + BN, and
/// `+ x` when the block keeps the shape.
#[derive(Clone, Debug)]
struct InvertedResidual {
    conv_pw: Conv2d,
    conv_dw: DepthwiseConv2d,
    conv_pwl: Conv2d,
    skip: bool,
    /// The three as one op, when built in bf16 on the CPU: the same bits, less memory traffic.
    fused: Option<FusedInvertedResidual>,
}

impl InvertedResidual {
    fn new(
        vb: VarBuilder,
        c_in: usize,
        c_out: usize,
        mid: usize,
        stride: usize,
        padding: Padding,
        eps: f64,
    ) -> Result<Self> {
        let conv_pw = Conv2d::load_bn(
            vb.pp("conv_pw"),
            vb.pp("bn1"),
            ConvShape::pointwise(c_in, mid),
            eps,
        )?
        .with_act(Activation::Relu6);
        let conv_dw =
            DepthwiseConv2d::load_bn(vb.pp("conv_dw"), vb.pp("bn2"), mid, 3, stride, padding, eps)?
                .with_act(Activation::Relu6);
        let shape = ConvShape::pointwise(mid, c_out);
        let conv_pwl = Conv2d::load_bn(vb.pp("conv_pwl"), vb.pp("bn3"), shape, eps)?;
        let skip = stride == 1 && c_in == c_out;
        let fused = FusedInvertedResidual::new(&conv_pw, &conv_dw, &conv_pwl, skip)?;
        Ok(Self {
            conv_pw,
            conv_dw,
            conv_pwl,
            skip,
            fused,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Fused when every thread gets an image of its own: below that (batch 1 on 2 threads)
        // an image's activations stay in the cache anyway, and the layers split each product
        // over the threads where the fused block would cut the image in bands (5% slower).
        if let Some(fused) = &self.fused
            && x.device().is_cpu()
            && x.dtype() == DType::F32
            && x.dim(0)? >= rayon::current_num_threads()
        {
            return fused.forward(x);
        }
        let y = self.conv_pw.forward(x)?;
        let y = self.conv_dw.forward(&y)?;
        let y = self.conv_pwl.forward(&y)?;
        // `y` is a fresh output: the sum goes into its storage.
        if self.skip {
            Ok(add_into(y, x)?)
        } else {
            Ok(y)
        }
    }
}
