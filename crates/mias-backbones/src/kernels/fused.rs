//! MobileNetV2's inverted residual block in bf16 as one op: expand 1x1, depthwise 3x3, project
//! 1x1 (and the skip sum), image by image and group of expanded channels by group.
//!
//! Run layer by layer, every expanded tensor (six times the block's input) goes to memory in f32
//! and comes back for the depthwise convolution, whose output goes to memory again for the
//! projection: at batch 8 and 224 px, about 190 MB of activations a pass with a handful of FLOPs
//! a byte, which kept MobileNetV2 at 2.3-2.6x OpenVINO's time. Here one thread takes one image
//! (or a band of its output rows when there are fewer images than threads) and walks the expanded
//! channels in groups of [`K_BLOCK`]: the group's expanded rows, its depthwise output and the
//! projection's partial sum stay in the cache.
//!
//! The result is bit for bit the layer-by-layer one, and a test holds it to that: each expanded
//! value is the same row of the same product, each depthwise output the same taps in the same
//! order on the same plane loop ([`PlaneKernel`]; a band reads real rows where its neighbour
//! would, and padding only at the image's edges), and the projection sums its groups through
//! [`gemm_part`], whose parts are the product's own `k` blocks.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::bf16::{BSource, Bf16Kernel, Dest, K_BLOCK, KPart, PackedA, gemm_part};
use super::plane::{PlaneGeometry, PlaneKernel, PlaneOp};
use super::{Activation, ConvParams, OutPtr, advise_huge_pages, contiguous};

thread_local! {
    /// Per-thread expanded rows and depthwise output of one group, reused across calls.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// One group of at most [`K_BLOCK`] expanded channels `c0..c1`.
#[derive(Debug)]
struct Group {
    /// Rows `c0..c1` of the expansion's weights, and their bias.
    expand: PackedA,
    expand_bias: Vec<f32>,
    /// The depthwise weights of channels `c0..c1` (`k * k` each), and their bias.
    depthwise: Vec<f32>,
    depthwise_bias: Vec<f32>,
    /// Columns `c0..c1` of the projection's weights.
    project: PackedA,
}

/// The weights of one inverted residual block, folded (BatchNorm) and as its layers hold them:
/// f32, row-major.
pub(crate) struct BlockWeights<'a> {
    /// `[mid, c_in]`.
    pub expand: &'a [f32],
    pub expand_bias: &'a [f32],
    /// `[mid, k * k]`.
    pub depthwise: &'a [f32],
    pub depthwise_bias: &'a [f32],
    /// `[c_out, mid]`.
    pub project: &'a [f32],
    pub project_bias: &'a [f32],
}

/// An inverted residual block packed for [`inverted_residual_bf16`].
#[derive(Debug)]
pub(crate) struct InvertedResidualBf16 {
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    /// Activations after the expansion and after the depthwise convolution (the projection is
    /// linear).
    act: Activation,
    skip: bool,
    groups: Vec<Group>,
    project_bias: Vec<f32>,
    kernel: Bf16Kernel,
}

