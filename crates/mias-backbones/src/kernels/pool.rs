//! Max and average pooling for the CPU as a candle custom op, padding given per side: rayon over
//! the `N*C` planes, each run by the vectorised plane kernel of [`super::plane`] (equal weights
//! for an average, the maximum for a max pool). candle's own pools run on one thread and need an
//! explicitly padded copy (two concatenations) for TensorFlow SAME; NASNetLarge pools full-size feature maps several times per
//! cell. Off the CPU, [`pool2d`] pads explicitly and uses candle's pools (same result).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use std::mem::MaybeUninit;

use super::plane::{PlaneGeometry, PlaneKernel, PlaneOp};
use super::{Activation, contiguous, par_output};

/// What a pooling window computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolKind {
    /// The maximum, padded cells holding `pad_value` (`-inf`: they never win).
    Max {
        /// Value of the padded cells.
        pad_value: f32,
    },
    /// The mean with zero padding; the divisor is `k * k` with `count_include_pad`, otherwise the
    /// number of window cells inside the input.
    Avg {
        /// Count padded cells in the divisor (PyTorch's default).
        count_include_pad: bool,
    },
}

/// Geometry and kind of a pooling layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolParams {
    /// Window side.
    pub k: usize,
    /// Stride, the same along both axes.
    pub stride: usize,
    /// Padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    /// Max or average.
    pub kind: PoolKind,
}

impl PoolParams {
    fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let [t, b, l, r] = self.pad;
        let (ph, pw) = (h + t + b, w + l + r);
        if ph < self.k || pw < self.k || self.stride == 0 {
            return None;
        }
        Some((
            (ph - self.k) / self.stride + 1,
            (pw - self.k) / self.stride + 1,
        ))
    }
}

struct PoolOp(PoolParams);

impl CustomOp1 for PoolOp {
    fn name(&self) -> &'static str {
        "mias-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let p = self.0;
        let Some((oh, ow)) = p.out_hw(h, w) else {
            candle_core::bail!(
                "pool2d: input {h}x{w} with padding {:?} is smaller than the window {}x{}",
                p.pad,
                p.k,
                p.k
            );
        };
        let x = contiguous("pool2d", s, l, "input")?;
        let kernel = PlaneKernel::detect();
        let g = PlaneGeometry {
            h,
            w,
            kh: p.k,
            kw: p.k,
            oh,
            ow,
        };
        let (op, weight) = match p.kind {
            PoolKind::Max { pad_value } => (
                PlaneOp {
                    stride: p.stride,
                    pad: p.pad,
                    act: Activation::None,
                    fill: pad_value,
                    init: f32::NEG_INFINITY,
                    max: true,
                },
                1.0,
            ),
            PoolKind::Avg { count_include_pad } => (
                PlaneOp {
                    stride: p.stride,
                    pad: p.pad,
                    act: Activation::None,
                    fill: 0.0,
                    init: 0.0,
                    max: false,
                },
                if count_include_pad {
                    1.0 / (p.k * p.k) as f32
                } else {
                    1.0
                },
            ),
        };
        let weights = vec![weight; p.k * p.k];
        // Without count_include_pad: the divisor of each cell, the window's in-image area.
        let divisors = match p.kind {
            PoolKind::Avg {
                count_include_pad: false,
            } => {
                let [pt, _, pl, _] = p.pad;
                let extent = |o: usize, before: usize, n: usize| {
                    let (lo, hi) = window(o * p.stride, p.k, before, n);
                    (hi - lo) as f32
                };
                let rows: Vec<f32> = (0..oh).map(|oy| extent(oy, pt, h)).collect();
                let cols: Vec<f32> = (0..ow).map(|ox| extent(ox, pl, w)).collect();
                Some((rows, cols))
            }
            _ => None,
        };
        let write = |plane: usize, dst: &mut [MaybeUninit<f32>]| {
            let src = &x[plane * h * w..(plane + 1) * h * w];
            kernel.run(src, &weights, &op, g, dst);
            if let Some((rows, cols)) = &divisors {
                for (row, &dy) in dst.chunks_exact_mut(ow).zip(rows) {
                    for (d, &dx) in row.iter_mut().zip(cols) {
                        // SAFETY: set by the run above.
                        let v = unsafe { d.assume_init() };
                        d.write(v / (dy * dx));
                    }
                }
            }
        };
        // SAFETY: `PlaneKernel::run` sets every element of its output plane.
        let out = unsafe { par_output(n * c * oh * ow, oh * ow, write) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }
}

/// In-image range `lo..hi` of a window starting at padded coordinate `start` along an axis of
/// length `n` with `before` padding cells.
fn window(start: usize, k: usize, before: usize, n: usize) -> (usize, usize) {
    let lo = start.saturating_sub(before);
    let hi = (start + k).saturating_sub(before).min(n);
    (lo, hi.max(lo))
}

