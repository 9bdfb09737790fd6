//! Winograd F(2x2, 3x3) for the 3x3 stride-1 dense convolutions with at least 16 input channels
//! on the CPU (twelve of VGG16's thirteen, Xception's second): 16 multiplications per 2x2 output
//! tile instead of 36.
//!
//! With `B`, `G`, `A` the F(2, 3) matrices (Lavin & Gray, 2015), each 4x4 input tile `d` (stride
//! 2, zero-padded) becomes `V = Bᵀ d B`, each 3x3 kernel `g` becomes `U = G g Gᵀ` (once, at load
//! time: [`transform_weights`]), and for each of the 16 positions `e` of the 4x4 transformed tile
//! the sum over input channels is one matrix product `M[e] = U[e] · V[e]`
//! (`[c_out x c_in] · [c_in x tiles]`, run by `gemm`); then `Y = Aᵀ M A` gives the 2x2 outputs,
//! plus the bias and the fused activation. `U` is stored `[16][c_in][c_out]` (column-major per
//! position), which lets `gemm` skip packing it for most shapes. Blocks of tile rows of each image run
//! in parallel on rayon. The transforms only add, subtract and halve, so the result differs from
//! the direct convolution by rounding only (tests: < 1e-5 on unit-scale data). They are
//! element-wise loops over runs of tiles, compiled for AVX-512, for AVX2 and for the baseline
//! and picked at run time ([`Simd`]); without fused multiply-adds every copy gives the same bits
//! (a test compares them). Compiled for the baseline alone they ran on 128-bit vectors, partly
//! scalar, and took a fifth of VGG16's dense map in bf16.

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use std::sync::Arc;

use super::bf16::{self, BSource, Bf16Kernel, Dest, PackedA};
use super::{Activation, OutPtr, Simd, advise_huge_pages, contiguous};

/// `U = G g Gᵀ` for every (output, input) channel pair of `w` `[c_out, c_in, 3, 3]`, laid out
/// `[16][c_in][c_out]`.
pub fn transform_weights(w: &Tensor) -> candle_core::Result<Tensor> {
    let (c_out, c_in, kh, kw) = w.dims4()?;
    if (kh, kw) != (3, 3) {
        candle_core::bail!("winograd: kernel {kh}x{kw} is not 3x3");
    }
    let g_all = w
        .to_device(&candle_core::Device::Cpu)?
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut u = vec![0f32; 16 * c_in * c_out];
    for co in 0..c_out {
        for ci in 0..c_in {
            let g = &g_all[(co * c_in + ci) * 9..(co * c_in + ci + 1) * 9];
            // G g: 4x3, rows (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2) over g's rows.
            let mut gg = [[0f32; 3]; 4];
            for j in 0..3 {
                let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
                gg[0][j] = a;
                gg[1][j] = 0.5 * (a + b + c);
                gg[2][j] = 0.5 * (a - b + c);
                gg[3][j] = c;
            }
            // (G g) Gᵀ: 4x4, the same combination over columns.
            for (i, row) in gg.iter().enumerate() {
                let (a, b, c) = (row[0], row[1], row[2]);
                let vals = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
                for (j, v) in vals.into_iter().enumerate() {
                    u[((i * 4 + j) * c_in + ci) * c_out + co] = v;
                }
            }
        }
    }
    Tensor::from_vec(u, (16, c_in, c_out), &candle_core::Device::Cpu)?.to_device(w.device())
}

struct WinogradOp {
    pad: [usize; 4],
    act: Activation,
    /// The compiled copy of the transforms to run ([`Simd::detect`] but in tests).
    simd: Simd,
}

/// Floats of one block's transformed input and output to aim for (8 MiB together).
const BLOCK_FLOATS: usize = 1 << 21;

impl CustomOp3 for WinogradOp {
    fn name(&self) -> &'static str {
        "mias-winograd3x3"
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
        let (n, c_in, h, w) = l1.shape().dims4()?;
        let (sixteen, c_in_u, c_out) = l2.shape().dims3()?;
        if sixteen != 16 || c_in_u != c_in || l3.shape().dims1()? != c_out {
            candle_core::bail!(
                "winograd: input {:?}, transformed weight {:?} and bias {:?} do not agree",
                l1.shape(),
                l2.shape(),
                l3.shape()
            );
        }
        let x = contiguous("winograd", s1, l1, "input")?;
        let u = contiguous("winograd", s2, l2, "weight")?;
        let bias = contiguous("winograd", s3, l3, "bias")?;
        run(x, (n, c_in, h, w), c_out, Transformed::F32(u), bias, self)
    }
}

