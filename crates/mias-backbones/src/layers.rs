//! Layers shared by the model files: padding rules, convolutions with BatchNorm folded in at load
//! time, depthwise and separable convolutions, pooling with TensorFlow SAME or symmetric padding,
//! activations and the global average pool.
//!
//! Every layer is inference-only. A convolution followed by a BatchNorm is loaded with
//! `load_bn`, which folds the BatchNorm (eval mode, the `eps` passed in) into the convolution's
//! weight and bias: `w' = w * g / sqrt(v + eps)`, `b' = (b - m) * g / sqrt(v + eps) + beta`, with
//! `g, beta, m, v` = the BatchNorm's `weight, bias, running_mean, running_var`. Keys are read
//! through the [`VarBuilder`] the caller passes, so the key names stay in the model files.

use candle_core::{D, DType, Tensor};
use candle_nn::VarBuilder;

use crate::error::{Error, Result};
use std::sync::Arc;

use crate::kernels::bf16::{Bf16Kernel, PackedA};
use crate::kernels::conv::{conv2d, conv2d_bf16, pack_weight_bf16};
use crate::kernels::depthwise::{DepthwiseParams, depthwise_conv2d};
use crate::kernels::fused::{BlockWeights, InvertedResidualBf16, inverted_residual_bf16};
use crate::kernels::pool::{PoolKind, PoolParams, pool2d};
use crate::kernels::winograd::{
    pack_transformed_bf16, transform_weights, winograd_conv3x3, winograd_conv3x3_bf16,
};
use crate::kernels::{Activation, ConvParams};
use crate::precision::{self, Numerics};

/// How a convolution or a pooling window pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding (Keras `valid`).
    Valid,
    /// `p` cells on all four sides (PyTorch `padding=p`).
    Symmetric(usize),
    /// TensorFlow `SAME`, computed per input size: `out = ceil(n / s)`,
    /// `total = max((out - 1) * s + k - n, 0)`, `before = total / 2`, the rest after.
    TfSame,
}

/// Padding `(before, after)` of TensorFlow `SAME` along an axis of length `n`, kernel `k`,
/// stride `s`.
pub fn tf_same_pad(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out.saturating_sub(1)) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

impl Padding {
    /// Padding `[top, bottom, left, right]` for an `h x w` input, a `k x k` window and stride `s`.
    pub fn amounts(self, h: usize, w: usize, k: usize, s: usize) -> [usize; 4] {
        match self {
            Padding::Valid => [0; 4],
            Padding::Symmetric(p) => [p; 4],
            Padding::TfSame => {
                let (t, b) = tf_same_pad(h, k, s);
                let (l, r) = tf_same_pad(w, k, s);
                [t, b, l, r]
            }
        }
    }
}

/// The shape of a convolution layer: channels in and out, square kernel side, stride and
/// padding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride, the same along both axes.
    pub stride: usize,
    /// Padding rule.
    pub padding: Padding,
}

impl ConvShape {
    /// A 1x1 stride-1 convolution without padding (a pointwise projection).
    pub fn pointwise(c_in: usize, c_out: usize) -> Self {
        Self {
            c_in,
            c_out,
            k: 1,
            stride: 1,
            padding: Padding::Valid,
        }
    }
}

/// Folds an eval-mode BatchNorm over `c` channels (keys `weight`, `bias`, `running_mean`,
/// `running_var` under `vb_bn`) into a convolution weight `[c, ...]` and optional bias `[c]`.
pub fn fold_batch_norm(
    weight: &Tensor,
    bias: Option<&Tensor>,
    vb_bn: &VarBuilder,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let c = weight.dim(0)?;
    let gamma = vb_bn.get(c, "weight")?;
    let beta = vb_bn.get(c, "bias")?;
    let mean = vb_bn.get(c, "running_mean")?;
    let var = vb_bn.get(c, "running_var")?;
    let scale = (gamma / (var + eps)?.sqrt()?)?;
    let mut shape = vec![c];
    shape.resize(weight.rank(), 1);
    let w = weight.broadcast_mul(&scale.reshape(shape)?)?;
    let b = match bias {
        Some(b) => b.sub(&mean)?,
        None => mean.neg()?,
    };
    let b = ((b * scale)? + beta)?;
    Ok((w, b))
}

