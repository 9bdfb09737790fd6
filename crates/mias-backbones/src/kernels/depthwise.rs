//! A fast depthwise 2-D convolution (groups = channels) as a candle custom op.
//!
//! candle's grouped `conv2d` splits a depthwise layer into one convolution per channel and
//! concatenates the results, which costs one im2col + gemm call per channel: 30-400x slower than
//! PyTorch on CPU. This op computes every output plane directly: for each (image, channel) pair,
//! run in parallel with rayon, it copies the zero-padded input plane once into per-thread scratch
//! (split into `stride x stride` phases, so every kernel tap reads a contiguous run), then sums the
//! `k*k` shifted, scaled runs 64 outputs at a time in vector registers, starting from the
//! (BatchNorm-folded) bias and finishing with the fused activation. That per-plane loop lives in
//! `plane.rs` (the pools run it too); it is compiled for AVX-512 and for AVX2+FMA and picked at
//! run time (a portable build of the same code otherwise).
//! Padding is given per side, so TensorFlow SAME's asymmetric padding needs no padded tensor.
//!
//! The op takes three tensors (input `[N,C,H,W]`, weight `[C,1,kh,kw]`, bias `[C]`), hence a
//! `CustomOp3` rather than a `CustomOp1` with the weights captured: the weights stay ordinary
//! tensors on whatever device the model lives on. On devices other than the CPU,
//! [`depthwise_conv2d`] computes the same result from candle's element-wise ops (`taps.rs`), which
//! costs about `2 * k * k` kernel launches per layer where candle's grouped convolution would
//! launch several per channel.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use std::mem::MaybeUninit;

use super::plane::{PlaneGeometry, PlaneKernel, PlaneOp};
use super::{ConvParams, contiguous, par_output};

/// Geometry of a depthwise convolution: the same as a dense one's.
pub type DepthwiseParams = ConvParams;

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
        let p = self.0;
        let kernel = PlaneKernel::detect();
        let write = |plane: usize, dst: &mut [MaybeUninit<f32>]| {
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
        };
        // SAFETY: `PlaneKernel::run` sets every element of its output plane.
        let out = unsafe { par_output(n * c * oh * ow, oh * ow, write) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}

/// Depthwise convolution of `x` `[N,C,H,W]` with `weight` `[C,1,kh,kw]` and `bias` `[C]`, zero
/// padding `p.pad`, stride `p.stride`, then the activation `p.act`.
///
/// On the CPU with f32 tensors this runs the direct kernel of this module; elsewhere (CUDA) it sums
/// shifted, scaled views of the padded input with candle's element-wise ops (`super::taps`).
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
    super::taps::depthwise_conv2d_taps(x, weight, bias, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Activation;
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
        // The op picks one variant per CPU; run the others by hand on planes of strides 1, 2 (the
        // padded row starting on an even and an odd column) and 3, sum and max.
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
        for (stride, pad) in [
            (2, [0, 1, 0, 1]),
            (2, [1, 1, 1, 1]),
            (1, [1, 1, 1, 1]),
            (3, [2, 0, 1, 2]),
        ] {
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
                    // NaN before the run: a cell the kernel leaves unset fails the comparison.
                    let mut out = vec![std::mem::MaybeUninit::new(f32::NAN); oh * ow];
                    v.run(&src, &kv, &op, g, &mut out);
                    // SAFETY: every element was initialised (NaN) before the run.
                    let got: Vec<f32> = out.iter().map(|m| unsafe { m.assume_init() }).collect();
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
