//! The vectorised loop over one plane shared by the depthwise convolution ([`super::depthwise`])
//! and the pools ([`super::pool`]): a weighted sum (or the maximum) of a `kh x kw` window at
//! stride `s`, computed as a 1-D sum of shifted contiguous runs of the input's `s * s` phase
//! planes, compiled for AVX-512, for AVX2+FMA and portably, and picked at run time.

use std::mem::MaybeUninit;

use super::{Activation, Simd};

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
    /// [`Simd::detect`]'s width; the AVX2 variant also needs FMA.
    pub(crate) fn detect() -> Self {
        match Simd::detect() {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => PlaneKernel::Avx512,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 if std::arch::is_x86_feature_detected!("fma") => PlaneKernel::Avx2,
            _ => PlaneKernel::Generic,
        }
    }

    /// Computes one output plane `dst` `[oh, ow]` from the input plane `src` `[h, w]` and the
    /// window weights `k` `[kh, kw]` (see [`plane_forward`]), setting every element of `dst`.
    pub(crate) fn run(
        self,
        src: &[f32],
        k: &[f32],
        op: &PlaneOp,
        g: PlaneGeometry,
        dst: &mut [MaybeUninit<f32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, PlaneKernel::Avx512) && rows_fit(op, g) {
            // SAFETY: the variant was chosen after the CPU reported AVX-512F; `rows_fit` holds.
            return unsafe { rows_avx512(src, k, op, g, dst) };
        }
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
    dst: &mut [MaybeUninit<f32>],
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
    dst: &mut [MaybeUninit<f32>],
    scratch: &mut Vec<f32>,
) {
    plane_forward::<true, false>(src, k, op, g, dst, scratch)
}

/// One tap of both AVX-512 loops: `a + v * k` in one fused multiply-add, or `max(a, v)`. The
/// two loops give the same bits because they apply this, tap after tap, in the same order.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn step<const MAX: bool>(
    v: std::arch::x86_64::__m512,
    k: std::arch::x86_64::__m512,
    a: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_max_ps};
    if MAX {
        _mm512_max_ps(a, v)
    } else {
        _mm512_fmadd_ps(v, k, a)
    }
}

/// Output rows computed together by [`rows_avx512`]: four independent chains of multiply-adds.
const ROWS: usize = 4;

/// Input planes up to this wide go through [`rows_avx512`]; wider ones through the phase
/// planes (minima of MobileNetV2's depthwise layers at batch 1, two threads: the row loop
/// 30-45% faster at 7, 14 and 28 columns, 0-25% at 56, level at 112 with stride 1 and 25%
/// slower with stride 2, where its permutes cost more than the phase copies save).
const ROWS_MAX_WIDTH: usize = 64;

/// Whether [`rows_avx512`] computes this plane: strides 1 and 2, windows up to 16 wide, input
/// planes up to [`ROWS_MAX_WIDTH`] wide.
fn rows_fit(op: &PlaneOp, g: PlaneGeometry) -> bool {
    (op.stride == 1 || op.stride == 2) && g.kw <= 16 && g.w <= ROWS_MAX_WIDTH
}