/// The Winograd convolution of `x` (`[n, c_in, h, w]`) into `c_out` channels.
fn run(
    x: &[f32],
    (n, c_in, h, w): (usize, usize, usize, usize),
    c_out: usize,
    u: Transformed,
    bias: &[f32],
    op: &WinogradOp,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let [pt, pb, pl, pr] = op.pad;
    let (ph, pw) = (h + pt + pb, w + pl + pr);
    if ph < 3 || pw < 3 {
        candle_core::bail!(
            "winograd: input {h}x{w} with padding {:?} is smaller than 3x3",
            op.pad
        );
    }
    let (oh, ow) = (ph - 2, pw - 2);
    let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
    let tiles_per_block = (BLOCK_FLOATS / (16 * (c_in + c_out))).max(16);
    let mut rows_per_block = (tiles_per_block / tw).clamp(1, th);
    let mut blocks = th.div_ceil(rows_per_block);
    // Split a little finer so that every thread gets the same number of blocks (a batch-1
    // 14x14 layer fits one block otherwise, and would run on one thread).
    let threads = rayon::current_num_threads();
    while !(n * blocks).is_multiple_of(threads) && blocks < th {
        blocks += 1;
    }
    rows_per_block = th.div_ceil(blocks);
    let blocks = th.div_ceil(rows_per_block);
    let len = n * c_out * oh * ow;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    advise_huge_pages(&mut out);
    let dst = OutPtr(out.as_mut_ptr());
    let g = Geom {
        c_in,
        h,
        w,
        c_out,
        oh,
        ow,
        tw,
    };
    let simd = op.simd;
    (0..n * blocks).into_par_iter().for_each(|item| {
        let (img, b) = (item / blocks, item % blocks);
        let ty0 = b * rows_per_block;
        let ty1 = (ty0 + rows_per_block).min(th);
        let xi = &x[img * c_in * h * w..(img + 1) * c_in * h * w];
        // SAFETY: this block writes output rows 2*ty0 .. 2*ty1 (clipped to oh) of image
        // `img`, every channel and column: no other block touches them, and the buffer holds
        // `n * c_out * oh * ow` floats.
        let out_img = unsafe { dst.get().add(img * c_out * oh * ow) };
        let data = Operands { x: xi, u, bias };
        block(simd, data, op, g, ty0..ty1, out_img);
    });
    // SAFETY: the blocks together wrote every output row of every image and channel.
    unsafe { out.set_len(len) };
    Ok((CpuStorage::F32(out), Shape::from((n, c_out, oh, ow))))
}

#[derive(Clone, Copy)]
struct Geom {
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    oh: usize,
    ow: usize,
    tw: usize,
}

/// The transformed weight as the 16 products need it.
#[derive(Clone, Copy)]
enum Transformed<'a> {
    /// f32 `[16][c_in][c_out]`, multiplied by `gemm`.
    F32(&'a [f32]),
    /// The 16 `c_out x c_in` matrices `U[e]` packed in bf16, multiplied by the bf16 kernel.
    Bf16(&'a [PackedA], Bf16Kernel),
}

/// The data a block reads: one image's input `[c_in, h, w]`, the transformed weight and the bias
/// `[c_out]`.
#[derive(Clone, Copy)]
struct Operands<'a> {
    x: &'a [f32],
    u: Transformed<'a>,
    bias: &'a [f32],
}