impl InvertedResidualBf16 {
    /// Packs a block of `c_in -> mid -> c_out` channels, depthwise `k x k` at `stride`, `act`
    /// after the first two convolutions, `+ x` when `skip`. An error names the weight whose
    /// length does not match.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        w: BlockWeights,
        (c_in, mid, c_out): (usize, usize, usize),
        k: usize,
        stride: usize,
        act: Activation,
        skip: bool,
        kernel: Bf16Kernel,
    ) -> Result<Self, String> {
        for (name, len, want) in [
            ("expansion weight", w.expand.len(), mid * c_in),
            ("expansion bias", w.expand_bias.len(), mid),
            ("depthwise weight", w.depthwise.len(), mid * k * k),
            ("depthwise bias", w.depthwise_bias.len(), mid),
            ("projection weight", w.project.len(), c_out * mid),
            ("projection bias", w.project_bias.len(), c_out),
        ] {
            if len != want {
                return Err(format!(
                    "inverted residual {c_in} -> {mid} -> {c_out}: {name} has {len} values, not {want}"
                ));
            }
        }
        if skip && (stride != 1 || c_in != c_out) {
            return Err(format!(
                "inverted residual {c_in} -> {c_out} at stride {stride}: no skip sum across a change of shape"
            ));
        }
        let groups = (0..mid)
            .step_by(K_BLOCK)
            .map(|c0| {
                let c1 = (c0 + K_BLOCK).min(mid);
                Group {
                    expand: PackedA::pack(&w.expand[c0 * c_in..], c1 - c0, c_in, c_in, 1),
                    expand_bias: w.expand_bias[c0..c1].to_vec(),
                    depthwise: w.depthwise[c0 * k * k..c1 * k * k].to_vec(),
                    depthwise_bias: w.depthwise_bias[c0..c1].to_vec(),
                    project: PackedA::pack(&w.project[c0..], c_out, c1 - c0, mid, 1),
                }
            })
            .collect();
        Ok(Self {
            c_in,
            c_out,
            k,
            stride,
            act,
            skip,
            groups,
            project_bias: w.project_bias.to_vec(),
            kernel,
        })
    }

    /// Computes output rows `oy0..oy1` of image `xi` (`[c_in, h, w]`) into `dst` (the image's
    /// `[c_out, oh, ow]`, written only in those rows).
    ///
    /// # Safety
    /// `dst` must point at `c_out * oh * ow` writable floats that no one else touches in rows
    /// `oy0..oy1` during the call.
    unsafe fn band(
        &self,
        xi: &[f32],
        (h, w): (usize, usize),
        pad: [usize; 4],
        (oh, ow): (usize, usize),
        (oy0, oy1): (usize, usize),
        dst: OutPtr,
    ) {
        let (k, s) = (self.k, self.stride);
        let [pt, _, pl, pr] = pad;
        // The input rows the band's windows reach, and the padding rows above and below them.
        let iy0 = (oy0 * s).saturating_sub(pt);
        let iy1 = ((oy1 - 1) * s + k).saturating_sub(pt).min(h);
        let (rows_in, rows_out) = (iy1 - iy0, oy1 - oy0);
        let top = pt.saturating_sub(oy0 * s);
        let bottom = ((rows_out - 1) * s + k).saturating_sub(rows_in + top);
        let plane = PlaneGeometry {
            h: rows_in,
            w,
            kh: k,
            kw: k,
            oh: rows_out,
            ow,
        };
        let cols_out = rows_out * ow;
        let plane_kernel = PlaneKernel::detect();
        let (mut expanded, mut depthwise) = SCRATCH.take();
        let most = self
            .groups
            .iter()
            .map(|g| g.expand.rows())
            .max()
            .unwrap_or(0);
        expanded.resize(most * rows_in * w, 0.0);
        depthwise.resize(most * cols_out, 0.0);
        let last = self.groups.len() - 1;
        for (gi, g) in self.groups.iter().enumerate() {
            let cg = g.expand.rows();
            let x_rows = BSource {
                ptr: xi[iy0 * w..].as_ptr(),
                rs: h * w,
                n: rows_in * w,
            };
            let to_expanded = Dest {
                ptr: OutPtr(expanded.as_mut_ptr()),
                ldc: rows_in * w,
                bias: Some(&g.expand_bias),
                act: self.act,
            };
            // SAFETY: `xi` holds `c_in` planes of `h * w`, rows iy0..iy1 of which are read;
            // `expanded` holds `cg` rows of `rows_in * w`.
            unsafe { gemm_part(&g.expand, x_rows, to_expanded, self.kernel, KPart::WHOLE) };
            for c in 0..cg {
                let op = PlaneOp {
                    stride: s,
                    pad: [top, bottom, pl, pr],
                    act: self.act,
                    fill: 0.0,
                    init: g.depthwise_bias[c],
                    max: false,
                };
                let src = &expanded[c * rows_in * w..(c + 1) * rows_in * w];
                let out = &mut depthwise[c * cols_out..(c + 1) * cols_out];
                // SAFETY: f32 and MaybeUninit<f32> share their layout; the plane loop only writes.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(
                        out.as_mut_ptr().cast::<MaybeUninit<f32>>(),
                        out.len(),
                    )
                };
                plane_kernel.run(
                    src,
                    &g.depthwise[c * k * k..(c + 1) * k * k],
                    &op,
                    plane,
                    out,
                );
            }
            let d_rows = BSource {
                ptr: depthwise.as_ptr(),
                rs: cols_out,
                n: cols_out,
            };
            let to_out = Dest {
                // SAFETY: row oy0 of channel 0 lies in the caller's image.
                ptr: OutPtr(unsafe { dst.get().add(oy0 * ow) }),
                ldc: oh * ow,
                bias: Some(&self.project_bias),
                act: Activation::None,
            };
            let part = KPart {
                opens: gi == 0,
                closes: gi == last,
            };
            // SAFETY: `depthwise` holds `cg` rows of `cols_out`; the destination's `c_out` rows
            // `oh * ow` apart hold the band's `cols_out` cells, the caller's alone.
            unsafe { gemm_part(&g.project, d_rows, to_out, self.kernel, part) };
        }
        if self.skip {
            // Same shape in and out (stride 1): the band's rows of every channel, `+ x`.
            for co in 0..self.c_out {
                let from = co * h * w + oy0 * w;
                let x = &xi[from..from + cols_out];
                // SAFETY: as above; the projection has just written these cells.
                let y = unsafe {
                    std::slice::from_raw_parts_mut(dst.get().add(co * oh * ow + oy0 * ow), cols_out)
                };
                y.iter_mut().zip(x).for_each(|(y, x)| *y += x);
            }
        }
        SCRATCH.set((expanded, depthwise));
    }
}