/// A dense (groups = 1) 2-D convolution with optional bias, padding rule and fused activation.
#[derive(Clone, Debug)]
pub struct Conv2d {
    weight: Tensor,
    /// Winograd-transformed weight of a 3x3 stride-1 convolution on the CPU (see
    /// [`crate::kernels::winograd`]), computed at load time.
    winograd: Option<Tensor>,
    bias: Option<Tensor>,
    /// The weights in bf16 when the backbone was built at [`crate::Precision::Bf16`] on the CPU.
    bf16: Option<Bf16Weights>,
    k: usize,
    stride: usize,
    padding: Padding,
    act: Activation,
}

/// A convolution's weights packed in bf16 at load time, and the kernel that multiplies them.
#[derive(Clone, Debug)]
enum Bf16Weights {
    /// For the im2col / 1x1 kernel: `[c_out, c_in * k * k]`.
    Direct(Arc<PackedA>, Bf16Kernel),
    /// For the Winograd kernel: the 16 transformed matrices.
    Winograd(Arc<Vec<PackedA>>, Bf16Kernel),
}

/// The bf16 weights of a CPU convolution built in bf16 (see [`crate::precision`]), else `None`.
fn bf16_weights(weight: &Tensor, winograd: Option<&Tensor>) -> Result<Option<Bf16Weights>> {
    let Numerics::Bf16(kernel) = precision::building() else {
        return Ok(None);
    };
    if !weight.device().is_cpu() {
        return Ok(None);
    }
    Ok(Some(match winograd {
        Some(u) => Bf16Weights::Winograd(pack_transformed_bf16(u)?, kernel),
        None => Bf16Weights::Direct(pack_weight_bf16(weight)?, kernel),
    }))
}

impl Conv2d {
    /// Loads `weight` `[c_out, c_in, k, k]` (and `bias` `[c_out]` when `bias` is true) from `vb`.
    pub fn load(vb: VarBuilder, shape: ConvShape, bias: bool) -> Result<Self> {
        let ConvShape {
            c_in,
            c_out,
            k,
            stride,
            padding,
        } = shape;
        let weight = vb.get((c_out, c_in, k, k), "weight")?;
        let bias = if bias {
            Some(vb.get(c_out, "bias")?)
        } else {
            None
        };
        let winograd = winograd_weight(&weight, k, stride)?;
        Ok(Self {
            bf16: bf16_weights(&weight, winograd.as_ref())?,
            winograd,
            weight,
            bias,
            k,
            stride,
            padding,
            act: Activation::None,
        })
    }

    /// Loads a bias-free convolution from `vb` and folds the BatchNorm under `vb_bn` (with
    /// `eps`) into it.
    pub fn load_bn(vb: VarBuilder, vb_bn: VarBuilder, shape: ConvShape, eps: f64) -> Result<Self> {
        let conv = Self::load(vb, shape, false)?;
        let (weight, bias) = fold_batch_norm(&conv.weight, None, &vb_bn, eps)?;
        let winograd = winograd_weight(&weight, shape.k, shape.stride)?;
        Ok(Self {
            bf16: bf16_weights(&weight, winograd.as_ref())?,
            winograd,
            weight,
            bias: Some(bias),
            ..conv
        })
    }