thread_local! {
    /// Per-thread scratch: padded rows, transformed input V and products M.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Tile rows `tile_rows` of one image, written to that image's output `out` `[c_out, oh, ow]`,
/// by the copy of [`block_body`] compiled for `simd`.
fn block(
    simd: Simd,
    data: Operands,
    op: &WinogradOp,
    g: Geom,
    tile_rows: Range<usize>,
    out: *mut f32,
) {
    on_simd!(
        simd,
        block_body(
            data: Operands,
            op: &WinogradOp,
            g: Geom,
            tile_rows: Range<usize>,
            out: *mut f32,
        )
    )
}

/// The body of [`block`]: element-wise adds and subtractions over runs of tiles, which the
/// compiler vectorises at the width of the enabled target features (no fused multiply-adds:
/// every variant computes the same bits).
#[inline(always)]
fn block_body(data: Operands, op: &WinogradOp, g: Geom, tile_rows: Range<usize>, out: *mut f32) {
    let Operands { x, u, bias } = data;
    let Range {
        start: ty0,
        end: ty1,
    } = tile_rows;
    let Geom {
        c_in,
        h,
        w,
        c_out,
        oh,
        ow,
        tw,
    } = g;
    let [pt, _, pl, _] = op.pad;
    let tiles = (ty1 - ty0) * tw;
    // Padded patch rows 2*ty0 .. 2*ty1 + 2, columns 0 .. 2*tw + 2 (zeros outside the image).
    let (prow, pcol) = (2 * (ty1 - ty0) + 2, 2 * tw + 2);
    let mut scratch = SCRATCH.take();
    let small = 2 * (tw + 1) + 16 * tw;
    // Grown, never cleared: the patch is zeroed per channel below, and every element of the
    // rest is written before it is read (V by the input transform, M by the products).
    let need = prow * pcol + small + 16 * tiles * (c_in + c_out);
    if scratch.len() < need {
        scratch.resize(need, 0.0);
    }
    let (patch, rest) = scratch.split_at_mut(prow * pcol);
    let (small, rest) = rest.split_at_mut(small);
    let (eo, db) = small.split_at_mut(2 * (tw + 1));
    let (v, m) = rest.split_at_mut(16 * tiles * c_in);
    for ci in 0..c_in {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        patch.fill(0.0);
        for r in 0..prow {
            let Some(iy) = (2 * ty0 + r).checked_sub(pt).filter(|&iy| iy < h) else {
                continue;
            };
            // Patch column c holds input column c - pl.
            let c_lo = pl.min(pcol);
            let c_hi = (pl + w).min(pcol);
            if c_lo < c_hi {
                patch[r * pcol + c_lo..r * pcol + c_hi]
                    .copy_from_slice(&plane[iy * w + c_lo - pl..iy * w + c_hi - pl]);
            }
        }
        for tr in 0..ty1 - ty0 {
            // Even and odd columns of the tile row's four patch rows: tile tx reads
            // (even[tx], odd[tx], even[tx + 1], odd[tx + 1]) of each row, so every step below is
            // an element-wise operation over contiguous runs of tiles (vectorised).
            for i in 0..4 {
                let row = &patch[(2 * tr + i) * pcol..(2 * tr + i + 1) * pcol];
                let (even, odd) = eo.split_at_mut(tw + 1);
                for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
                let (e0, e1, o0, o1) = (&even[..tw], &even[1..], &odd[..tw], &odd[1..]);
                let (d0, rest) = db[i * 4 * tw..(i + 1) * 4 * tw].split_at_mut(tw);
                let (d1, rest) = rest.split_at_mut(tw);
                let (d2, d3) = rest.split_at_mut(tw);
                let ins = e0.iter().zip(e1).zip(o0.iter().zip(o1));
                let outs = d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut().zip(d3));
                for (((d0, d1), (d2, d3)), ((&e0, &e1), (&o0, &o1))) in outs.zip(ins) {
                    *d0 = e0 - e1;
                    *d1 = o0 + e1;
                    *d2 = e1 - o0;
                    *d3 = o0 - o1;
                }
            }
            for j in 0..4 {
                let row = |i: usize| &db[(i * 4 + j) * tw..(i * 4 + j + 1) * tw];
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let at = |i: usize| ((i * 4 + j) * c_in + ci) * tiles + tr * tw;
                // Iterators rather than indices: with bounds checks in the loop the compiler
                // left these four loops scalar.
                let mut set = |i: usize, a: &[f32], b: &[f32], sign: f32| {
                    let dst = &mut v[at(i)..at(i) + tw];
                    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                        *d = a + sign * b;
                    }
                };
                set(0, r0, r2, -1.0);
                set(1, r1, r2, 1.0);
                set(2, r2, r1, -1.0);
                set(3, r1, r3, -1.0);
            }
        }
    }
    let u = match u {
        Transformed::F32(u) => u,
        Transformed::Bf16(packed, kernel) => {
            for (e, pe) in packed.iter().enumerate() {
                let src = BSource {
                    ptr: v[e * c_in * tiles..].as_ptr(),
                    rs: tiles,
                    n: tiles,
                };
                let dest = Dest {
                    ptr: OutPtr(m[e * c_out * tiles..].as_mut_ptr()),
                    ldc: tiles,
                    bias: None,
                    act: Activation::None,
                };
                // SAFETY: V[e] (`c_in x tiles`) and M[e] (`c_out x tiles`) lie inside `v` and
                // `m`, which do not alias.
                unsafe { bf16::gemm(pe, src, dest, kernel, 1) };
            }
            &[][..]
        }
    };
    for e in 0..16 {
        if u.is_empty() {
            break;
        }
        // SAFETY: U[e] is `c_out x c_in` column-major (rows stride 1, columns stride c_out)
        // inside `u`; V[e] is `c_in x tiles` row-major inside `v`; M[e] is `c_out x tiles`
        // row-major inside `m`, which aliases neither.
        unsafe {
            gemm::gemm(
                c_out,
                tiles,
                c_in,
                m.as_mut_ptr().add(e * c_out * tiles),
                1,
                tiles as isize,
                false,
                u.as_ptr().add(e * c_in * c_out),
                c_out as isize,
                1,
                v.as_ptr().add(e * c_in * tiles),
                1,
                tiles as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
    // Aᵀ M A per tile row, over contiguous runs of tiles: rows of M combined into `am`
    // (2 x 4 runs), then its columns into the 2x2 outputs, interleaved into the output rows.
    let am = &mut db[..8 * tw];
    for (co, &b) in bias.iter().enumerate() {
        for tr in 0..ty1 - ty0 {
            let run = |e: usize| {
                let at = (e * c_out + co) * tiles + tr * tw;
                &m[at..at + tw]
            };
            for j in 0..4 {
                let (m0, m1, m2, m3) = (run(j), run(4 + j), run(8 + j), run(12 + j));
                let (top, bottom) = am.split_at_mut(4 * tw);
                let a0 = &mut top[j * tw..(j + 1) * tw];
                let a1 = &mut bottom[j * tw..(j + 1) * tw];
                let ms = m0.iter().zip(m1).zip(m2.iter().zip(m3));
                for ((a0, a1), ((&m0, &m1), (&m2, &m3))) in a0.iter_mut().zip(a1).zip(ms) {
                    *a0 = m0 + m1 + m2;
                    *a1 = m1 - m2 - m3;
                }
            }
            for dy in 0..2 {
                let oy = 2 * (ty0 + tr) + dy;
                if oy >= oh {
                    continue;
                }
                let a = |j: usize| &am[(dy * 4 + j) * tw..(dy * 4 + j + 1) * tw];
                let (c0, c1, c2, c3) = (a(0), a(1), a(2), a(3));
                // SAFETY: row (co, oy) lies inside this image's output and in this block's rows.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(out.add((co * oh + oy) * ow), ow) };
                match op.act {
                    Activation::None => output_row(dst, (c0, c1, c2, c3), b, |v| v),
                    Activation::Relu => output_row(dst, (c0, c1, c2, c3), b, |v| v.max(0.0)),
                    Activation::Relu6 => {
                        output_row(dst, (c0, c1, c2, c3), b, |v| v.clamp(0.0, 6.0))
                    }
                }
            }
        }
    }
    SCRATCH.set(scratch);
}

/// One output row from the column sums `c0..c3` of a tile row's `Aᵀ M` (one run of tiles
/// each): `dst[2x] = act(c0 + c1 + c2 + b)`, `dst[2x + 1] = act(c1 - c2 - c3 + b)` at tile `x`,
/// the last column dropped when the row is odd. The activation is a type parameter so that
/// the loop holds no branch and vectorises, interleaving included.
#[inline(always)]
fn output_row(
    dst: &mut [f32],
    (c0, c1, c2, c3): (&[f32], &[f32], &[f32], &[f32]),
    b: f32,
    act: impl Fn(f32) -> f32,
) {
    let ow = dst.len();
    let full = ow / 2;
    let (pairs, tail) = dst.split_at_mut(2 * full);
    let runs = c0.iter().zip(c1).zip(c2.iter().zip(c3));
    for (pair, ((&v0, &v1), (&v2, &v3))) in pairs.chunks_exact_mut(2).zip(runs) {
        pair[0] = act(v0 + v1 + v2 + b);
        pair[1] = act(v1 - v2 - v3 + b);
    }
    if let Some(last) = tail.first_mut() {
        *last = act(c0[full] + c1[full] + c2[full] + b);
    }
}

/// The bf16 Winograd convolution: the 16 transformed matrices packed at load time.
struct WinogradBf16Op {
    op: WinogradOp,
    packed: Arc<Vec<PackedA>>,
    kernel: Bf16Kernel,
}

impl candle_core::CustomOp2 for WinogradBf16Op {
    fn name(&self) -> &'static str {
        "mias-winograd3x3-bf16"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c_in, h, w) = l1.shape().dims4()?;
        let c_out = self.packed.first().map_or(0, PackedA::rows);
        let agree = self.packed.len() == 16
            && self
                .packed
                .iter()
                .all(|p| p.cols() == c_in && p.rows() == c_out)
            && l2.shape().dims1()? == c_out;
        if !agree {
            candle_core::bail!(
                "winograd (bf16): input {:?}, transformed weight ({} matrices of {c_out}x{}) and bias {:?} do not agree",
                l1.shape(),
                self.packed.len(),
                self.packed.first().map_or(0, PackedA::cols),
                l2.shape()
            );
        }
        let x = contiguous("winograd", s1, l1, "input")?;
        let bias = contiguous("winograd", s2, l2, "bias")?;
        let u = Transformed::Bf16(&self.packed, self.kernel);
        run(x, (n, c_in, h, w), c_out, u, bias, &self.op)
    }
}

