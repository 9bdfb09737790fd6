//! A fast depthwise 2-D convolution (groups = channels) as a candle custom op.
//!
//! candle's grouped `conv2d` splits a depthwise layer into one convolution per channel and
//! concatenates the results, which costs one im2col + gemm call per channel: 30-400x slower than
//! PyTorch on CPU. This op computes every output plane directly: for each (image, channel) pair,
//! run in parallel with rayon, it copies the zero-padded input plane once into per-thread scratch
//! (split into `stride x stride` phases, so every kernel tap reads a contiguous run), then sums the
//! `k*k` shifted, scaled runs 64 outputs at a time in vector registers, starting from the
//! (BatchNorm-folded) bias and finishing with the fused activation. The inner loop is compiled for
//! AVX-512 and for AVX2+FMA and picked at run time (a portable build of the same code otherwise).
//! Padding is given per side, so TensorFlow SAME's asymmetric padding needs no padded tensor.
//!
//! The op takes three tensors (input `[N,C,H,W]`, weight `[C,1,kh,kw]`, bias `[C]`), hence a
//! `CustomOp3` rather than a `CustomOp1` with the weights captured: the weights stay ordinary
//! tensors on whatever device the model lives on. On devices other than the CPU,
//! [`depthwise_conv2d`] computes the same result from candle's element-wise ops (`taps.rs`), which
//! costs about `2 * k * k` kernel launches per layer where candle's grouped convolution would
//! launch several per channel.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::conv::contiguous;
use crate::layers::Activation;

/// Geometry of a depthwise convolution: the same as a dense one's.
pub type DepthwiseParams = crate::conv::ConvParams;

struct DepthwiseOp(DepthwiseParams);

impl CustomOp3 for DepthwiseOp {
    fn name(&self) -> &'static str {
        "depthwise-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (cw, one, kh, kw) = l2.shape().dims4()?;
        let cb = l3.shape().dims1()?;
        if cw != c || one != 1 || cb != c {
            candle_core::bail!(
                "depthwise conv: input {:?}, weight {:?} and bias {:?} do not agree",
                l1.shape(),
                l2.shape(),
                l3.shape()
            );
        }
        let Some((oh, ow)) = self.0.out_hw(h, w, kh, kw) else {
            candle_core::bail!(
                "depthwise conv: input {h}x{w} with padding {:?} is smaller than the kernel {kh}x{kw}",
                self.0.pad
            );
        };
        let x = contiguous("depthwise conv", s1, l1, "input")?;
        let wt = contiguous("depthwise conv", s2, l2, "weight")?;
        let bias = contiguous("depthwise conv", s3, l3, "bias")?;
        let mut out = crate::conv::zeroed_output(n * c * oh * ow);
        let p = self.0;
        let kernel = PlaneKernel::detect();
        out.par_chunks_mut(oh * ow)
            .enumerate()
            .for_each(|(plane, dst)| {
                let ch = plane % c;
                let src = &x[plane * h * w..(plane + 1) * h * w];
                let k = &wt[ch * kh * kw..(ch + 1) * kh * kw];
                let g = PlaneGeometry {
                    h,
                    w,
                    kh,
                    kw,
                    oh,
                    ow,
                };
                let op = PlaneOp {
                    stride: p.stride,
                    pad: p.pad,
                    act: p.act,
                    fill: 0.0,
                    init: bias[ch],
                    max: false,
                };
                kernel.run(src, k, &op, g, dst);
            });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}

/// Outputs accumulated together in registers: four AVX-512 vectors, enough independent
/// multiply-add chains to hide their latency.
const CHUNK: usize = 64;