    /// The same convolution followed by `act`.
    pub fn with_act(self, act: Activation) -> Self {
        Self { act, ..self }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Applies the convolution, bias and activation to `x` `[N, C, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let p = ConvParams {
            stride: self.stride,
            pad: self.padding.amounts(h, w, self.k, self.stride),
            act: self.act,
        };
        let bias = match &self.bias {
            Some(b) => b.clone(),
            None => Tensor::zeros(
                self.out_channels(),
                self.weight.dtype(),
                self.weight.device(),
            )?,
        };
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            match &self.bf16 {
                Some(Bf16Weights::Winograd(u, kernel)) => {
                    return Ok(winograd_conv3x3_bf16(x, u, *kernel, &bias, p.pad, p.act)?);
                }
                Some(Bf16Weights::Direct(w, kernel)) => {
                    let kk = (self.k, self.k);
                    return Ok(conv2d_bf16(x, w, *kernel, kk, &bias, p)?);
                }
                None => {}
            }
        }
        if let Some(u) = &self.winograd
            && x.device().is_cpu()
            && x.dtype() == DType::F32
        {
            return Ok(winograd_conv3x3(x, u, &bias, p.pad, p.act)?);
        }
        Ok(conv2d(x, &self.weight, &bias, p)?)
    }
}

/// The Winograd weight of a CPU 3x3 stride-1 convolution with at least 16 input channels (below
/// that, e.g. on RGB input, the im2col kernel is as fast), else `None`.
fn winograd_weight(weight: &Tensor, k: usize, stride: usize) -> Result<Option<Tensor>> {
    let c_in = weight.dims().get(1).copied().unwrap_or(0);
    if k == 3 && stride == 1 && c_in >= 16 && weight.device().is_cpu() {
        Ok(Some(transform_weights(weight)?))
    } else {
        Ok(None)
    }
}

/// A depthwise 2-D convolution (groups = channels, weight `[C, 1, k, k]`) run by the fast kernel
/// of [`crate::kernels::depthwise`], with optional (folded) bias and fused activation.
#[derive(Clone, Debug)]
pub struct DepthwiseConv2d {
    weight: Tensor,
    bias: Tensor,
    k: usize,
    stride: usize,
    padding: Padding,
    act: Activation,
}

impl DepthwiseConv2d {
    /// Loads a bias-free depthwise `weight` `[channels, 1, k, k]` from `vb`.
    pub fn load(
        vb: VarBuilder,
        channels: usize,
        k: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Self> {
        let weight = vb.get((channels, 1, k, k), "weight")?;
        let bias = Tensor::zeros(channels, DType::F32, weight.device())?;
        Ok(Self {
            weight,
            bias,
            k,
            stride,
            padding,
            act: Activation::None,
        })
    }

    /// Loads a depthwise convolution from `vb` and folds the BatchNorm under `vb_bn` into it.
    pub fn load_bn(
        vb: VarBuilder,
        vb_bn: VarBuilder,
        channels: usize,
        k: usize,
        stride: usize,
        padding: Padding,
        eps: f64,
    ) -> Result<Self> {
        let conv = Self::load(vb, channels, k, stride, padding)?;
        let (weight, bias) = fold_batch_norm(&conv.weight, None, &vb_bn, eps)?;
        Ok(Self {
            weight,
            bias,
            ..conv
        })
    }

    /// The same convolution followed by `act`.
    pub fn with_act(self, act: Activation) -> Self {
        Self { act, ..self }
    }

    /// Applies the convolution, bias and activation to `x` `[N, C, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let pad = self.padding.amounts(h, w, self.k, self.stride);
        let p = DepthwiseParams {
            stride: self.stride,
            pad,
            act: self.act,
        };
        Ok(depthwise_conv2d(x, &self.weight, &self.bias, p)?)
    }
}

/// MobileNetV2's inverted residual block (expand 1x1, depthwise, project 1x1, `+ x`) as one op
/// in bf16 ([`crate::kernels::fused`]): the same bits as its three layers one after the other,
/// without the expanded tensors' trips to memory.
#[derive(Clone, Debug)]
pub struct FusedInvertedResidual {
    block: Arc<InvertedResidualBf16>,
    k: usize,
    stride: usize,
    padding: Padding,
}

impl FusedInvertedResidual {
    /// The fused form of `expand`, `depthwise` and `project` (and `+ x` when `skip`) when the
    /// three were built in bf16 on the CPU as MobileNetV2 builds them (pointwise convolutions
    /// without padding, the same activation after the first two, a linear projection), else
    /// `None`.
    pub fn new(
        expand: &Conv2d,
        depthwise: &DepthwiseConv2d,
        project: &Conv2d,
        skip: bool,
    ) -> Result<Option<Self>> {
        let (Some(Bf16Weights::Direct(_, kernel)), Some(Bf16Weights::Direct(..))) =
            (&expand.bf16, &project.bf16)
        else {
            return Ok(None);
        };
        let pointwise =
            |c: &Conv2d| c.k == 1 && c.stride == 1 && c.padding.amounts(2, 2, 1, 1) == [0; 4];
        if !pointwise(expand)
            || !pointwise(project)
            || expand.act != depthwise.act
            || project.act != Activation::None
        {
            return Ok(None);
        }
        let values = |t: &Tensor| t.flatten_all().and_then(|t| t.to_vec1::<f32>());
        let bias = |c: &Conv2d| match &c.bias {
            Some(b) => values(b),
            None => Ok(vec![0.0; c.out_channels()]),
        };
        let (we, be) = (values(&expand.weight)?, bias(expand)?);
        let (wd, bd) = (values(&depthwise.weight)?, values(&depthwise.bias)?);
        let (wp, bp) = (values(&project.weight)?, bias(project)?);
        let (mid, c_in) = (expand.out_channels(), expand.weight.dims()[1]);
        let weights = BlockWeights {
            expand: &we,
            expand_bias: &be,
            depthwise: &wd,
            depthwise_bias: &bd,
            project: &wp,
            project_bias: &bp,
        };
        let block = InvertedResidualBf16::new(
            weights,
            (c_in, mid, project.out_channels()),
            depthwise.k,
            depthwise.stride,
            depthwise.act,
            skip,
            *kernel,
        )
        .map_err(candle_core::Error::msg)?;
        Ok(Some(Self {
            block: Arc::new(block),
            k: depthwise.k,
            stride: depthwise.stride,
            padding: depthwise.padding,
        }))
    }

