//! # NASNet-A Large (6 @ 4032)
//!
//! "Learning Transferable Architectures for Scalable Image Recognition", Zoph, Vasudevan, Shlens
//! & Le, 2018 (<https://arxiv.org/abs/1707.07012>). Reference implementation: timm `nasnetalarge`
//! (`timm/models/nasnet.py`, Cadene's port of the TF-slim checkpoint), whose key names this port
//! mirrors literally.
//!
//! A 3x3 stride-2 stem convolution (96 channels, no padding), two reduction stem cells, then three
//! stacks of six cells (a "first" cell and five normal cells) separated by two reduction cells;
//! each cell reads the outputs of the two cells before it. Features = global average pool of the
//! final ReLU of the 4032-channel map (11x11 at 331).
//!
//! Padding is timm's `pad_type='same'`: stride-1 convolutions and pools pad `(k - 1) / 2` on every
//! side; stride-2 separable convolutions pad TensorFlow SAME with zeros; stride-2 max pools pad
//! TensorFlow SAME with -inf; stride-2 average pools pad TensorFlow SAME with zeros that count in
//! the divisor (timm's `AvgPool2dSame` pads before pooling); stride-1 3x3 average pools exclude
//! the padding from the divisor. The "factorized reduction" of the previous cell's output takes
//! the even rows and columns (`path_1`) and, shifted by one, the odd ones with a zero row and
//! column past the end (`path_2`, the `ZeroPad2d((-1, 1, -1, 1))` of the original port). Every
//! BatchNorm has eps 1e-3 and is folded into the convolution before it.
//!
//! Weights: `timm/nasnetalarge.tf_in1k` on the Hub (the TF-slim checkpoint, which Keras's
//! `NASNetLarge` weights come from too). Input: 331x331 RGB, `x / 127.5 - 1` (timm's mean = std =
//! 0.5, Keras's `tf` mode).
//!
//! Flavors. Keras's `keras.applications.NASNetLarge` builds the same graph (same cell wiring, BN
//! eps 1e-3, `correct_pad` zero padding before its strided separable convolutions and average
//! pools, which equals TensorFlow SAME at stride 2) with one difference: its reduction-cell max
//! pools pad with zeros (`ZeroPadding2D` then a `valid` pool) where timm pads with -inf, so a
//! window at the border whose cells are all negative yields 0 in Keras. The keras flavor does that.
//! It is checked against timm's modules with that one change (`tests/data/make_timm_reference.py`);
//! `../shared` holds no Keras NASNet reference.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec};
use crate::error::Result;
use crate::kernels::Activation;
use crate::kernels::ops::{add_into, cat_channels, relu, scale, shift_up_left};
use crate::layers::{
    Conv2d, ConvShape, Padding, SeparableConv2d, avg_pool2d, check_input, global_avg_pool,
    max_pool2d_filled,
};

/// BatchNorm eps of every NASNet BatchNorm (TF-slim's 1e-3, kept by timm).
const BN_EPS: f64 = 1e-3;

/// The kind of a cell after the stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellKind {
    /// A normal cell whose previous input has twice the resolution (factorized reduction).
    First,
    /// A normal cell.
    Normal,
    /// A reduction cell (stride 2).
    Reduction,
}

/// One cell of the plan: checkpoint name, kind, and timm's `(in_chs_left, out_chs_left,
/// in_chs_right, out_chs_right)`; "left" is the previous-previous output, "right" the previous.
#[derive(Clone, Copy, Debug)]
struct CellSpec {
    name: &'static str,
    kind: CellKind,
    in_left: usize,
    out_left: usize,
    in_right: usize,
    out_right: usize,
}

const fn cell(
    name: &'static str,
    kind: CellKind,
    in_left: usize,
    out_left: usize,
    in_right: usize,
    out_right: usize,
) -> CellSpec {
    CellSpec {
        name,
        kind,
        in_left,
        out_left,
        in_right,
        out_right,
    }
}

use CellKind::{First, Normal, Reduction};

