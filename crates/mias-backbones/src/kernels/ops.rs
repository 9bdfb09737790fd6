//! Element-wise ops of the model graphs (ReLU, sum of two maps, scaling) for the CPU as candle
//! custom ops run on rayon's threads.
//!
//! candle's own element-wise CPU ops run on a second thread pool of candle's, whose workers
//! spin between ops: beside the rayon threads of the convolution kernels, two pools then fight
//! for two cores (the profile of NASNetLarge at batch 1 showed a third of the time in candle's
//! barrier wait). Routing these ops through rayon keeps one pool busy. Off the CPU the functions
//! use candle's ops (same result).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous, par_output, zeroed_output};

/// Floats per rayon task.
const GRAIN: usize = 1 << 14;

/// `f` applied to every element, in parallel chunks.
fn map_par(x: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    let write = |c: usize, o: &mut [MaybeUninit<f32>]| {
        for (o, &v) in o.iter_mut().zip(&x[c * GRAIN..]) {
            o.write(f(v));
        }
    };
    // SAFETY: chunk `c` of the output has the length of chunk `c` of `x` and is set from it.
    unsafe { par_output(x.len(), GRAIN, write) }
}

#[derive(Clone, Copy)]
enum Unary {
    Relu,
    Scale(f32),
}

impl CustomOp1 for Unary {
    fn name(&self) -> &'static str {
        match self {
            Unary::Relu => "mias-relu",
            Unary::Scale(_) => "mias-scale",
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(self.name(), s, l, "input")?;
        let out = match *self {
            Unary::Relu => map_par(x, |v| v.max(0.0)),
            Unary::Scale(f) => map_par(x, |v| v * f),
        };
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

struct Add;

impl CustomOp2 for Add {
    fn name(&self) -> &'static str {
        "mias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("add: shapes {:?} and {:?} differ", l1.shape(), l2.shape());
        }
        let a = contiguous("add", s1, l1, "lhs")?;
        let b = contiguous("add", s2, l2, "rhs")?;
        let write = |c: usize, o: &mut [MaybeUninit<f32>]| {
            for ((o, &a), &b) in o.iter_mut().zip(&a[c * GRAIN..]).zip(&b[c * GRAIN..]) {
                o.write(a + b);
            }
        };
        // SAFETY: chunk `c` of the output is set from the same chunk of `a` and `b` (equal
        // lengths: the shapes agree).
        let out = unsafe { par_output(a.len(), GRAIN, write) };
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `out[n, c, y, x] = in[n, c, y + 1, x + 1]`, zero in the last row and column.
struct ShiftUpLeft;

impl CustomOp1 for ShiftUpLeft {
    fn name(&self) -> &'static str {
        "mias-shift-up-left"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, _, h, w) = l.shape().dims4()?;
        let x = contiguous(self.name(), s, l, "input")?;
        let mut out = zeroed_output(x.len());
        if h > 1 && w > 1 {
            out.par_chunks_mut(h * w)
                .zip(x.par_chunks(h * w))
                .for_each(|(o, i)| {
                    for y in 0..h - 1 {
                        o[y * w..y * w + w - 1].copy_from_slice(&i[(y + 1) * w + 1..(y + 2) * w]);
                    }
                });
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `lhs += rhs` in place.
struct AddAssign;

impl candle_core::InplaceOp2 for AddAssign {
    fn name(&self) -> &'static str {
        "mias-add-assign"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("add: shapes {:?} and {:?} differ", l1.shape(), l2.shape());
        }
        let b = contiguous("add", s2, l2, "rhs")?;
        let Some((start, end)) = l1.contiguous_offsets() else {
            candle_core::bail!("add: lhs must be contiguous");
        };
        let CpuStorage::F32(a) = s1 else {
            candle_core::bail!("add: lhs must be f32");
        };
        a[start..end]
            .par_chunks_mut(GRAIN)
            .zip(b.par_chunks(GRAIN))
            .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b));
        Ok(())
    }
}

fn cpu_f32(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == candle_core::DType::F32
}

/// `max(x, 0)`.
pub fn relu(x: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(x) {
        return x.contiguous()?.apply_op1_no_bwd(&Unary::Relu);
    }
    x.relu()
}

/// `x * f`.
pub fn scale(x: &Tensor, f: f32) -> candle_core::Result<Tensor> {
    if cpu_f32(x) {
        return x.contiguous()?.apply_op1_no_bwd(&Unary::Scale(f));
    }
    x.affine(f64::from(f), 0.0)
}

/// `a + b` for two tensors of the same shape.
pub fn add(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(a) && cpu_f32(b) {
        return a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, &Add);
    }
    a + b
}

/// `lhs + rhs`, written into `lhs`'s storage on the CPU (no new allocation, no fresh pages).
///
/// `lhs` must be a tensor whose storage nothing else reads afterwards: a fresh layer output
/// (hence crate-private). Off the CPU, or for a non-contiguous `lhs`, this is [`add`].
pub(crate) fn add_into(lhs: Tensor, rhs: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(&lhs) && cpu_f32(rhs) && lhs.is_contiguous() {
        lhs.inplace_op2(&rhs.contiguous()?, &AddAssign)?;
        return Ok(lhs);
    }
    add(&lhs, rhs)
}