/// The plane at stride 1 or 2 read straight from the input, without phase planes or scratch.
/// A run of 16 output columns of [`ROWS`] output rows at a time: the input rows they read are
/// walked in order, each tap column of a row loaded once (a masked 16-float load at the tap's
/// column offset; at stride 2 two loads and a permute that keeps the even columns; lanes
/// outside the image, and whole rows outside it, read `op.fill`) and multiplied into (or
/// maxed with) the accumulator of every output row of the block that the row reaches. Each
/// output still receives `init` and then its taps in row-major window order, the phase-plane
/// loop's operations in its order, so the same bits. On 7 x 7 to 28 x 28 planes (MobileNetV2's
/// later blocks) the phase copies and the per-plane setup cost more than the arithmetic.
///
/// # Safety
/// The CPU must have AVX-512F; `rows_fit(op, g)`; `src` holds `h * w` floats, `k` `kh * kw`,
/// `dst` `oh * ow`, and `(oh, ow)` is the output of the padded plane at `op.stride`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_avx512(
    src: &[f32],
    k: &[f32],
    op: &PlaneOp,
    g: PlaneGeometry,
    dst: &mut [MaybeUninit<f32>],
) {
    use std::arch::x86_64::{__mmask16, _mm512_mask_loadu_ps, _mm512_set1_ps};
    /// `K` > 0: a `K x K` window known at compile time (unrolled); 0: `g`'s. `S`: the stride
    /// (1 or 2).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn run<const MAX: bool, const K: usize, const S: usize>(
        src: &[f32],
        k: &[f32],
        op: &PlaneOp,
        g: PlaneGeometry,
        dst: &mut [MaybeUninit<f32>],
    ) {
        use std::arch::x86_64::{
            _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_permutex2var_ps, _mm512_set_epi32,
            _mm512_storeu_ps,
        };
        const { assert!(S == 1 || S == 2, "strides 1 and 2") };
        let PlaneGeometry { h, w, oh, ow, .. } = g;
        let (kh, kw) = if K > 0 { (K, K) } else { (g.kh, g.kw) };
        let [pt, _, pl, _] = op.pad;
        assert!(
            src.len() >= h * w && k.len() >= kh * kw && dst.len() >= oh * ow,
            "plane sizes"
        );
        let fill = _mm512_set1_ps(op.fill);
        let init = _mm512_set1_ps(op.init);
        // Lanes 0, 2, .., 30 of two vectors: the even columns of a run of 32.
        let even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        // Per tap column, which of the 16 * S input columns read from `c0 * S + kx - pl` on
        // lie inside the row (bit i: column c0 * S + kx - pl + i).
        let mut masks = [0u32; 16];
        let mut out = [0f32; 16];
        for c0 in (0..ow).step_by(16) {
            let lanes = (ow - c0).min(16);
            let store: __mmask16 = if lanes == 16 { !0 } else { (1 << lanes) - 1 };
            let upto = |n: usize| if n >= 32 { !0 } else { (1u32 << n) - 1 };
            for (kx, m) in masks[..kw].iter_mut().enumerate() {
                let first = c0 * S + kx;
                let lo = pl.saturating_sub(first).min(32);
                let hi = (w + pl).saturating_sub(first).min(32);
                *m = upto(hi) & !upto(lo) & upto(S * lanes);
            }
            for oy0 in (0..oh).step_by(ROWS) {
                let mut acc = [init; ROWS];
                // Input rows in order, each tap column loaded once and given to every output
                // row of the block it reaches (row r meets input row j = r * S + ky): for each
                // output row the taps still come in row-major window order.
                for j in 0..(ROWS - 1) * S + kh {
                    let iy = (oy0 * S + j).checked_sub(pt).filter(|&iy| iy < h);
                    for kx in 0..kw {
                        let m = masks[kx];
                        let v = match iy {
                            // SAFETY: the masks enable only lanes whose column lies in 0..w of
                            // row iy < h, so every enabled lane reads inside `src`; disabled
                            // lanes read nothing (AVX-512 masked loads suppress their faults)
                            // and keep `fill`.
                            Some(iy) => unsafe {
                                let p = src.as_ptr().add(iy * w).wrapping_add(c0 * S + kx);
                                let p = p.wrapping_sub(pl);
                                let lo = _mm512_mask_loadu_ps(fill, m as __mmask16, p);
                                if S == 1 {
                                    lo
                                } else {
                                    let hi = _mm512_mask_loadu_ps(
                                        fill,
                                        (m >> 16) as __mmask16,
                                        p.wrapping_add(16),
                                    );
                                    _mm512_permutex2var_ps(lo, even, hi)
                                }
                            },
                            None => fill,
                        };
                        for ky in 0..kh {
                            if j < ky || (j - ky) % S != 0 || (j - ky) / S >= ROWS {
                                continue;
                            }
                            let kv = _mm512_set1_ps(k[ky * kw + kx]);
                            let a = &mut acc[(j - ky) / S];
                            *a = step::<MAX>(v, kv, *a);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate().take(oh - oy0) {
                    // SAFETY: `out` holds 16 floats; the store mask enables the `lanes` outputs
                    // of row oy0 + r < oh, which lie inside `dst`.
                    unsafe {
                        _mm512_storeu_ps(out.as_mut_ptr(), *a);
                        finish(op.act, &mut out);
                        let at = dst.as_mut_ptr().add((oy0 + r) * ow + c0).cast::<f32>();
                        _mm512_mask_storeu_ps(at, store, _mm512_loadu_ps(out.as_ptr()));
                    }
                }
            }
        }
    }
    match (op.max, g.kh == 3 && g.kw == 3, op.stride) {
        (true, true, 1) => run::<true, 3, 1>(src, k, op, g, dst),
        (true, false, 1) => run::<true, 0, 1>(src, k, op, g, dst),
        (false, true, 1) => run::<false, 3, 1>(src, k, op, g, dst),
        (false, false, 1) => run::<false, 0, 1>(src, k, op, g, dst),
        (true, true, _) => run::<true, 3, 2>(src, k, op, g, dst),
        (true, false, _) => run::<true, 0, 2>(src, k, op, g, dst),
        (false, true, _) => run::<false, 3, 2>(src, k, op, g, dst),
        (false, false, _) => run::<false, 0, 2>(src, k, op, g, dst),
    }
}

/// The activation of 16 outputs in place, in the same scalar expressions as [`finish_row`]
/// (vectorised here, element by element there: the same per-lane operations).
#[inline(always)]
fn finish(act: Activation, v: &mut [f32; 16]) {
    match act {
        Activation::None => {}
        Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Activation::Relu6 => v.iter_mut().for_each(|x| *x = x.clamp(0.0, 6.0)),
    }
}

/// Applies the activation to a run of outputs of the phase-plane loop and writes them.
#[inline(always)]
fn finish_row(act: Activation, from: &[f32], to: &mut [MaybeUninit<f32>]) {
    match act {
        Activation::None => to.iter_mut().zip(from).for_each(|(d, &v)| {
            d.write(v);
        }),
        Activation::Relu => to.iter_mut().zip(from).for_each(|(d, &v)| {
            d.write(v.max(0.0));
        }),
        Activation::Relu6 => to.iter_mut().zip(from).for_each(|(d, &v)| {
            d.write(v.clamp(0.0, 6.0));
        }),
    }
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
    use std::arch::x86_64::{_mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
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
    dst: &mut [MaybeUninit<f32>],
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
    // Grown, never cleared: every phase cell and the slack are written below, and the tap loop
    // writes all of `full`.
    if scratch.len() < phases_len + flat_chunks {
        scratch.resize(phases_len + flat_chunks, op.fill);
    }
    let (phases, rest) = scratch.split_at_mut(phases_len);
    let full = &mut rest[..flat_chunks];
    phases[s * s * phase_len..].fill(op.fill);
    // Padded columns x with 0 <= x - pl < w.
    let (x_lo, x_hi) = (pl.min(pw), (pl + w).min(pw));
    for y in 0..qh * s {
        let src_row = y
            .checked_sub(pt)
            .filter(|&iy| y < ph && iy < h && x_lo < x_hi)
            .map(|iy| &src[iy * w..(iy + 1) * w]);
        // Row y / s of phase (y % s, px) holds the padded cells (y, j * s + px).
        let row_at = |px: usize| ((y % s) * s + px) * phase_len + (y / s) * qw;
        match (s, src_row) {
            (_, None) => {
                for px in 0..s {
                    phases[row_at(px)..row_at(px) + qw].fill(op.fill);
                }
            }
            (1, Some(src_row)) => {
                let row = &mut phases[row_at(0)..row_at(0) + qw];
                row[..x_lo].fill(op.fill);
                row[x_lo..x_hi].copy_from_slice(&src_row[x_lo - pl..x_hi - pl]);
                row[x_hi..].fill(op.fill);
            }
            (2, Some(src_row)) => {
                let (even, odd) = phases[row_at(0)..].split_at_mut(phase_len);
                split_pairs(
                    src_row,
                    pl,
                    x_lo,
                    x_hi,
                    op.fill,
                    &mut even[..qw],
                    &mut odd[..qw],
                );
            }
            (_, Some(src_row)) => {
                for px in 0..s {
                    let j_lo = x_lo.saturating_sub(px).div_ceil(s);
                    let j_hi = x_hi.saturating_sub(px).div_ceil(s).max(j_lo);
                    let row = &mut phases[row_at(px)..row_at(px) + qw];
                    row[..j_lo].fill(op.fill);
                    for (j, d) in row[j_lo..j_hi].iter_mut().enumerate() {
                        *d = src_row[(j_lo + j) * s + px - pl];
                    }
                    row[j_hi..].fill(op.fill);
                }
            }
        }
    }
    // The window's taps (offset into `phases`, weight); on the stack for windows up to 8x8.
    let mut on_stack = [(0usize, 0f32); 64];
    let heap: Vec<(usize, f32)>;
    let tap = |ky: usize, kx: usize| {
        let phase = (ky % s) * s + kx % s;
        (phase * phase_len + (ky / s) * qw + kx / s, k[ky * kw + kx])
    };
    let taps: &[(usize, f32)] = if kh * kw <= on_stack.len() {
        for ky in 0..kh {
            for kx in 0..kw {
                on_stack[ky * kw + kx] = tap(ky, kx);
            }
        }
        &on_stack[..kh * kw]
    } else {
        heap = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| tap(ky, kx))
            .collect();
        &heap
    };
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
                taps_avx512::<true>(phases, taps, op.init, full)
            } else {
                taps_avx512::<false>(phases, taps, op.init, full)
            }
        }
    } else if op.max {
        taps_portable::<FMA, true>(phases, taps, op.init, full);
    } else {
        taps_portable::<FMA, false>(phases, taps, op.init, full);
    }
    #[cfg(not(target_arch = "x86_64"))]
    if op.max {
        taps_portable::<FMA, true>(phases, taps, op.init, full);
    } else {
        taps_portable::<FMA, false>(phases, taps, op.init, full);
    }
    for oy in 0..oh {
        finish_row(
            op.act,
            &full[oy * qw..oy * qw + ow],
            &mut dst[oy * ow..(oy + 1) * ow],
        );
    }
}