/// The cells after the two stem cells, in order (channels = 4032 / 24 = 168).
#[rustfmt::skip]
const CELLS: [CellSpec; 20] = [
    cell("cell_0", First, 168, 84, 336, 168),
    cell("cell_1", Normal, 336, 168, 1008, 168),
    cell("cell_2", Normal, 1008, 168, 1008, 168),
    cell("cell_3", Normal, 1008, 168, 1008, 168),
    cell("cell_4", Normal, 1008, 168, 1008, 168),
    cell("cell_5", Normal, 1008, 168, 1008, 168),
    cell("reduction_cell_0", Reduction, 1008, 336, 1008, 336),
    cell("cell_6", First, 1008, 168, 1344, 336),
    cell("cell_7", Normal, 1344, 336, 2016, 336),
    cell("cell_8", Normal, 2016, 336, 2016, 336),
    cell("cell_9", Normal, 2016, 336, 2016, 336),
    cell("cell_10", Normal, 2016, 336, 2016, 336),
    cell("cell_11", Normal, 2016, 336, 2016, 336),
    cell("reduction_cell_1", Reduction, 2016, 672, 2016, 672),
    cell("cell_12", First, 2016, 336, 2688, 672),
    cell("cell_13", Normal, 2688, 672, 4032, 672),
    cell("cell_14", Normal, 4032, 672, 4032, 672),
    cell("cell_15", Normal, 4032, 672, 4032, 672),
    cell("cell_16", Normal, 4032, 672, 4032, 672),
    cell("cell_17", Normal, 4032, 672, 4032, 672),
];

/// NASNet-A Large configuration: the flavor and the value the strided max pools pad with.
#[derive(Clone, Debug)]
pub struct Config {
    flavor: Flavor,
    max_pool_pad: f32,
}

impl Config {
    /// timm's `nasnetalarge`: strided max pools pad TensorFlow SAME with -inf.
    pub fn timm() -> Self {
        Self {
            flavor: Flavor::Timm,
            max_pool_pad: f32::NEG_INFINITY,
        }
    }