/// NASNet's `ZeroPad2d((-1, 1, -1, 1))` of `x` `[N, C, H, W]`: drops the first row and column and
/// appends a zero row and column.
pub fn shift_up_left(x: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(x) {
        return x.contiguous()?.apply_op1_no_bwd(&ShiftUpLeft);
    }
    let (_, _, h, w) = x.dims4()?;
    x.narrow(2, 1, h - 1)?
        .narrow(3, 1, w - 1)?
        .pad_with_zeros(2, 0, 1)?
        .pad_with_zeros(3, 0, 1)
}

/// `parts` `[N, C_i, H, W]` concatenated along the channels. On the CPU the output goes straight
/// into one (huge-page) allocation, each `(image, part)` block copied on rayon: candle's `cat`
/// copies on one thread and its fresh 4 KiB pages were half of NASNetLarge's page faults.
pub fn cat_channels(parts: &[&Tensor]) -> candle_core::Result<Tensor> {
    let Some(first) = parts.first() else {
        candle_core::bail!("cat_channels: no tensors");
    };
    if !parts.iter().all(|t| cpu_f32(t)) {
        return Tensor::cat(parts, 1);
    }
    let (n, _, h, w) = first.dims4()?;
    let mut chans = Vec::with_capacity(parts.len());
    for t in parts {
        let (tn, tc, th, tw) = t.dims4()?;
        if (tn, th, tw) != (n, h, w) {
            candle_core::bail!(
                "cat_channels: shapes {:?} and {:?} differ outside the channels",
                first.dims(),
                t.dims()
            );
        }
        chans.push(tc);
    }
    let total: usize = chans.iter().sum();
    let plane = h * w;
    let parts: Vec<Tensor> = parts
        .iter()
        .map(|t| t.contiguous())
        .collect::<candle_core::Result<_>>()?;
    let guards: Vec<_> = parts.iter().map(|t| t.storage_and_layout()).collect();
    let mut srcs: Vec<&[f32]> = Vec::with_capacity(parts.len());
    for (storage, layout) in &guards {
        let candle_core::Storage::Cpu(cpu) = &**storage else {
            candle_core::bail!("cat_channels: tensor not on the CPU");
        };
        srcs.push(contiguous("cat_channels", cpu, layout, "part")?);
    }
    let mut out = zeroed_output(n * total * plane);
    // Disjoint (destination, source) blocks, one per image and part.
    let mut blocks: Vec<(&mut [f32], &[f32])> = Vec::with_capacity(n * srcs.len());
    let mut rest: &mut [f32] = &mut out;
    for img in 0..n {
        for (src, &c) in srcs.iter().zip(&chans) {
            let (dst, tail) = rest.split_at_mut(c * plane);
            blocks.push((dst, &src[img * c * plane..(img + 1) * c * plane]));
            rest = tail;
        }
    }
    blocks
        .into_par_iter()
        .for_each(|(dst, src)| dst.copy_from_slice(src));
    drop(guards);
    Tensor::from_vec(out, (n, total, h, w), first.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{max_abs_diff, random};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn match_candle_ops_across_several_chunks() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // More than one GRAIN, not a multiple of it, and a strided (transposed) view.
        let a = random(&[2, 3, 70, 90], &mut rng);
        let b = random(&[2, 3, 90, 70], &mut rng).transpose(2, 3).unwrap();
        assert_eq!(max_abs_diff(&relu(&a).unwrap(), &a.relu().unwrap()), 0.0);
        assert_eq!(
            max_abs_diff(&scale(&b, 2.0).unwrap(), &(&b * 2.0).unwrap()),
            0.0
        );
        assert_eq!(
            max_abs_diff(&add(&a, &b).unwrap(), &(&a + &b).unwrap()),
            0.0
        );
        let (h, w) = (70, 90);
        let shifted = a
            .narrow(2, 1, h - 1)
            .unwrap()
            .narrow(3, 1, w - 1)
            .unwrap()
            .pad_with_zeros(2, 0, 1)
            .unwrap()
            .pad_with_zeros(3, 0, 1)
            .unwrap();
        assert_eq!(max_abs_diff(&shift_up_left(&a).unwrap(), &shifted), 0.0);
        let sum = (&a + &b).unwrap();
        let fresh = (&a * 1.0).unwrap();
        assert_eq!(max_abs_diff(&add_into(fresh, &b).unwrap(), &sum), 0.0);
        let d = random(&[2, 5, 70, 90], &mut rng);
        assert_eq!(
            max_abs_diff(
                &cat_channels(&[&a, &b, &d]).unwrap(),
                &Tensor::cat(&[&a, &b, &d], 1).unwrap()
            ),
            0.0
        );
        let c = random(&[2, 3, 70, 91], &mut rng);
        let err = cat_channels(&[&a, &c]).unwrap_err().to_string();
        assert!(err.contains("differ outside the channels"), "{err}");
        let err = add(&a, &c).unwrap_err().to_string();
        assert!(err.contains("differ"), "{err}");
    }
}