    /// Applies the block to `x` `[N, C, H, W]` (CPU, f32).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let pad = self.padding.amounts(h, w, self.k, self.stride);
        Ok(inverted_residual_bf16(x, &self.block, pad)?)
    }
}

/// A separable convolution: depthwise `k x k` then pointwise `1 x 1`, nothing in between; an
/// optional BatchNorm after the pointwise convolution is folded into it.
#[derive(Clone, Debug)]
pub struct SeparableConv2d {
    depthwise: DepthwiseConv2d,
    pointwise: Conv2d,
}

impl SeparableConv2d {
    /// Loads the depthwise weight `[c_in, 1, k, k]` (`k`, stride and padding of `shape`) under
    /// `vb_dw`, the pointwise weight `[c_out, c_in, 1, 1]` under `vb_pw`, both without bias, and
    /// folds the BatchNorm under `vb_bn` (with `eps`) into the pointwise convolution.
    pub fn load_bn(
        vb_dw: VarBuilder,
        vb_pw: VarBuilder,
        vb_bn: VarBuilder,
        shape: ConvShape,
        eps: f64,
    ) -> Result<Self> {
        let ConvShape {
            c_in,
            c_out,
            k,
            stride,
            padding,
        } = shape;
        let depthwise = DepthwiseConv2d::load(vb_dw, c_in, k, stride, padding)?;
        let pointwise = Conv2d::load_bn(vb_pw, vb_bn, ConvShape::pointwise(c_in, c_out), eps)?;
        Ok(Self {
            depthwise,
            pointwise,
        })
    }

    /// The same convolution followed by `act` (after the pointwise convolution and its BatchNorm).
    pub fn with_act(self, act: Activation) -> Self {
        Self {
            pointwise: self.pointwise.with_act(act),
            ..self
        }
    }

    /// Applies depthwise, pointwise (+ folded BatchNorm) and activation to `x` `[N, C, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.pointwise.forward(&self.depthwise.forward(x)?)
    }
}

/// Max pool with a `k x k` window and stride `s`; padded cells are `-inf`, so they never win.
pub fn max_pool2d(x: &Tensor, k: usize, s: usize, padding: Padding) -> Result<Tensor> {
    max_pool2d_filled(x, k, s, padding, f32::NEG_INFINITY)
}

/// Max pool with a `k x k` window and stride `s`, padded cells holding `pad_value` (Keras pads
/// some NASNet pools with zeros).
pub fn max_pool2d_filled(
    x: &Tensor,
    k: usize,
    s: usize,
    padding: Padding,
    pad_value: f32,
) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let p = PoolParams {
        k,
        stride: s,
        pad: padding.amounts(h, w, k, s),
        kind: PoolKind::Max { pad_value },
    };
    Ok(pool2d(x, p)?)
}

/// Average pool with a `k x k` window and stride `s`, zero padding. With `count_include_pad` the
/// divisor is always `k * k` (PyTorch's default, and timm's `AvgPool2dSame`); without, it is the
/// number of cells of the window inside the input.
pub fn avg_pool2d(
    x: &Tensor,
    k: usize,
    s: usize,
    padding: Padding,
    count_include_pad: bool,
) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let p = PoolParams {
        k,
        stride: s,
        pad: padding.amounts(h, w, k, s),
        kind: PoolKind::Avg { count_include_pad },
    };
    Ok(pool2d(x, p)?)
}

/// Global average pool: `[N, C, H, W]` to `[N, C]`.
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    Ok(x.mean(D::Minus1)?.mean(D::Minus1)?)
}