/// The op: the packed block and the depthwise padding `[top, bottom, left, right]` of this input.
struct InvertedResidualOp<'a> {
    block: &'a InvertedResidualBf16,
    pad: [usize; 4],
    /// Bands of output rows an image is cut into (`None`: enough to give every thread work).
    bands: Option<usize>,
}

impl CustomOp1 for InvertedResidualOp<'_> {
    fn name(&self) -> &'static str {
        "inverted-residual-bf16"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let b = self.block;
        let (n, c_in, h, w) = l.shape().dims4()?;
        if c_in != b.c_in {
            candle_core::bail!(
                "inverted residual: input {:?} for a block of {} input channels",
                l.shape(),
                b.c_in
            );
        }
        let p = ConvParams {
            stride: b.stride,
            pad: self.pad,
            act: b.act,
        };
        let Some((oh, ow)) = p.out_hw(h, w, b.k, b.k) else {
            candle_core::bail!(
                "inverted residual: input {h}x{w} with padding {:?} is smaller than the kernel {k}x{k}",
                self.pad,
                k = b.k
            );
        };
        if b.skip && (oh, ow) != (h, w) {
            candle_core::bail!(
                "inverted residual: padding {:?} changes {h}x{w} to {oh}x{ow}, no skip sum",
                self.pad
            );
        }
        let x = contiguous("inverted residual", s, l, "input")?;
        let threads = rayon::current_num_threads();
        let bands = self
            .bands
            .unwrap_or(if n >= threads { 1 } else { threads.div_ceil(n) })
            .clamp(1, oh);
        let per_band = oh.div_ceil(bands);
        let bands = oh.div_ceil(per_band);
        let len = n * b.c_out * oh * ow;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        advise_huge_pages(&mut out);
        let dst = OutPtr(out.as_mut_ptr());
        let run = |item: usize| {
            let (img, band) = (item / bands, item % bands);
            let oy0 = band * per_band;
            let oy1 = (oy0 + per_band).min(oh);
            let xi = &x[img * c_in * h * w..(img + 1) * c_in * h * w];
            // SAFETY: image `img`'s output lies in `out`, and this item alone writes its rows
            // oy0..oy1.
            unsafe {
                let di = OutPtr(dst.get().add(img * b.c_out * oh * ow));
                b.band(xi, (h, w), self.pad, (oh, ow), (oy0, oy1), di);
            }
        };
        if n * bands > 1 {
            (0..n * bands).into_par_iter().for_each(run);
        } else {
            run(0);
        }
        // SAFETY: the bands of every image cover its rows, and each band wrote every channel's
        // cells in its rows (the projection writes its whole `c_out x cols` block).
        unsafe { out.set_len(len) };
        Ok((CpuStorage::F32(out), Shape::from((n, b.c_out, oh, ow))))
    }
}