thread_local! {
    /// Per-thread scratch (phase planes and the full-width output) reused across planes and calls.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The shapes of one plane.
#[derive(Clone, Copy)]
pub(crate) struct PlaneGeometry {
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
}

/// What a plane computes besides its geometry: a weighted sum of the window (a depthwise
/// convolution, or an average pool with equal weights) or its maximum (a max pool).
#[derive(Clone, Copy)]
pub(crate) struct PlaneOp {
    pub stride: usize,
    /// Padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    pub act: Activation,
    /// Value of the padded cells.
    pub fill: f32,
    /// Starting value of every output: the bias of a sum, `-inf` for a max.
    pub init: f32,
    /// The maximum of the window (weights ignored) instead of the weighted sum.
    pub max: bool,
}

/// Which compiled variant of the plane kernel this CPU runs.
#[derive(Clone, Copy)]
pub(crate) enum PlaneKernel {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Generic,
}

impl PlaneKernel {
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return PlaneKernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return PlaneKernel::Avx2;
            }
        }
        PlaneKernel::Generic
    }

    /// Computes one output plane `dst` `[oh, ow]` from the input plane `src` `[h, w]` and the
    /// window weights `k` `[kh, kw]` (see [`plane_forward`]).
    pub(crate) fn run(
        self,
        src: &[f32],
        k: &[f32],
        op: &PlaneOp,
        g: PlaneGeometry,
        dst: &mut [f32],
    ) {
        SCRATCH.with_borrow_mut(|scratch| match self {
            // SAFETY: the variant was chosen after the CPU reported these features.
            #[cfg(target_arch = "x86_64")]
            PlaneKernel::Avx512 => unsafe { plane_avx512(src, k, op, g, dst, scratch) },
            #[cfg(target_arch = "x86_64")]
            PlaneKernel::Avx2 => unsafe { plane_avx2(src, k, op, g, dst, scratch) },
            PlaneKernel::Generic => plane_forward::<false, false>(src, k, op, g, dst, scratch),
        })
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn plane_avx512(
    src: &[f32],
    k: &[f32],
    op: &PlaneOp,
    g: PlaneGeometry,
    dst: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    plane_forward::<true, true>(src, k, op, g, dst, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn plane_avx2(
    src: &[f32],
    k: &[f32],
    op: &PlaneOp,
    g: PlaneGeometry,
    dst: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    plane_forward::<true, false>(src, k, op, g, dst, scratch)
}

/// The tap loop with explicit AVX-512 registers: [`CHUNK`] outputs in four accumulators, one
/// broadcast weight and four loads per tap.
///
/// # Safety
/// The CPU must have AVX-512F, and `off + full.len() <= phases.len()` for every tap offset.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn taps_avx512<const MAX: bool>(
    phases: &[f32],
    taps: &[(usize, f32)],
    init: f32,
    full: &mut [f32],
) {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_max_ps, _mm512_set1_ps, _mm512_storeu_ps,
    };
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn step<const MAX: bool>(v: __m512, k: __m512, a: __m512) -> __m512 {
        if MAX {
            _mm512_max_ps(a, v)
        } else {
            _mm512_fmadd_ps(v, k, a)
        }
    }
    const {
        assert!(CHUNK == 64, "four vectors of 16 lanes");
    }
    let base = phases.as_ptr();
    for (c, out) in full.chunks_exact_mut(CHUNK).enumerate() {
        let i0 = c * CHUNK;
        let b = _mm512_set1_ps(init);
        let (mut a0, mut a1, mut a2, mut a3) = (b, b, b, b);
        for &(off, kv) in taps {
            let k = _mm512_set1_ps(kv);
            // SAFETY: `off + i0 + CHUNK <= off + full.len() <= phases.len()` (the caller's
            // contract), so the four 16-float loads are in bounds.
            unsafe {
                let p = base.add(off + i0);
                a0 = step::<MAX>(_mm512_loadu_ps(p), k, a0);
                a1 = step::<MAX>(_mm512_loadu_ps(p.add(16)), k, a1);
                a2 = step::<MAX>(_mm512_loadu_ps(p.add(32)), k, a2);
                a3 = step::<MAX>(_mm512_loadu_ps(p.add(48)), k, a3);
            }
        }
        let o = out.as_mut_ptr();
        // SAFETY: `out` holds CHUNK = 64 floats.
        unsafe {
            _mm512_storeu_ps(o, a0);
            _mm512_storeu_ps(o.add(16), a1);
            _mm512_storeu_ps(o.add(32), a2);
            _mm512_storeu_ps(o.add(48), a3);
        }
    }
}

/// The tap loop in plain Rust (vectorised by the compiler for the enabled target features).
#[inline(always)]
fn taps_portable<const FMA: bool, const MAX: bool>(
    phases: &[f32],
    taps: &[(usize, f32)],
    init: f32,
    full: &mut [f32],
) {
    for (c, out) in full.chunks_exact_mut(CHUNK).enumerate() {
        let i0 = c * CHUNK;
        let mut acc = [init; CHUNK];
        for &(off, kv) in taps {
            let run: &[f32; CHUNK] = phases[off + i0..off + i0 + CHUNK]
                .try_into()
                .expect("chunk length");
            for (a, &v) in acc.iter_mut().zip(run) {
                *a = if MAX {
                    a.max(v)
                } else if FMA {
                    v.mul_add(kv, *a)
                } else {
                    *a + kv * v
                };
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// One output plane: `dst[oy, ox] = act(init + sum_{ky,kx} k[ky,kx] * src[oy*s+ky-t, ox*s+kx-l])`,
/// or `act(max(init, max_{ky,kx} src[..]))` for `op.max`, out-of-range input cells holding
/// `op.fill`.
///
/// The zero-padded input is first split into `s * s` phase planes, phase `(py, px)` holding the
/// padded cells `(y*s + py, x*s + px)` in rows of `qw` cells. Then every tap `(ky, kx)` reads phase
/// `(ky % s, kx % s)` at the constant offset `(ky / s) * qw + kx / s` from the flat index
/// `oy * qw + ox` of its output, so the whole plane is computed as a 1-D sum of shifted
/// contiguous runs, [`CHUNK`] outputs at a time held in registers (columns `ow..qw` of each row
/// are computed and dropped).
#[inline(always)]
fn plane_forward<const FMA: bool, const AVX512: bool>(
    src: &[f32],
    k: &[f32],
    op: &PlaneOp,
    g: PlaneGeometry,
    dst: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let PlaneGeometry {
        h,
        w,
        kh,
        kw,
        oh,
        ow,
    } = g;
    let s = op.stride;
    let [pt, _, pl, _] = op.pad;
    // Padded extent actually read by the outputs.
    let (ph, pw) = ((oh - 1) * s + kh, (ow - 1) * s + kw);
    let (qh, qw) = (ph.div_ceil(s), pw.div_ceil(s));
    let phase_len = qh * qw;
    let flat = oh * qw;
    let flat_chunks = flat.div_ceil(CHUNK) * CHUNK;
    // Phases, then slack for reads past the last phase by the dropped outputs, then the output.
    let phases_len = s * s * phase_len + qw + CHUNK;
    scratch.clear();
    scratch.resize(phases_len + flat_chunks, op.fill);
    let (phases, full) = scratch.split_at_mut(phases_len);
    for y in 0..ph {
        let Some(iy) = y.checked_sub(pt).filter(|&iy| iy < h) else {
            continue;
        };
        let src_row = &src[iy * w..(iy + 1) * w];
        // Padded columns x with 0 <= x - pl < w.
        let (x_lo, x_hi) = (pl.min(pw), (pl + w).min(pw));
        if x_lo >= x_hi {
            continue;
        }
        if s == 1 {
            phases[y * qw + x_lo..y * qw + x_hi].copy_from_slice(&src_row[x_lo - pl..x_hi - pl]);
        } else {
            // Phase px holds the padded columns x = j * s + px.
            for px in 0..s {
                let j_lo = x_lo.saturating_sub(px).div_ceil(s);
                let j_hi = x_hi.saturating_sub(px).div_ceil(s);
                let row0 = ((y % s) * s + px) * phase_len + (y / s) * qw;
                for (j, d) in phases[row0 + j_lo..row0 + j_hi.max(j_lo)]
                    .iter_mut()
                    .enumerate()
                {
                    *d = src_row[(j_lo + j) * s + px - pl];
                }
            }
        }
    }
    let taps: Vec<(usize, f32)> = (0..kh)
        .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
        .map(|(ky, kx)| {
            let phase = (ky % s) * s + kx % s;
            (phase * phase_len + (ky / s) * qw + kx / s, k[ky * kw + kx])
        })
        .collect();
    // Every read of the tap loop lies below `max offset + full.len()`.
    let max_off = taps.iter().map(|t| t.0).max().unwrap_or(0);
    assert!(
        max_off + full.len() <= phases.len(),
        "depthwise scratch too small"
    );
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: the caller checked that the CPU has AVX-512F; reads stay within `phases` (the
        // assertion above) and writes within `full`.
        unsafe {
            if op.max {
                taps_avx512::<true>(phases, &taps, op.init, full)
            } else {
                taps_avx512::<false>(phases, &taps, op.init, full)
            }
        }
    } else if op.max {
        taps_portable::<FMA, true>(phases, &taps, op.init, full);
    } else {
        taps_portable::<FMA, false>(phases, &taps, op.init, full);
    }
    #[cfg(not(target_arch = "x86_64"))]
    if op.max {
        taps_portable::<FMA, true>(phases, &taps, op.init, full);
    } else {
        taps_portable::<FMA, false>(phases, &taps, op.init, full);
    }
    for oy in 0..oh {
        let row = &mut dst[oy * ow..(oy + 1) * ow];
        let from = &full[oy * qw..oy * qw + ow];
        match op.act {
            Activation::None => row.copy_from_slice(from),
            Activation::Relu => row.iter_mut().zip(from).for_each(|(d, &v)| *d = v.max(0.0)),
            Activation::Relu6 => row
                .iter_mut()
                .zip(from)
                .for_each(|(d, &v)| *d = v.clamp(0.0, 6.0)),
        }
    }
}

/// Depthwise convolution of `x` `[N,C,H,W]` with `weight` `[C,1,kh,kw]` and `bias` `[C]`, zero
/// padding `p.pad`, stride `p.stride`, then the activation `p.act`.
///
/// On the CPU with f32 tensors this runs the direct kernel of this module; elsewhere (CUDA) it sums
/// shifted, scaled views of the padded input with candle's element-wise ops (`crate::taps`).
pub fn depthwise_conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    p: DepthwiseParams,
) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        let x = x.contiguous()?;
        let weight = weight.contiguous()?;
        let bias = bias.contiguous()?;
        return x.apply_op3_no_bwd(&weight, &bias, &DepthwiseOp(p));
    }
    crate::taps::depthwise_conv2d_taps(x, weight, bias, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{max_abs_diff, random, reference_conv};
    use candle_core::{DType, Device};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The independent reference: candle's own convolution (see `test_util`).
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor, p: DepthwiseParams) -> Tensor {
        reference_conv(x, w, b, p.stride, p.pad, p.act, x.dim(1).unwrap())
    }

    #[test]
    fn matches_grouped_conv_on_random_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(20240611);
        // (n, c, h, w, k, stride, pad, act)
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 4],
            Activation,
        );
        let cases: &[Case] = &[
            (2, 5, 9, 11, 3, 1, [1, 1, 1, 1], Activation::None),
            (1, 4, 8, 8, 3, 2, [0, 1, 0, 1], Activation::Relu6),
            (3, 3, 7, 10, 5, 2, [2, 2, 2, 2], Activation::Relu),
            (2, 6, 11, 11, 7, 2, [2, 3, 2, 3], Activation::None),
            (1, 2, 6, 5, 3, 1, [0, 0, 0, 0], Activation::Relu),
            (2, 3, 13, 13, 5, 1, [2, 2, 2, 2], Activation::Relu6),
            (1, 2, 5, 5, 3, 3, [1, 0, 2, 1], Activation::None),
            // Planes spanning several 64-output chunks, strides 1 and 2.
            (1, 3, 37, 41, 3, 2, [1, 1, 1, 1], Activation::Relu6),
            (2, 2, 30, 29, 7, 1, [3, 3, 3, 3], Activation::None),
            (1, 2, 42, 42, 5, 2, [1, 2, 1, 2], Activation::Relu),
        ];
        for &(n, c, h, w, k, stride, pad, act) in cases {
            let x = random(&[n, c, h, w], &mut rng);
            let wt = random(&[c, 1, k, k], &mut rng);
            let b = random(&[c], &mut rng);
            let p = DepthwiseParams { stride, pad, act };
            let ours = depthwise_conv2d(&x, &wt, &b, p).unwrap();
            let theirs = reference(&x, &wt, &b, p);
            assert_eq!(
                ours.dims(),
                theirs.dims(),
                "case {n} {c} {h} {w} {k} {stride} {pad:?}"
            );
            let d = max_abs_diff(&ours, &theirs);
            assert!(
                d < 1e-5,
                "case {n} {c} {h} {w} {k} {stride} {pad:?}: max diff {d}"
            );
        }
    }

    #[test]
    fn every_compiled_variant_agrees_with_the_reference() {
        // The op picks one variant per CPU; run the others by hand on a stride-2 and a stride-1
        // plane, sum and max.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut variants = vec![PlaneKernel::Generic];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                variants.push(PlaneKernel::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                variants.push(PlaneKernel::Avx2);
            }
        }
        for (stride, pad) in [(2, [0, 1, 0, 1]), (1, [1, 1, 1, 1])] {
            let (h, w, k) = (23, 19, 3);
            let x = random(&[1, 1, h, w], &mut rng);
            let wt = random(&[1, 1, k, k], &mut rng);
            let p = DepthwiseParams {
                stride,
                pad,
                act: Activation::None,
            };
            let want = reference(
                &x,
                &wt,
                &Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap(),
                p,
            )
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
            let (oh, ow) = p.out_hw(h, w, k, k).unwrap();
            let src = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let kv = wt.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let g = PlaneGeometry {
                h,
                w,
                kh: k,
                kw: k,
                oh,
                ow,
            };
            for v in &variants {
                for max in [false, true] {
                    let op = PlaneOp {
                        stride,
                        pad,
                        act: Activation::None,
                        fill: if max { f32::NEG_INFINITY } else { 0.0 },
                        init: if max { f32::NEG_INFINITY } else { 0.0 },
                        max,
                    };
                    let mut got = vec![0f32; oh * ow];
                    v.run(&src, &kv, &op, g, &mut got);
                    if max {
                        // By hand: the maximum of the in-image cells of each window.
                        let [pt, _, pl, _] = pad;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let mut m = f32::NEG_INFINITY;
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let (iy, ix) = (oy * stride + ky, ox * stride + kx);
                                        if iy >= pt && iy - pt < h && ix >= pl && ix - pl < w {
                                            m = m.max(src[(iy - pt) * w + ix - pl]);
                                        }
                                    }
                                }
                                assert_eq!(got[oy * ow + ox], m, "max at {oy},{ox}");
                            }
                        }
                    } else {
                        let d = got
                            .iter()
                            .zip(&want)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0f32, f32::max);
                        assert!(d < 1e-5, "stride {stride}: max diff {d}");
                    }
                }
            }
        }
    }

    #[test]
    fn accepts_non_contiguous_input() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = random(&[2, 4, 6, 6], &mut rng).transpose(2, 3).unwrap();
        let wt = random(&[4, 1, 3, 3], &mut rng);
        let b = random(&[4], &mut rng);
        let p = DepthwiseParams {
            stride: 1,
            pad: [1, 1, 1, 1],
            act: Activation::None,
        };
        let d = max_abs_diff(
            &depthwise_conv2d(&x, &wt, &b, p).unwrap(),
            &reference(&x, &wt, &b, p),
        );
        assert!(d < 1e-5, "max diff {d}");
    }

    #[test]
    fn rejects_mismatched_weight_and_tiny_input() {
        let x = Tensor::zeros((1, 4, 6, 6), DType::F32, &Device::Cpu).unwrap();
        let wt = Tensor::zeros((3, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap();
        let p = DepthwiseParams {
            stride: 1,
            pad: [0; 4],
            act: Activation::None,
        };
        let err = depthwise_conv2d(&x, &wt, &b, p).unwrap_err().to_string();
        assert!(err.contains("do not agree"), "{err}");
        let x = Tensor::zeros((1, 3, 2, 2), DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        let err = depthwise_conv2d(&x, &wt, &b, p).unwrap_err().to_string();
        assert!(err.contains("smaller than the kernel"), "{err}");
    }
}