/// Splits the padded columns `x_lo..x_hi` of one input row (`src_row[x - pl]`) into the rows of
/// the two stride-2 phases, `even[x / 2]` for even `x` and `odd[x / 2]` for odd `x`, every other
/// cell of both rows set to `fill`. The body reads the row in pairs, which the compiler turns
/// into vector deinterleaves.
#[inline(always)]
fn split_pairs(
    src_row: &[f32],
    pl: usize,
    x_lo: usize,
    x_hi: usize,
    fill: f32,
    even: &mut [f32],
    odd: &mut [f32],
) {
    even.fill(fill);
    odd.fill(fill);
    let mut x = x_lo;
    if x % 2 == 1 && x < x_hi {
        odd[x / 2] = src_row[x - pl];
        x += 1;
    }
    let pairs = (x_hi - x) / 2;
    let j0 = x / 2;
    let from = &src_row[x - pl..x - pl + 2 * pairs];
    for ((e, o), pair) in even[j0..j0 + pairs]
        .iter_mut()
        .zip(&mut odd[j0..j0 + pairs])
        .zip(from.chunks_exact(2))
    {
        *e = pair[0];
        *o = pair[1];
    }
    x += 2 * pairs;
    if x < x_hi {
        even[x / 2] = src_row[x - pl];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The row loop gives the phase-plane loop's bits on every plane it takes: widths below,
    /// at and past one and two runs of 16, windows 1 to 7 (3 x 3 unrolled), every padding side,
    /// strides 1 and 2, sums and maxima, every activation.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn rows_give_the_phase_loop_bits() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            // The row loop exists only for AVX-512: without it, it must never be chosen (the
            // other variants are compared with the reference in `depthwise`'s tests).
            assert!(!matches!(PlaneKernel::detect(), PlaneKernel::Avx512));
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut planes = 0;
        for w in [1, 2, 7, 14, 15, 16, 17, 19, 28, 31, 32, 33, 56, 64] {
            for (kh, kw) in [(3, 3), (1, 1), (5, 5), (7, 7), (3, 1), (1, 7)] {
                for stride in [1, 2] {
                    let h = w.max(kh) + rng.random_range(0..3);
                    let pad = [
                        rng.random_range(0..kh),
                        rng.random_range(0..kh),
                        rng.random_range(0..kw),
                        rng.random_range(0..kw),
                    ];
                    let (ph, pw) = (h + pad[0] + pad[1], w + pad[2] + pad[3]);
                    if ph < kh || pw < kw {
                        continue;
                    }
                    let (oh, ow) = ((ph - kh) / stride + 1, (pw - kw) / stride + 1);
                    let g = PlaneGeometry {
                        h,
                        w,
                        kh,
                        kw,
                        oh,
                        ow,
                    };
                    let src: Vec<f32> = (0..h * w).map(|_| rng.random_range(-4.0..8.0)).collect();
                    let k: Vec<f32> = (0..kh * kw).map(|_| rng.random_range(-1.0..1.0)).collect();
                    for (max, act) in [
                        (false, Activation::None),
                        (false, Activation::Relu),
                        (false, Activation::Relu6),
                        (true, Activation::None),
                    ] {
                        let op = PlaneOp {
                            stride,
                            pad,
                            act,
                            fill: if max { f32::NEG_INFINITY } else { 0.0 },
                            init: if max { f32::NEG_INFINITY } else { 0.25 },
                            max,
                        };
                        assert!(rows_fit(&op, g));
                        let mut rows = vec![MaybeUninit::new(f32::NAN); oh * ow];
                        let mut phases = vec![MaybeUninit::new(f32::NAN); oh * ow];
                        let mut scratch = Vec::new();
                        // SAFETY: the CPU has AVX-512F (checked above); sizes as built.
                        unsafe {
                            rows_avx512(&src, &k, &op, g, &mut rows);
                            plane_avx512(&src, &k, &op, g, &mut phases, &mut scratch);
                        }
                        // SAFETY: both were initialised (NaN) before the runs.
                        let bits = |v: &[MaybeUninit<f32>]| -> Vec<u32> {
                            v.iter()
                                .map(|m| unsafe { m.assume_init() }.to_bits())
                                .collect()
                        };
                        assert_eq!(
                            bits(&rows),
                            bits(&phases),
                            "w {w} h {h} k {kh}x{kw} stride {stride} pad {pad:?} max {max} {act:?}"
                        );
                        planes += 1;
                    }
                }
            }
        }
        assert!(planes > 400, "{planes} planes compared");
    }
}