    /// Keras's `NASNetLarge`: strided max pools pad the same amounts with zeros.
    pub fn keras() -> Self {
        Self {
            flavor: Flavor::Keras,
            max_pool_pad: 0.0,
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

/// NASNet-A Large up to the global average pool.
#[derive(Clone, Debug)]
pub struct NasNetLarge {
    flavor: Flavor,
    conv0: Conv2d,
    cell_stem_0: ReductionCell,
    cell_stem_1: ReductionCell,
    cells: Vec<Cell>,
}

#[derive(Clone, Debug)]
enum Cell {
    Normal(NormalCell),
    Reduction(ReductionCell),
}

impl NasNetLarge {
    /// Builds the network from timm's `nasnetalarge` keys under `vb`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let conv0 = Conv2d::load_bn(
            vb.pp("conv0").pp("conv"),
            vb.pp("conv0").pp("bn"),
            ConvShape {
                c_in: 3,
                c_out: 96,
                k: 3,
                stride: 2,
                padding: Padding::Valid,
            },
            BN_EPS,
        )?;
        // cell_stem_0: 96 -> 4 x 42; cell_stem_1: (96, 168) -> 4 x 84.
        let stem_0 = vb.pp("cell_stem_0");
        let cell_stem_0 = ReductionCell::new(
            stem_0.clone(),
            Prep::Stem0 {
                conv_1x1: ActConvBn::new(stem_0.pp("conv_1x1"), 96, 42)?,
            },
            42,
            96,
            true,
            cfg.max_pool_pad,
        )?;
        let stem_1 = vb.pp("cell_stem_1");
        let cell_stem_1 = ReductionCell::new(
            stem_1.clone(),
            Prep::Pair {
                left: PrevPrep::Factorized(FactorizedReduction::new(stem_1.clone(), 96, 84)?),
                right: ActConvBn::new(stem_1.pp("conv_1x1"), 168, 84)?,
            },
            84,
            84,
            false,
            cfg.max_pool_pad,
        )?;
        let cells = CELLS
            .iter()
            .map(|spec| {
                let vb = vb.pp(spec.name);
                Ok(match spec.kind {
                    First | Normal => Cell::Normal(NormalCell::new(vb, spec)?),
                    Reduction => Cell::Reduction(ReductionCell::new(
                        vb.clone(),
                        Prep::Pair {
                            left: PrevPrep::Conv(ActConvBn::new(
                                vb.pp("conv_prev_1x1"),
                                spec.in_left,
                                spec.out_left,
                            )?),
                            right: ActConvBn::new(
                                vb.pp("conv_1x1"),
                                spec.in_right,
                                spec.out_right,
                            )?,
                        },
                        spec.out_right,
                        spec.out_left,
                        false,
                        cfg.max_pool_pad,
                    )?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            flavor: cfg.flavor,
            conv0,
            cell_stem_0,
            cell_stem_1,
            cells,
        })
    }

    /// The last feature map `[N, 4032, H', W']` (11x11 at 331), after the final ReLU.
    pub fn forward_map(&self, xs: &Tensor) -> Result<Tensor> {
        check_input("nasnetlarge", xs, 32)?;
        Ok(relu(&self.run_cells(xs, self.cells.len())?)?)
    }

    /// The dense map of `layer`: [`NasNetLarge::forward_map`] for [`DenseLayer::Last`], the
    /// ReLU of `cell_11`'s output (2016 channels, stride 16; what `reduction_cell_1` reads) for
    /// [`DenseLayer::PreviousStage`].
    pub fn forward_dense(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        let (_, h, w) = check_input("nasnetlarge", xs, 32)?;
        BackboneKind::NasNetLarge.dense_grid(layer, h, w)?;
        let n = match layer {
            DenseLayer::Last => self.cells.len(),
            // Every cell before the last reduction cell.
            DenseLayer::PreviousStage => self
                .cells
                .iter()
                .rposition(|c| matches!(c, Cell::Reduction(_)))
                .unwrap_or(self.cells.len()),
        };
        Ok(relu(&self.run_cells(xs, n)?)?)
    }

    /// Stem and the first `n` cells after it: the last cell's output (before any ReLU).
    fn run_cells(&self, xs: &Tensor, n: usize) -> Result<Tensor> {
        let x_conv0 = self.conv0.forward(xs)?;
        let x_stem_0 = self.cell_stem_0.forward(&x_conv0, &x_conv0)?;
        let x_stem_1 = self.cell_stem_1.forward(&x_stem_0, &x_conv0)?;
        // `cur` is the last output, `prev` the one the next cell reads as its left input. After
        // a reduction cell, timm feeds the next cell the reduction cell's own left input again
        // (cell_6 reads cell_4, cell_12 reads cell_10), so `prev` only moves after normal cells.
        let (mut prev, mut cur) = (x_stem_0, x_stem_1);
        for cell in &self.cells[..n] {
            match cell {
                Cell::Normal(c) => {
                    let next = c.forward(&cur, &prev)?;
                    prev = std::mem::replace(&mut cur, next);
                }
                Cell::Reduction(c) => cur = c.forward(&cur, &prev)?,
            }
        }
        Ok(cur)
    }
}

impl Backbone for NasNetLarge {
    fn kind(&self) -> BackboneKind {
        BackboneKind::NasNetLarge
    }

    fn input(&self) -> InputSpec {
        BackboneKind::NasNetLarge.input(self.flavor)
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

/// timm's `pad_type='same'` for a `k x k` window at `stride`: symmetric when static, TensorFlow
/// SAME when strided.
fn same(k: usize, stride: usize) -> Padding {
    if stride == 1 {
        Padding::Symmetric((k - 1) / 2)
    } else {
        Padding::TfSame
    }
}

/// 3x3 stride-2 max pool, padded TensorFlow SAME with `pad_value` (-inf in timm, 0 in Keras).
fn max_pool_s2(x: &Tensor, pad_value: f32) -> Result<Tensor> {
    max_pool2d_filled(x, 3, 2, Padding::TfSame, pad_value)
}

/// 3x3 stride-2 average pool, TensorFlow SAME zeros counted in the divisor (timm's
/// `AvgPool2dSame`).
fn avg_pool_s2(x: &Tensor) -> Result<Tensor> {
    avg_pool2d(x, 3, 2, Padding::TfSame, true)
}

/// 3x3 stride-1 average pool, padding 1 excluded from the divisor.
fn avg_pool_s1(x: &Tensor) -> Result<Tensor> {
    avg_pool2d(x, 3, 1, Padding::Symmetric(1), false)
}

/// `ActConvBn`: ReLU, 1x1 convolution, BatchNorm (`conv`, `bn`).
#[derive(Clone, Debug)]
struct ActConvBn {
    conv: Conv2d,
}

impl ActConvBn {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize) -> Result<Self> {
        let shape = ConvShape::pointwise(c_in, c_out);
        let conv = Conv2d::load_bn(vb.pp("conv"), vb.pp("bn"), shape, BN_EPS)?;
        Ok(Self { conv })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(&relu(x)?)
    }
}

/// `BranchSeparables`: ReLU, separable k x k (stride s) + BN, ReLU, separable k x k + BN
/// (`separable_1`, `bn_sep_1`, `separable_2`, `bn_sep_2`). The first ReLU is left to the caller,
/// which shares it between the branches that read the same input.
#[derive(Clone, Debug)]
struct Branch {
    sep1: SeparableConv2d,
    sep2: SeparableConv2d,
}

impl Branch {
    /// `stem_cell` (timm's flag) makes the middle width `c_out` instead of `c_in`.
    fn new(
        vb: VarBuilder,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        stem_cell: bool,
    ) -> Result<Self> {
        let c_mid = if stem_cell { c_out } else { c_in };
        let sep = |i: usize, c_in, c_out, stride| {
            let vb_sep = vb.pp(format!("separable_{i}"));
            SeparableConv2d::load_bn(
                vb_sep.pp("depthwise_conv2d"),
                vb_sep.pp("pointwise_conv2d"),
                vb.pp(format!("bn_sep_{i}")),
                ConvShape {
                    c_in,
                    c_out,
                    k,
                    stride,
                    padding: same(k, stride),
                },
                BN_EPS,
            )
        };
        Ok(Self {
            sep1: sep(1, c_in, c_mid, stride)?.with_act(Activation::Relu),
            sep2: sep(2, c_mid, c_out, 1)?,
        })
    }

    /// The branch on an input that is already ReLU'd.
    fn forward_relu(&self, x_relu: &Tensor) -> Result<Tensor> {
        self.sep2.forward(&self.sep1.forward(x_relu)?)
    }
}

/// The factorized reduction of a previous output at twice the resolution: ReLU, then
/// `path_1` (1x1 conv on the even rows/columns) and `path_2` (1x1 conv on the odd ones, zero past
/// the end), concatenated and batch-normalised by `final_path_bn`, which is folded per half.
#[derive(Clone, Debug)]
struct FactorizedReduction {
    path_1: Conv2d,
    path_2: Conv2d,
}

impl FactorizedReduction {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize) -> Result<Self> {
        let half = c_out / 2;
        let bn = vb.pp("final_path_bn");
        let path = |i: usize| {
            Conv2d::load_bn(
                vb.pp(format!("path_{i}")).pp("conv"),
                half_batch_norm(&bn, c_out, i - 1)?,
                ConvShape {
                    stride: 2,
                    ..ConvShape::pointwise(c_in, half)
                },
                BN_EPS,
            )
        };
        Ok(Self {
            path_1: path(1)?,
            path_2: path(2)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = relu(x)?;
        let p1 = self.path_1.forward(&x)?;
        // ZeroPad2d((-1, 1, -1, 1)): drop the first row and column, add a zero row and column.
        let p2 = self.path_2.forward(&shift_up_left(&x)?)?;
        Ok(cat_channels(&[&p1, &p2])?)
    }
}

/// A `VarBuilder` holding half `which` (0 or 1) of the `c`-channel BatchNorm under `vb_bn`, so it
/// can be folded into the convolution that produces that half of the concatenation.
fn half_batch_norm(vb_bn: &VarBuilder, c: usize, which: usize) -> Result<VarBuilder<'static>> {
    let half = c / 2;
    let mut map = HashMap::new();
    for key in ["weight", "bias", "running_mean", "running_var"] {
        let t = vb_bn.get(c, key)?.narrow(0, which * half, half)?;
        map.insert(key.to_string(), t);
    }
    Ok(VarBuilder::from_tensors(map, DType::F32, vb_bn.device()))
}

/// How a cell turns its previous-previous input into its left operand.
#[derive(Clone, Debug)]
enum PrevPrep {
    /// `conv_prev_1x1` (same resolution).
    Conv(ActConvBn),
    /// `path_1`/`path_2`/`final_path_bn` (twice the resolution).
    Factorized(FactorizedReduction),
}

impl PrevPrep {
    fn forward(&self, x_prev: &Tensor) -> Result<Tensor> {
        match self {
            PrevPrep::Conv(c) => c.forward(x_prev),
            PrevPrep::Factorized(f) => f.forward(x_prev),
        }
    }
}

/// `FirstCell` and `NormalCell`: six outputs concatenated, the left operand first.
#[derive(Clone, Debug)]
struct NormalCell {
    prev: PrevPrep,
    conv_1x1: ActConvBn,
    comb_iter_0_left: Branch,
    comb_iter_0_right: Branch,
    comb_iter_1_left: Branch,
    comb_iter_1_right: Branch,
    comb_iter_4_left: Branch,
}

impl NormalCell {
    fn new(vb: VarBuilder, spec: &CellSpec) -> Result<Self> {
        let (prev, c_left) = match spec.kind {
            First => (
                PrevPrep::Factorized(FactorizedReduction::new(
                    vb.clone(),
                    spec.in_left,
                    2 * spec.out_left,
                )?),
                2 * spec.out_left,
            ),
            _ => (
                PrevPrep::Conv(ActConvBn::new(
                    vb.pp("conv_prev_1x1"),
                    spec.in_left,
                    spec.out_left,
                )?),
                spec.out_left,
            ),
        };
        let c_right = spec.out_right;
        let branch = |name: &str, c: usize, k: usize| Branch::new(vb.pp(name), c, c, k, 1, false);
        Ok(Self {
            prev,
            conv_1x1: ActConvBn::new(vb.pp("conv_1x1"), spec.in_right, c_right)?,
            comb_iter_0_left: branch("comb_iter_0_left", c_right, 5)?,
            comb_iter_0_right: branch("comb_iter_0_right", c_left, 3)?,
            comb_iter_1_left: branch("comb_iter_1_left", c_left, 5)?,
            comb_iter_1_right: branch("comb_iter_1_right", c_left, 3)?,
            comb_iter_4_left: branch("comb_iter_4_left", c_right, 3)?,
        })
    }

    /// `x` is the previous cell's output, `x_prev` the one before.
    fn forward(&self, x: &Tensor, x_prev: &Tensor) -> Result<Tensor> {
        let left = self.prev.forward(x_prev)?;
        let right = self.conv_1x1.forward(x)?;
        let (left_relu, right_relu) = (relu(&left)?, relu(&right)?);
        // Every left operand of `add_into` is a fresh output nothing else reads.
        let c0 = add_into(
            self.comb_iter_0_left.forward_relu(&right_relu)?,
            &self.comb_iter_0_right.forward_relu(&left_relu)?,
        )?;
        let c1 = add_into(
            self.comb_iter_1_left.forward_relu(&left_relu)?,
            &self.comb_iter_1_right.forward_relu(&left_relu)?,
        )?;
        let c2 = add_into(avg_pool_s1(&right)?, &left)?;
        // comb_iter_3 adds two identical average pools of the left operand.
        let c3 = scale(&avg_pool_s1(&left)?, 2.0)?;
        let c4 = add_into(self.comb_iter_4_left.forward_relu(&right_relu)?, &right)?;
        Ok(cat_channels(&[&left, &c0, &c1, &c2, &c3, &c4])?)
    }
}

/// How a reduction cell prepares its operands.
#[derive(Clone, Debug)]
enum Prep {
    /// `cell_stem_0`: `a = conv_1x1(x)`, `b = x` (the stem convolution's output).
    Stem0 { conv_1x1: ActConvBn },
    /// `cell_stem_1` and the reduction cells: `a = right(x)`, `b = left(x_prev)`.
    Pair { left: PrevPrep, right: ActConvBn },
}

/// `CellStem0`, `CellStem1`, `ReductionCell0/1`: all combine two operands `a` and `b` alike,
///
/// ```text
/// c0 = comb_iter_0_left(a) [5x5 s2] + comb_iter_0_right(b) [7x7 s2]
/// c1 = maxpool_s2(a)                + comb_iter_1_right(b) [7x7 s2]
/// c2 = avgpool_s2(a)                + comb_iter_2_right(b) [5x5 s2]
/// c3 = avgpool_s1(c0)               + c1
/// c4 = comb_iter_4_left(c0) [3x3]   + maxpool_s2(a)
/// ```
///
/// and output `cat(c1, c2, c3, c4)`.
#[derive(Clone, Debug)]
struct ReductionCell {
    prep: Prep,
    max_pool_pad: f32,
    comb_iter_0_left: Branch,
    comb_iter_0_right: Branch,
    comb_iter_1_right: Branch,
    comb_iter_2_right: Branch,
    comb_iter_4_left: Branch,
}

impl ReductionCell {
    /// `c` is the width of `a` and of every output; `c_b` the width of `b`; `stem_cell` is timm's
    /// flag for the branches on `b` in `cell_stem_0` (middle width `c` instead of `c_b`);
    /// `max_pool_pad` the flavor's padding value of the strided max pools.
    fn new(
        vb: VarBuilder,
        prep: Prep,
        c: usize,
        c_b: usize,
        stem_cell: bool,
        max_pool_pad: f32,
    ) -> Result<Self> {
        let on_b = |name: &str, k: usize| Branch::new(vb.pp(name), c_b, c, k, 2, stem_cell);
        Ok(Self {
            comb_iter_0_left: Branch::new(vb.pp("comb_iter_0_left"), c, c, 5, 2, false)?,
            comb_iter_0_right: on_b("comb_iter_0_right", 7)?,
            comb_iter_1_right: on_b("comb_iter_1_right", 7)?,
            comb_iter_2_right: on_b("comb_iter_2_right", 5)?,
            comb_iter_4_left: Branch::new(vb.pp("comb_iter_4_left"), c, c, 3, 1, false)?,
            prep,
            max_pool_pad,
        })
    }

    /// `x` is the previous output, `x_prev` the one before (for `cell_stem_0`, both are the stem
    /// convolution's output).
    fn forward(&self, x: &Tensor, x_prev: &Tensor) -> Result<Tensor> {
        let (a, b) = match &self.prep {
            Prep::Stem0 { conv_1x1 } => (conv_1x1.forward(x)?, x.clone()),
            Prep::Pair { left, right } => (right.forward(x)?, left.forward(x_prev)?),
        };
        let (a_relu, b_relu) = (relu(&a)?, relu(&b)?);
        let a_max = max_pool_s2(&a, self.max_pool_pad)?;
        // Every left operand of `add_into` is a fresh output nothing else reads (`a_max` is read
        // twice, so it is always the right operand).
        let c0 = add_into(
            self.comb_iter_0_left.forward_relu(&a_relu)?,
            &self.comb_iter_0_right.forward_relu(&b_relu)?,
        )?;
        let c1 = add_into(self.comb_iter_1_right.forward_relu(&b_relu)?, &a_max)?;
        let c2 = add_into(
            avg_pool_s2(&a)?,
            &self.comb_iter_2_right.forward_relu(&b_relu)?,
        )?;
        let c3 = add_into(avg_pool_s1(&c0)?, &c1)?;
        let c4 = add_into(self.comb_iter_4_left.forward_relu(&relu(&c0)?)?, &a_max)?;
        Ok(cat_channels(&[&c1, &c2, &c3, &c4])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn cell_plan_chains_channels_like_timm() {
        // Each cell's right input is the previous output; its left input the one before, except
        // after a reduction cell (see `forward_map`). Output widths: normal/first 6 x out_right
        // (first: 2 x out_left + 5 x out_right), reduction 4 x out_right.
        let out = |s: &CellSpec| match s.kind {
            First => 2 * s.out_left + 5 * s.out_right,
            Normal => 6 * s.out_right,
            Reduction => 4 * s.out_right,
        };
        let (mut prev, mut cur) = (168usize, 336usize); // cell_stem_0, cell_stem_1
        for s in &CELLS {
            assert_eq!((s.in_left, s.in_right), (prev, cur), "{}", s.name);
            if s.kind == Reduction {
                cur = out(s);
            } else {
                prev = std::mem::replace(&mut cur, out(s));
            }
        }
        assert_eq!(cur, 4032);
    }

    #[test]
    fn map_size_by_hand_at_other_sides() {
        // 64: conv0 31, stems 16 and 8, reductions 4 and 2. 45: conv0 22, 11, 6, 3, 2.
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        let model = NasNetLarge::new(&Config::timm(), vb).expect("zero weights load");
        for (side, map) in [(64, 2), (45, 2)] {
            let x = Tensor::zeros((1, 3, side, side), DType::F32, &Device::Cpu).unwrap();
            let y = model.forward_map(&x).unwrap();
            assert_eq!(y.dims(), &[1, 4032, map, map], "at {side}");
        }
        let x = Tensor::zeros((1, 3, 331, 31), DType::F32, &Device::Cpu).unwrap();
        let err = model.features(&x).unwrap_err();
        assert!(
            matches!(err, crate::error::Error::InputTooSmall { w: 31, .. }),
            "{err}"
        );
    }

    #[test]
    fn strided_max_pool_pads_per_flavor() {
        // 2x2 all-negative input; TF-SAME 3x3/2 pads bottom/right by 1, one window covering all.
        let x = Tensor::new(&[[[[-4f32, -3.], [-2., -5.]]]], &Device::Cpu).unwrap();
        let timm = max_pool_s2(&x, Config::timm().max_pool_pad).unwrap();
        let keras = max_pool_s2(&x, Config::keras().max_pool_pad).unwrap();
        assert_eq!(
            timm.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [-2.0]
        );
        assert_eq!(
            keras.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [0.0]
        );
    }

    #[test]
    fn factorized_reduction_takes_even_and_shifted_odd_cells() {
        // Identity-like weights: one input channel, path convs of weight 1, BatchNorm identity.
        let dev = Device::Cpu;
        let mut map = HashMap::new();
        let one = Tensor::ones((1, 1, 1, 1), DType::F32, &dev).unwrap();
        map.insert("path_1.conv.weight".to_string(), one.clone());
        map.insert("path_2.conv.weight".to_string(), one);
        for (k, v) in [("weight", 1f32), ("bias", 0.), ("running_mean", 0.)] {
            let t = Tensor::full(v, 2, &dev).unwrap();
            map.insert(format!("final_path_bn.{k}"), t);
        }
        let var = Tensor::full(1.0f32 - 1e-3, 2, &dev).unwrap();
        map.insert("final_path_bn.running_var".to_string(), var);
        let vb = VarBuilder::from_tensors(map, DType::F32, &dev);
        let f = FactorizedReduction::new(vb, 1, 2).unwrap();
        // 3x3 input 1..9: path_1 takes rows/cols 0, 2 -> [[1, 3], [7, 9]]; path_2 takes rows/cols
        // 1 and (past the end) zero -> [[5, 0], [0, 0]].
        let x = Tensor::arange(1f32, 10., &dev)
            .unwrap()
            .reshape((1, 1, 3, 3))
            .unwrap();
        let y = f
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want = [1., 3., 7., 9., 5., 0., 0., 0.];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?} != {want:?}");
        }
    }
}