/// Pools `x` `[N, C, H, W]` as `p` says. On the CPU with f32 data this runs the op of this module;
/// elsewhere it pads explicitly and uses candle's pools.
pub fn pool2d(x: &Tensor, p: PoolParams) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        return x.contiguous()?.apply_op1_no_bwd(&PoolOp(p));
    }
    let [t, b, l, r] = p.pad;
    let fill = |x: &Tensor, dim: usize, before: usize, after: usize, v: f32| {
        let mut dims = x.dims().to_vec();
        let mut parts = Vec::with_capacity(3);
        if before > 0 {
            dims[dim] = before;
            parts.push(Tensor::full(v, dims.as_slice(), x.device())?.to_dtype(x.dtype())?);
        }
        parts.push(x.clone());
        if after > 0 {
            dims[dim] = after;
            parts.push(Tensor::full(v, dims.as_slice(), x.device())?.to_dtype(x.dtype())?);
        }
        Tensor::cat(&parts, dim)
    };
    let pad = |x: &Tensor, v: f32| fill(&fill(x, 2, t, b, v)?, 3, l, r, v);
    match p.kind {
        PoolKind::Max { pad_value } => pad(x, pad_value)?.max_pool2d_with_stride(p.k, p.stride),
        PoolKind::Avg { count_include_pad } => {
            let sum = pad(x, 0.0)?.avg_pool2d_with_stride(p.k, p.stride)?;
            if count_include_pad || p.pad == [0; 4] {
                return Ok(sum);
            }
            let (_, _, h, w) = x.dims4()?;
            let ones = Tensor::ones((1, 1, h, w), x.dtype(), x.device())?;
            let share = pad(&ones, 0.0)?.avg_pool2d_with_stride(p.k, p.stride)?;
            sum.broadcast_div(&share)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{max_abs_diff, random};
    use candle_core::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The independent reference: candle's pools on an explicitly padded input.
    fn reference(x: &Tensor, p: PoolParams) -> Tensor {
        let [t, b, l, r] = p.pad;
        let (n, c, h, w) = x.dims4().unwrap();
        let v = match p.kind {
            PoolKind::Max { pad_value } => pad_value,
            PoolKind::Avg { .. } => 0.0,
        };
        let mut padded = Tensor::full(v, (n, c, h + t + b, w + l + r), &Device::Cpu).unwrap();
        padded = padded
            .slice_assign(&[0..n, 0..c, t..t + h, l..l + w], x)
            .unwrap();
        match p.kind {
            PoolKind::Max { .. } => padded.max_pool2d_with_stride(p.k, p.stride).unwrap(),
            PoolKind::Avg { count_include_pad } => {
                let sum = padded.avg_pool2d_with_stride(p.k, p.stride).unwrap();
                if count_include_pad {
                    return sum;
                }
                let ones = Tensor::zeros((1, 1, h + t + b, w + l + r), x.dtype(), &Device::Cpu)
                    .unwrap()
                    .slice_assign(
                        &[0..1, 0..1, t..t + h, l..l + w],
                        &Tensor::ones((1, 1, h, w), x.dtype(), &Device::Cpu).unwrap(),
                    )
                    .unwrap();
                let share = ones.avg_pool2d_with_stride(p.k, p.stride).unwrap();
                sum.broadcast_div(&share).unwrap()
            }
        }
    }

    #[test]
    fn matches_candle_pools_on_padded_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let kinds = [
            PoolKind::Max {
                pad_value: f32::NEG_INFINITY,
            },
            PoolKind::Max { pad_value: 0.0 },
            PoolKind::Avg {
                count_include_pad: true,
            },
            PoolKind::Avg {
                count_include_pad: false,
            },
        ];
        // (n, c, h, w, k, stride, pad)
        type Case = (usize, usize, usize, usize, usize, usize, [usize; 4]);
        let cases: &[Case] = &[
            (2, 3, 9, 11, 3, 2, [0, 1, 0, 1]),
            (1, 4, 8, 8, 3, 1, [1, 1, 1, 1]),
            (2, 2, 7, 7, 3, 2, [1, 1, 1, 1]),
            (1, 2, 6, 9, 2, 2, [0, 0, 0, 0]),
            (1, 1, 5, 5, 3, 2, [2, 0, 0, 2]),
        ];
        for kind in kinds {
            for &(n, c, h, w, k, stride, pad) in cases {
                let x = random(&[n, c, h, w], &mut rng);
                let p = PoolParams {
                    k,
                    stride,
                    pad,
                    kind,
                };
                let ours = pool2d(&x, p).unwrap();
                let theirs = reference(&x, p);
                assert_eq!(ours.dims(), theirs.dims(), "{kind:?} {pad:?}");
                let d = max_abs_diff(&ours, &theirs);
                assert!(
                    d < 1e-6,
                    "{kind:?} case {h}x{w} k{k} s{stride} {pad:?}: {d}"
                );
            }
        }
    }

    #[test]
    fn rejects_window_larger_than_padded_input() {
        let x = Tensor::zeros((1, 1, 2, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        let p = PoolParams {
            k: 3,
            stride: 1,
            pad: [0; 4],
            kind: PoolKind::Avg {
                count_include_pad: true,
            },
        };
        let err = pool2d(&x, p).unwrap_err().to_string();
        assert!(err.contains("smaller than the window"), "{err}");
    }
}