/// `block` on `x` `[N, c_in, H, W]` (CPU, f32), its depthwise convolution zero-padded by `pad`
/// `[top, bottom, left, right]`: the same bits as its three convolutions (and `+ x`) one after
/// the other.
pub(crate) fn inverted_residual_bf16(
    x: &Tensor,
    block: &InvertedResidualBf16,
    pad: [usize; 4],
) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&InvertedResidualOp {
        block,
        pad,
        bands: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::{conv2d_bf16, pack_weight_bf16};
    use crate::kernels::depthwise::{DepthwiseParams, depthwise_conv2d};
    use crate::kernels::ops::add_into;
    use crate::test_util::random;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// The block layer by layer, as MobileNetV2 ran it before this op: the reference.
    #[allow(clippy::too_many_arguments)]
    fn layer_by_layer(
        x: &Tensor,
        we: &Tensor,
        be: &Tensor,
        wd: &Tensor,
        bd: &Tensor,
        wp: &Tensor,
        bp: &Tensor,
        stride: usize,
        pad: [usize; 4],
        skip: bool,
        kernel: Bf16Kernel,
    ) -> Tensor {
        let pointwise = |act| ConvParams {
            stride: 1,
            pad: [0; 4],
            act,
        };
        let e = pack_weight_bf16(we).unwrap();
        let y = conv2d_bf16(x, &e, kernel, (1, 1), be, pointwise(Activation::Relu6)).unwrap();
        let dp = DepthwiseParams {
            stride,
            pad,
            act: Activation::Relu6,
        };
        let y = depthwise_conv2d(&y, wd, bd, dp).unwrap();
        let p = pack_weight_bf16(wp).unwrap();
        let y = conv2d_bf16(&y, &p, kernel, (1, 1), bp, pointwise(Activation::None)).unwrap();
        if skip { add_into(y, x).unwrap() } else { y }
    }

    /// Bit for bit the layer-by-layer block, on every bf16 kernel this CPU runs, over shapes
    /// that cross the group size (576 and 960 expanded channels: 3 and 4 groups, the last
    /// partial), strides 1 and 2, TensorFlow's asymmetric padding and a symmetric one, one image
    /// cut in 1 to `oh` bands and several images.
    #[test]
    fn matches_the_layers_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(20261207);
        // (n, c_in, mid, c_out, h, w, stride, pad, skip)
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 4],
            bool,
        );
        let cases: &[Case] = &[
            (1, 16, 96, 24, 14, 13, 2, [0, 1, 0, 1], false),
            (3, 24, 144, 24, 9, 9, 1, [1, 1, 1, 1], true),
            (1, 32, 576, 32, 7, 7, 1, [1, 1, 1, 1], true),
            (2, 40, 960, 48, 5, 6, 2, [1, 1, 1, 1], false),
            (1, 8, 20, 8, 3, 3, 1, [1, 1, 1, 1], true),
            (2, 16, 64, 16, 11, 4, 2, [1, 1, 1, 1], false),
        ];
        let kernels: Vec<Bf16Kernel> = [Bf16Kernel::Avx512Bf16, Bf16Kernel::Emulated]
            .into_iter()
            .filter(|k| k.is_available())
            .collect();
        assert!(kernels.contains(&Bf16Kernel::Emulated));
        for &(n, c_in, mid, c_out, h, w, stride, pad, skip) in cases {
            let x = random(&[n, c_in, h, w], &mut rng);
            let we = random(&[mid, c_in, 1, 1], &mut rng);
            let be = random(&[mid], &mut rng);
            let wd = random(&[mid, 1, 3, 3], &mut rng);
            let bd = random(&[mid], &mut rng);
            let wp = random(&[c_out, mid, 1, 1], &mut rng);
            let bp = random(&[c_out], &mut rng);
            let (ve, vbe, vd, vbd, vp, vbp) = (
                values(&we),
                values(&be),
                values(&wd),
                values(&bd),
                values(&wp),
                values(&bp),
            );
            for &kernel in &kernels {
                let want =
                    layer_by_layer(&x, &we, &be, &wd, &bd, &wp, &bp, stride, pad, skip, kernel);
                let weights = BlockWeights {
                    expand: &ve,
                    expand_bias: &vbe,
                    depthwise: &vd,
                    depthwise_bias: &vbd,
                    project: &vp,
                    project_bias: &vbp,
                };
                let block = InvertedResidualBf16::new(
                    weights,
                    (c_in, mid, c_out),
                    3,
                    stride,
                    Activation::Relu6,
                    skip,
                    kernel,
                )
                .unwrap();
                let oh = want.dim(2).unwrap();
                let mut band_counts = vec![None, Some(1), Some(2), Some(3), Some(oh)];
                band_counts.dedup();
                for bands in band_counts {
                    let op = InvertedResidualOp {
                        block: &block,
                        pad,
                        bands,
                    };
                    let ours = x.apply_op1_no_bwd(&op).unwrap();
                    assert_eq!(ours.dims(), want.dims());
                    let (a, b) = (values(&ours), values(&want));
                    let differ = a
                        .iter()
                        .zip(&b)
                        .filter(|(a, b)| a.to_bits() != b.to_bits())
                        .count();
                    assert_eq!(
                        differ,
                        0,
                        "{n}x{c_in}x{h}x{w} -> {mid} -> {c_out}, stride {stride}, pad {pad:?}, \
                         {kernel}, bands {bands:?}: {differ} of {} values differ",
                        a.len()
                    );
                }
            }
        }
    }

    #[test]
    fn a_weight_of_the_wrong_length_is_named() {
        let v = vec![0.0f32; 8];
        let weights = BlockWeights {
            expand: &v,
            expand_bias: &v[..4],
            depthwise: &v,
            depthwise_bias: &v[..4],
            project: &v,
            project_bias: &v[..2],
        };
        let err = InvertedResidualBf16::new(
            weights,
            (2, 4, 2),
            3,
            1,
            Activation::Relu6,
            true,
            Bf16Kernel::Emulated,
        )
        .unwrap_err();
        assert!(
            err.contains("depthwise weight has 8 values, not 36"),
            "{err}"
        );
    }
}