/// The transformed weight `[16][c_in][c_out]` of [`transform_weights`] as 16 bf16 matrices
/// `U[e]` (`c_out x c_in`): `G g Gᵀ` is computed in f32 and rounded to bf16 once.
pub fn pack_transformed_bf16(u: &Tensor) -> candle_core::Result<Arc<Vec<PackedA>>> {
    let (sixteen, c_in, c_out) = u.dims3()?;
    if sixteen != 16 {
        candle_core::bail!(
            "winograd: transformed weight {:?} is not [16, c_in, c_out]",
            u.dims()
        );
    }
    let u = u
        .to_device(&candle_core::Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    Ok(Arc::new(
        (0..16)
            .map(|e| PackedA::pack(&u[e * c_in * c_out..], c_out, c_in, 1, c_out))
            .collect(),
    ))
}

/// [`winograd_conv3x3`] in bf16: `packed` from [`pack_transformed_bf16`], the 16 products on
/// `kernel`; the transforms stay f32.
pub fn winograd_conv3x3_bf16(
    x: &Tensor,
    packed: &Arc<Vec<PackedA>>,
    kernel: Bf16Kernel,
    bias: &Tensor,
    pad: [usize; 4],
    act: Activation,
) -> candle_core::Result<Tensor> {
    let op = WinogradBf16Op {
        op: WinogradOp {
            pad,
            act,
            simd: Simd::detect(),
        },
        packed: Arc::clone(packed),
        kernel,
    };
    x.contiguous()?.apply_op2_no_bwd(&bias.contiguous()?, &op)
}

/// 3x3 stride-1 convolution of `x` `[N, C, H, W]` with the transformed weight `u`
/// ([`transform_weights`]) and `bias` `[O]`, zero padding `pad`, then `act`. CPU, f32 only.
pub fn winograd_conv3x3(
    x: &Tensor,
    u: &Tensor,
    bias: &Tensor,
    pad: [usize; 4],
    act: Activation,
) -> candle_core::Result<Tensor> {
    winograd_conv3x3_on(x, u, bias, pad, act, Simd::detect())
}

/// [`winograd_conv3x3`] with the transforms compiled for `simd`.
fn winograd_conv3x3_on(
    x: &Tensor,
    u: &Tensor,
    bias: &Tensor,
    pad: [usize; 4],
    act: Activation,
    simd: Simd,
) -> candle_core::Result<Tensor> {
    let op = WinogradOp { pad, act, simd };
    x.contiguous()?
        .apply_op3_no_bwd(&u.contiguous()?, &bias.contiguous()?, &op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::bf16::Bf16Kernel;
    use crate::test_util::{max_abs_diff, random, reference_conv};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The variants this CPU can run.
    fn variants() -> Vec<Simd> {
        let mut all = vec![Simd::Generic];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(Simd::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                all.push(Simd::Avx512);
            }
        }
        all
    }

    #[test]
    fn every_compiled_variant_gives_the_same_bits() {
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        // Odd and even output widths (the interleaved tail), every activation, a run of tiles
        // longer than one 512-bit vector and one shorter.
        let cases = [
            (1, 5, 9, 11, 7, [1, 1, 1, 1], Activation::Relu6),
            (2, 16, 12, 70, 9, [1, 1, 1, 1], Activation::None),
            (1, 3, 10, 37, 4, [0, 1, 1, 0], Activation::Relu),
        ];
        for (n, ci, h, w, co, pad, act) in cases {
            let x = random(&[n, ci, h, w], &mut rng).affine(4.0, 0.0).unwrap();
            let wt = random(&[co, ci, 3, 3], &mut rng);
            let b = random(&[co], &mut rng);
            let u = transform_weights(&wt).unwrap();
            let bits = |simd| {
                let y = winograd_conv3x3_on(&x, &u, &b, pad, act, simd).unwrap();
                let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                v.into_iter().map(f32::to_bits).collect::<Vec<u32>>()
            };
            let generic = bits(Simd::Generic);
            for simd in variants() {
                let got = bits(simd);
                let differ = got.iter().zip(&generic).filter(|(a, b)| a != b).count();
                assert_eq!(
                    differ, 0,
                    "{simd:?} {n} {ci} {h} {w} {co}: {differ} values differ"
                );
            }
        }
    }

    #[test]
    fn matches_the_direct_convolution() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        // (n, c_in, h, w, c_out, pad): odd and even sides, SAME-style and asymmetric padding,
        // several blocks (large c and many tile rows).
        let cases = [
            (2, 3, 9, 11, 5, [1, 1, 1, 1]),
            (1, 4, 8, 8, 16, [0, 0, 0, 0]),
            (1, 5, 7, 10, 6, [0, 1, 1, 0]),
            (2, 64, 70, 33, 32, [1, 1, 1, 1]),
        ];
        for (n, ci, h, w, co, pad) in cases {
            let x = random(&[n, ci, h, w], &mut rng);
            let wt = random(&[co, ci, 3, 3], &mut rng);
            let b = random(&[co], &mut rng);
            for act in [Activation::None, Activation::Relu] {
                let u = transform_weights(&wt).unwrap();
                let ours = winograd_conv3x3(&x, &u, &b, pad, act).unwrap();
                let theirs = reference_conv(&x, &wt, &b, 1, pad, act, 1);
                assert_eq!(ours.dims(), theirs.dims(), "{n} {ci} {h} {w} {co} {pad:?}");
                let scale = theirs
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = max_abs_diff(&ours, &theirs) / scale;
                assert!(d < 1e-5, "{n} {ci} {h} {w} {co} {pad:?}: relative diff {d}");
            }
        }
    }

    /// bf16's unit roundoff (8-bit significand, rounding to nearest).
    const U_BF16: f64 = 1.0 / 256.0;

    /// Winograd in bf16 against candle's direct f32 convolution.
    ///
    /// The bound: the bf16 path rounds `U = G g Gᵀ` and `V = Bᵀ d B` (each within a relative
    /// u = 2^-8), so output `y = Σ_ci Σ_ij A_i,dy A_j,dx U_ij V_ij` is off by at most
    /// (2u + u²) Σ_ci Σ_ij |A_i,dy||A_j,dx||U_ij||V_ij|. With |U_ij| <= Σ_ab |G_ia||G_jb||g_ab| and
    /// |V_ij| <= Σ_pq |B_pi||B_qj||d_pq| that is at most (2u + u²) Σ_ci Σ_pq K_dy,dx[p, q] |d_pq|
    /// with the 4x4 kernel K_dy,dx = W_dyᵀ |g| W_dx, W_dy[a][p] = Σ_i |A_i,dy||G_ia||B_pi|: the
    /// stride-2 convolution of |x| with K, computed here by candle from the textbook matrices
    /// (Lavin & Gray), independently of the kernel's code. f32 rounding in the transforms and
    /// the c_in-term sums adds a few 2^-24 of the same magnitude.
    #[test]
    fn bf16_matches_the_direct_convolution_within_the_rounding_bound() {
        use candle_core::{DType, Device};
        let dev = Device::Cpu;
        // W_dy[a][p] from A = [[1,0],[1,1],[1,-1],[0,-1]], G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],
        // [0,0,1]], Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].
        let a = [[1f32, 0.], [1., 1.], [1., -1.], [0., -1.]];
        let g = [
            [1f32, 0., 0.],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0., 0., 1.],
        ];
        let bt = [
            [1f32, 0., -1., 0.],
            [0., 1., 1., 0.],
            [0., -1., 1., 0.],
            [0., 1., 0., -1.],
        ];
        let wmat = |dy: usize| {
            let mut w = vec![0f32; 12];
            for ai in 0..3 {
                for p in 0..4 {
                    w[ai * 4 + p] = (0..4).map(|i| (a[i][dy] * g[i][ai] * bt[i][p]).abs()).sum();
                }
            }
            Tensor::from_vec(w, (3, 4), &dev).unwrap()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(29);
        for (n, ci, h, w, co, pad) in [
            (1, 16, 9, 11, 20, [1, 1, 1, 1]),
            (2, 40, 14, 14, 24, [1, 1, 1, 1]),
            (1, 32, 8, 7, 13, [0, 1, 1, 0]),
        ] {
            let x = random(&[n, ci, h, w], &mut rng);
            let wt = random(&[co, ci, 3, 3], &mut rng);
            let b = random(&[co], &mut rng);
            let exact = reference_conv(&x, &wt, &b, 1, pad, Activation::Relu, 1);
            let (oh, ow) = (exact.dim(2).unwrap(), exact.dim(3).unwrap());
            let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
            // |x| padded to exactly 2 * tiles + 2 rows and columns.
            let xa = x
                .abs()
                .unwrap()
                .pad_with_zeros(2, pad[0], 2 * th + 2 - h - pad[0])
                .unwrap()
                .pad_with_zeros(3, pad[2], 2 * tw + 2 - w - pad[2])
                .unwrap();
            let ga = wt.abs().unwrap();
            let mut mag = vec![0f32; n * co * 2 * th * 2 * tw];
            for dy in 0..2 {
                for dx in 0..2 {
                    let k = wmat(dy)
                        .t()
                        .unwrap()
                        .broadcast_matmul(&ga)
                        .unwrap()
                        .broadcast_matmul(&wmat(dx))
                        .unwrap();
                    let m = xa.conv2d(&k.contiguous().unwrap(), 0, 2, 1, 1).unwrap();
                    let m = m.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    for (idx, v) in m.into_iter().enumerate() {
                        let (img_c, rest) = (idx / (th * tw), idx % (th * tw));
                        let (ty, tx) = (rest / tw, rest % tw);
                        let (oy, ox) = (2 * ty + dy, 2 * tx + dx);
                        mag[(img_c * 2 * th + oy) * 2 * tw + ox] = v;
                    }
                }
            }
            let u = transform_weights(&wt).unwrap();
            let packed = pack_transformed_bf16(&u).unwrap();
            let e = exact.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for kernel in Bf16Kernel::ALL.into_iter().filter(|k| k.is_available()) {
                let ours =
                    winograd_conv3x3_bf16(&x, &packed, kernel, &b, pad, Activation::Relu).unwrap();
                assert_eq!(ours.dims(), exact.dims());
                assert_eq!(ours.dtype(), DType::F32);
                let o = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let mut worst = 0f64;
                for (i, (&o, &e)) in o.iter().zip(&e).enumerate() {
                    let (img_c, rest) = (i / (oh * ow), i % (oh * ow));
                    let (oy, ox) = (rest / ow, rest % ow);
                    let m = f64::from(mag[(img_c * 2 * th + oy) * 2 * tw + ox]) + 1.0;
                    let eps = 2.0 * U_BF16 + U_BF16 * U_BF16 + 64.0 * ci as f64 * 2f64.powi(-24);
                    let d = f64::from((o - e).abs());
                    assert!(
                        d <= eps * m,
                        "{kernel} {n} {ci} {h} {w} {co}: |{o} - {e}| > {}",
                        eps * m
                    );
                    worst = worst.max(d / (2.0 * U_BF16 * m));
                }
                eprintln!("{kernel} winograd {ci}->{co}: worst error {worst:.3} of the 2u bound");
            }
        }
    }

    #[test]
    fn rejects_mismatched_weight() {
        let x = Tensor::zeros(
            (1, 4, 6, 6),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let u = Tensor::zeros(
            (16, 3, 2),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let b = Tensor::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        let err = winograd_conv3x3(&x, &u, &b, [1; 4], Activation::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not agree"), "{err}");
    }
}