/// Checks that `x` is an f32 batch `[N, 3, H, W]` with `H, W >= min`; returns `(N, H, W)`.
pub fn check_input(
    backbone: &'static str,
    x: &Tensor,
    min: usize,
) -> Result<(usize, usize, usize)> {
    let bad = || Error::BadInput {
        backbone,
        shape: x.dims().to_vec(),
        dtype: format!("{:?}", x.dtype()),
    };
    let (n, c, h, w) = x.dims4().map_err(|_| bad())?;
    if c != 3 || x.dtype() != DType::F32 {
        return Err(bad());
    }
    if h < min || w < min {
        return Err(Error::InputTooSmall {
            backbone,
            min,
            h,
            w,
        });
    }
    Ok((n, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn tf_same_matches_flavor_tables() {
        // FLAVOR.md: MobileNetV2 stride-2 3x3 at 224/112/56/28/14 pads T0 B1.
        for n in [224, 112, 56, 28, 14] {
            assert_eq!(tf_same_pad(n, 3, 2), (0, 1), "n = {n}");
        }
        // Xception max pools 3x3 s2: 147 -> 1/1, 74 -> 0/1, 37 -> 1/1, 19 -> 1/1.
        assert_eq!(tf_same_pad(147, 3, 2), (1, 1));
        assert_eq!(tf_same_pad(74, 3, 2), (0, 1));
        assert_eq!(tf_same_pad(37, 3, 2), (1, 1));
        assert_eq!(tf_same_pad(19, 3, 2), (1, 1));
        // k = 1 never pads; stride 1 pads (k - 1) / 2 on each side for odd k.
        assert_eq!(tf_same_pad(19, 1, 2), (0, 0));
        assert_eq!(tf_same_pad(10, 5, 1), (2, 2));
    }

    #[test]
    fn max_pool_ignores_padding_even_for_negative_inputs() {
        // All-negative 2x2 input, TF-SAME 3x3 s2 pads bottom/right by 1 (out 1x1): the max must
        // be the largest input, not the padding.
        let x = Tensor::new(&[[[[-4f32, -3.], [-2., -5.]]]], &Device::Cpu).unwrap();
        let y = max_pool2d(&x, 3, 2, Padding::TfSame).unwrap();
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![-2.0]
        );
    }

    #[test]
    fn avg_pool_count_include_pad_by_hand() {
        // 2x2 input [[1,2],[3,4]], 3x3 window s1 sym 1: the top-left window covers 1,2,3,4.
        let x = Tensor::new(&[[[[1f32, 2.], [3., 4.]]]], &Device::Cpu).unwrap();
        let incl = avg_pool2d(&x, 3, 1, Padding::Symmetric(1), true).unwrap();
        let excl = avg_pool2d(&x, 3, 1, Padding::Symmetric(1), false).unwrap();
        let incl = incl.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let excl = excl.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for v in incl {
            assert!((v - 10.0 / 9.0).abs() < 1e-6, "{v}");
        }
        for v in excl {
            assert!((v - 2.5).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn folded_batch_norm_equals_conv_then_bn() {
        let dev = Device::Cpu;
        let w = Tensor::new(&[[[[0.5f32]], [[-1.0]]], [[[2.0]], [[0.25]]]], &dev).unwrap();
        let mut map = std::collections::HashMap::new();
        map.insert("c.weight".to_string(), w.clone());
        map.insert(
            "bn.weight".into(),
            Tensor::new(&[1.5f32, 0.5], &dev).unwrap(),
        );
        map.insert(
            "bn.bias".into(),
            Tensor::new(&[0.1f32, -0.2], &dev).unwrap(),
        );
        map.insert(
            "bn.running_mean".into(),
            Tensor::new(&[0.3f32, 1.0], &dev).unwrap(),
        );
        map.insert(
            "bn.running_var".into(),
            Tensor::new(&[4.0f32, 0.25], &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(map, DType::F32, &dev);
        let eps = 1e-3;
        let shape = ConvShape::pointwise(2, 2);
        let conv = Conv2d::load_bn(vb.pp("c"), vb.pp("bn"), shape, eps).unwrap();
        let x = Tensor::new(&[[[[1f32]], [[2.0]]]], &dev).unwrap();
        let y = conv.forward(&x).unwrap().flatten_all().unwrap();
        let y = y.to_vec1::<f32>().unwrap();
        // By hand: conv = [0.5 - 2, 2 + 0.5] = [-1.5, 2.5]; BN channel 0:
        // (-1.5 - 0.3) / sqrt(4.001) * 1.5 + 0.1; channel 1: (2.5 - 1) / sqrt(0.251) * 0.5 - 0.2.
        let e0 = (-1.5 - 0.3) / (4.001f64).sqrt() * 1.5 + 0.1;
        let e1 = (2.5 - 1.0) / (0.251f64).sqrt() * 0.5 - 0.2;
        assert!((y[0] as f64 - e0).abs() < 1e-5, "{} vs {e0}", y[0]);
        assert!((y[1] as f64 - e1).abs() < 1e-5, "{} vs {e1}", y[1]);
    }
}
