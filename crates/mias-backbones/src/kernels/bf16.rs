//! The bf16 matrix product of the reduced-precision path: `C = act(A · B + bias)` with `A` the
//! weights (converted to bf16 once, at load time, into [`PackedA`]), `B` f32 activations packed
//! to bf16 on the fly, and f32 accumulation; `C` is f32, written in place with any row stride
//! (an NCHW output plane, a Winograd product).
//!
//! Written by hand: the `gemm` crate has no bf16 × bf16 → f32 product, and `tract-linalg`'s bf16
//! kernel is AMX-only (`TDPBF16PS`), which this project's machine (AMD EPYC, Zen 4: AVX512-BF16,
//! no AMX) cannot run: on it tract would fall back to f32.
//!
//! Layout: bf16 pairs along `k` (two consecutive `k` of one row or column in one 32-bit word, the
//! lower `k` in the low half), the shape `VDPBF16PS` consumes: one instruction multiplies 16
//! pairs of a `B` row-pair by one broadcast pair of `A` and adds both products into 16 f32
//! lanes. The microkernel computes an `MR x NR` tile (12 output channels x 32 pixels, 24 of the
//! 32 vector registers as accumulators) over `KCP` pairs of `k` at a time, so that the `B`
//! micro-panel (`KCP x NR` words, 16 KiB) stays in L1 while the `MR`-row panels of `A` stream
//! from L2.
//!
//! Kernels ([`Bf16Kernel`]): `avx512bf16` (`VDPBF16PS` through the stable `core::arch`
//! intrinsics) and `emulated` (the same arithmetic in portable Rust: each operand rounded to bf16
//! to nearest even, denormals flushed, both products of a pair added to the f32 accumulator in
//! the instruction's order, so the two agree bit for bit; the fallback on CPUs without
//! AVX512-BF16). AMX (`TDPBF16PS`) would come first where the CPU has it, but it is not built:
//! the machine this was written on has no AMX, and untested code is not shipped; [`amx_usable`]
//! is the runtime gate a kernel would sit behind.

use rayon::prelude::*;

use super::{Activation, OutPtr};

/// Rows of the microkernel tile (output channels).
pub(crate) const MR: usize = 12;
/// Columns of the microkernel tile (pixels): two 16-lane vectors.
pub(crate) const NR: usize = 32;
/// Pairs of `k` per cache block.
const KCP: usize = 128;

/// The implementation of the bf16 product chosen at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bf16Kernel {
    /// `VDPBF16PS` on 512-bit vectors (AVX512-BF16: Intel Cooper Lake and later, AMD Zen 4 and
    /// later).
    Avx512Bf16,
    /// The same arithmetic in portable Rust (any CPU; several times slower).
    Emulated,
}

/// The environment variable that forces a kernel: `avx512bf16`, `emulated` (or `amx`, which this
/// build refuses: it has no AMX kernel).
pub const KERNEL_ENV: &str = "MIAS_BF16_KERNEL";

impl Bf16Kernel {
    /// Every kernel of this build, fastest first.
    pub const ALL: [Bf16Kernel; 2] = [Bf16Kernel::Avx512Bf16, Bf16Kernel::Emulated];

    /// The name `MIAS_BF16_KERNEL` takes.
    pub fn name(self) -> &'static str {
        match self {
            Bf16Kernel::Avx512Bf16 => "avx512bf16",
            Bf16Kernel::Emulated => "emulated",
        }
    }

    /// Whether this CPU (and OS) can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Bf16Kernel::Avx512Bf16 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512bf16")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Bf16Kernel::Avx512Bf16 => false,
            Bf16Kernel::Emulated => true,
        }
    }

    /// The fastest kernel of this build that the CPU runs.
    pub fn best() -> Bf16Kernel {
        Self::ALL
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Bf16Kernel::Emulated)
    }

    /// The kernel `MIAS_BF16_KERNEL` names, or [`Bf16Kernel::best`] when it is unset or empty.
    /// An unknown name, `amx`, or a kernel this CPU cannot run is an error naming the value.
    pub fn select() -> Result<Bf16Kernel, String> {
        Self::select_from(std::env::var(KERNEL_ENV).ok().as_deref())
    }

    /// [`Bf16Kernel::select`] for the value `value` of `MIAS_BF16_KERNEL` (`None`: unset).
    pub fn select_from(value: Option<&str>) -> Result<Bf16Kernel, String> {
        match value {
            Some(v) if !v.trim().is_empty() => {
                let k: Bf16Kernel = v.parse().map_err(|e| format!("{KERNEL_ENV}: {e}"))?;
                if k.is_available() {
                    Ok(k)
                } else {
                    Err(format!(
                        "{KERNEL_ENV}={v}: this CPU cannot run the {k} kernel (it lacks AVX512-BF16)"
                    ))
                }
            }
            _ => Ok(Self::best()),
        }
    }
}

impl std::fmt::Display for Bf16Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Bf16Kernel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "avx512bf16" => Ok(Bf16Kernel::Avx512Bf16),
            "emulated" => Ok(Bf16Kernel::Emulated),
            "amx" => Err(
                "`amx`: this build has no AMX kernel (it was written on a CPU without AMX and \
                 is not shipped untested); use avx512bf16 or emulated"
                    .to_string(),
            ),
            other => Err(format!(
                "unknown bf16 kernel `{other}` (expected avx512bf16 or emulated)"
            )),
        }
    }
}

/// Whether the CPU has AMX-BF16 tiles and Linux grants this process the tile state
/// (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`): the gate an AMX kernel would need.
/// No kernel of this build uses AMX.
pub fn amx_usable() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        // CPUID leaf 7 is read only where the CPU reports it (max leaf >= 7).
        if std::arch::x86_64::__cpuid(0).eax < 7 {
            return false;
        }
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        let (amx_bf16, amx_tile) = (leaf7.edx >> 22 & 1 == 1, leaf7.edx >> 24 & 1 == 1);
        if !(amx_bf16 && amx_tile) {
            return false;
        }
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: arch_prctl with ARCH_REQ_XCOMP_PERM only asks for a permission; it touches no
        // memory of this process.
        let r = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            )
        };
        r == 0
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    false
}

/// `x` rounded to bf16 (nearest, ties to even) as `VCVTNE2PS2BF16` does: zeros and denormals
/// become a signed zero, NaN stays a (quiet) NaN.
#[inline]
pub(crate) fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if b & 0x7f80_0000 == 0 {
        return (b >> 16) as u16 & 0x8000;
    }
    if x.is_nan() {
        return (b >> 16) as u16 | 0x0040;
    }
    let bias = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(bias) >> 16) as u16
}

/// The f32 value of a bf16, with the denormal inputs that `VDPBF16PS` treats as zero flushed.
#[inline]
fn bf16_to_f32_daz(h: u16) -> f32 {
    if h & 0x7f80 == 0 {
        f32::from_bits(u32::from(h & 0x8000) << 16)
    } else {
        f32::from_bits(u32::from(h) << 16)
    }
}

/// Two bf16 in one word: `lo` (the lower `k`) in bits 0..16.
#[inline]
fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(to_bf16(lo)) | u32::from(to_bf16(hi)) << 16
}

/// An `m x k` matrix in bf16, packed in panels of [`MR`] rows (zero rows pad the last one) with
/// pairs along `k` (a zero pads an odd `k`): word `(panel * kp + p) * MR + r` holds
/// `(a[panel * MR + r][2p], a[…][2p + 1])`.
#[derive(Clone, Debug)]
pub struct PackedA {
    m: usize,
    k: usize,
    kp: usize,
    data: Vec<u32>,
}

impl PackedA {
    /// Packs `a[i][j] = src[i * rs + j * cs]` (`m x k`), rounding each value to bf16.
    pub(crate) fn pack(src: &[f32], m: usize, k: usize, rs: usize, cs: usize) -> Self {
        let kp = k.div_ceil(2);
        let panels = m.div_ceil(MR);
        let mut data = vec![0u32; panels * kp * MR];
        let at = |i: usize, j: usize| {
            if i < m && j < k {
                src[i * rs + j * cs]
            } else {
                0.0
            }
        };
        for panel in 0..panels {
            for p in 0..kp {
                for r in 0..MR {
                    let i = panel * MR + r;
                    data[(panel * kp + p) * MR + r] = pair(at(i, 2 * p), at(i, 2 * p + 1));
                }
            }
        }
        Self { m, k, kp, data }
    }

    /// Packs a row-major `m x k` matrix.
    pub fn from_row_major(src: &[f32], m: usize, k: usize) -> Self {
        assert_eq!(
            src.len(),
            m * k,
            "PackedA::from_row_major: {m} x {k} from {}",
            src.len()
        );
        Self::pack(src, m, k, k, 1)
    }

    /// `c = self · b` for `b` row-major `k x n` and `c` row-major `m x n`, on `kernel`, the
    /// columns split over `split` rayon tasks (1: this thread only). An error when a length does
    /// not match or this CPU cannot run `kernel`.
    pub fn matmul(
        &self,
        b: &[f32],
        n: usize,
        c: &mut [f32],
        kernel: Bf16Kernel,
        split: usize,
    ) -> Result<(), String> {
        let (m, k) = (self.m, self.k);
        if b.len() != k * n || c.len() != m * n {
            return Err(format!(
                "bf16 matmul: {m}x{k} times {} values for {k}x{n}, into {} for {m}x{n}",
                b.len(),
                c.len()
            ));
        }
        if !kernel.is_available() {
            return Err(format!(
                "bf16 matmul: this CPU cannot run the {kernel} kernel"
            ));
        }
        let src = BSource {
            ptr: b.as_ptr(),
            rs: n,
            n,
        };
        let dest = Dest {
            ptr: OutPtr(c.as_mut_ptr()),
            ldc: n,
            bias: None,
            act: Activation::None,
        };
        // SAFETY: the lengths were checked; `c` is borrowed mutably for the call.
        unsafe { gemm(self, src, dest, kernel, split) };
        Ok(())
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Columns (the reduction length).
    pub fn cols(&self) -> usize {
        self.k
    }

    /// The row-major `m x k` values it holds, back in f32 (for tests).
    #[cfg(test)]
    pub(crate) fn unpack(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.m * self.k];
        for i in 0..self.m {
            for j in 0..self.k {
                let w = self.data[((i / MR) * self.kp + j / 2) * MR + i % MR];
                let h = if j % 2 == 0 {
                    w as u16
                } else {
                    (w >> 16) as u16
                };
                out[i * self.k + j] = f32::from_bits(u32::from(h) << 16);
            }
        }
        out
    }
}

/// The `k x n` f32 right operand: row `r` is `ptr[r * rs .. r * rs + n]`.
#[derive(Clone, Copy)]
pub(crate) struct BSource {
    pub(crate) ptr: *const f32,
    pub(crate) rs: usize,
    pub(crate) n: usize,
}
// SAFETY: only read, by the threads of one product, while the caller holds the data.
unsafe impl Send for BSource {}
unsafe impl Sync for BSource {}

/// Where the product goes: `c[i * ldc + j]`, `m x n` f32, with the per-row `bias` (or zero) and
/// `act` applied.
#[derive(Clone, Copy)]
pub(crate) struct Dest<'a> {
    pub(crate) ptr: OutPtr,
    pub(crate) ldc: usize,
    pub(crate) bias: Option<&'a [f32]>,
    pub(crate) act: Activation,
}

thread_local! {
    /// Per-thread packed `B` (bf16 pairs), reused across calls.
    static PACKED_B: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `C = act(A · B + bias)` for `A` packed, `B` `k x n` f32, with `kernel`, its columns split in
/// `split` parallel parts (1: on the calling thread).
///
/// # Safety
/// `b` must describe `a.cols()` readable rows of `b.n` floats; `dest` must point at `a.rows()`
/// rows of at least `b.n` writable floats `ldc` apart, touched by no one else during the call.
pub(crate) unsafe fn gemm(a: &PackedA, b: BSource, dest: Dest, kernel: Bf16Kernel, split: usize) {
    let n = b.n;
    if n == 0 || a.m == 0 {
        return;
    }
    let panels = n.div_ceil(NR);
    let split = split.clamp(1, panels);
    // Part i starts at the multiple of NR nearest to i * n / split: parts balanced in columns
    // (a last panel of at most 16 columns costs half of one, see `micro_avx512`), which
    // whole panels per part (196 columns: 4 + 3 panels) did not give.
    let edge = |i: usize| {
        if i == split {
            n
        } else {
            ((i * n + split * NR / 2) / (split * NR) * NR).min(n)
        }
    };
    let run = |part: usize| {
        let (c0, c1) = (edge(part), edge(part + 1));
        if c0 < c1 {
            // SAFETY: forwarded from the caller; the parts write disjoint column ranges.
            unsafe { gemm_cols(a, b, dest, kernel, c0, c1, KPart::WHOLE) };
        }
    };
    if split > 1 {
        (0..split).into_par_iter().for_each(run);
    } else {
        run(0);
    }
}

/// Where a product's `k` lies within a longer sum whose other parts other calls compute into
/// the same destination, one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KPart {
    /// The part opens the sum: its first block starts from the bias (else from what `C` holds).
    pub(crate) opens: bool,
    /// The part closes the sum: its last block applies the activation.
    pub(crate) closes: bool,
}

impl KPart {
    /// The whole sum in one call.
    pub(crate) const WHOLE: KPart = KPart {
        opens: true,
        closes: true,
    };
}

/// `C = act(A · B + bias)` as [`gemm`], on the calling thread, for one part of a sum over a longer
/// `k`: called part after part on the same destination, with each part's `k` a multiple of
/// `2 * KCP` but the last, the result is bit for bit the one product over the whole `k` (the
/// blocks are the same, and a block's partial sum goes through `C` in f32 either way).
///
/// # Safety
/// As [`gemm`]; `dest` holds the earlier parts' sum when `part.opens` is false.
pub(crate) unsafe fn gemm_part(
    a: &PackedA,
    b: BSource,
    dest: Dest,
    kernel: Bf16Kernel,
    part: KPart,
) {
    if b.n == 0 || a.m == 0 {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { gemm_cols(a, b, dest, kernel, 0, b.n, part) };
}

/// Channels of `k` in one block of a product: a sum cut at multiples of this is computed bit for
/// bit as the whole (see [`gemm_part`]).
pub(crate) const K_BLOCK: usize = 2 * KCP;

/// Columns `c0..c1` of the product (`c0` a multiple of `NR`).
unsafe fn gemm_cols(
    a: &PackedA,
    b: BSource,
    dest: Dest,
    kernel: Bf16Kernel,
    c0: usize,
    c1: usize,
    part: KPart,
) {
    let kp = a.kp;
    let npanels = (c1 - c0).div_ceil(NR);
    let mut packed = PACKED_B.take();
    // Not cleared: `pack_b` writes every word of the panels it is asked for, padding included.
    if packed.len() < npanels * kp * NR {
        packed.resize(npanels * kp * NR, 0);
    }
    // SAFETY: the caller's rows hold columns c0..c1.
    unsafe { pack_b(b, a.k, c0, c1, &mut packed, kernel) };
    let mpanels = a.m.div_ceil(MR);
    let kblocks = kp.div_ceil(KCP);
    for kb in 0..kblocks {
        let q0 = kb * KCP;
        let q = KCP.min(kp - q0);
        let (first, last) = (kb == 0 && part.opens, kb + 1 == kblocks && part.closes);
        for np in 0..npanels {
            let bp = &packed[(np * kp + q0) * NR..(np * kp + q0 + q) * NR];
            let col = c0 + np * NR;
            for mp in 0..mpanels {
                let ap = &a.data[(mp * kp + q0) * MR..(mp * kp + q0 + q) * MR];
                let row0 = mp * MR;
                let out = TileOut {
                    // SAFETY: row row0, column col lies in the caller's destination.
                    c: unsafe { dest.ptr.get().add(row0 * dest.ldc + col) },
                    ldc: dest.ldc,
                    rows: MR.min(a.m - row0),
                    cols: NR.min(c1 - col),
                    bias: dest.bias.map(|b| &b[row0..]),
                    first,
                    last,
                    act: dest.act,
                };
                match kernel {
                    // SAFETY: `select`/`best` chose this kernel only where the CPU has it; the
                    // tile's rows and columns lie in the destination.
                    #[cfg(target_arch = "x86_64")]
                    Bf16Kernel::Avx512Bf16 => unsafe {
                        if out.cols > 16 {
                            micro_avx512::<true>(q, ap, bp, out)
                        } else {
                            micro_avx512::<false>(q, ap, bp, out)
                        }
                    },
                    #[cfg(not(target_arch = "x86_64"))]
                    Bf16Kernel::Avx512Bf16 => unreachable!("avx512bf16 is never available here"),
                    // SAFETY: as above.
                    Bf16Kernel::Emulated => unsafe { micro_emulated(q, ap, bp, out) },
                }
            }
        }
    }
    PACKED_B.set(packed);
}

/// Where a microkernel puts its `rows x cols` tile (at most `MR x NR`): `c[r * ldc + j]`. The
/// first block of `k` starts from the bias (or zero), later ones add to what `c` holds; the last
/// applies the activation.
struct TileOut<'a> {
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    /// The bias from the tile's first row on.
    bias: Option<&'a [f32]>,
    first: bool,
    last: bool,
    act: Activation,
}

#[inline(always)]
fn act(a: Activation, v: f32) -> f32 {
    match a {
        Activation::None => v,
        Activation::Relu => v.max(0.0),
        Activation::Relu6 => v.clamp(0.0, 6.0),
    }
}

/// Packs columns `c0..c1` of `B` (`k` rows) into panels of `NR` columns with pairs along `k`:
/// word `(panel * kp + p) * NR + c` holds `(b[2p][c], b[2p + 1][c])` (zeros past `k` and `c1`).
unsafe fn pack_b(b: BSource, k: usize, c0: usize, c1: usize, out: &mut [u32], kernel: Bf16Kernel) {
    #[cfg(target_arch = "x86_64")]
    if kernel == Bf16Kernel::Avx512Bf16 {
        // SAFETY: the CPU has AVX512-BF16 (the kernel was chosen for it); reads as the caller's.
        unsafe { pack_b_avx512(b, k, c0, c1, out) };
        return;
    }
    let _ = kernel;
    let kp = k.div_ceil(2);
    for (np, col) in (c0..c1).step_by(NR).enumerate() {
        let cols = NR.min(c1 - col);
        for p in 0..kp {
            // SAFETY: rows 2p and 2p + 1 (when < k) hold columns col..col + cols.
            let r0 = unsafe { std::slice::from_raw_parts(b.ptr.add(2 * p * b.rs + col), cols) };
            let r1 = (2 * p + 1 < k).then(|| unsafe {
                std::slice::from_raw_parts(b.ptr.add((2 * p + 1) * b.rs + col), cols)
            });
            let o = &mut out[(np * kp + p) * NR..(np * kp + p + 1) * NR];
            for c in 0..cols {
                o[c] = pair(r0[c], r1.map_or(0.0, |r| r[c]));
            }
            o[cols..].fill(0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pack_b_avx512(b: BSource, k: usize, c0: usize, c1: usize, out: &mut [u32]) {
    use std::arch::x86_64::*;
    let kp = k.div_ceil(2);
    // Interleaves the 16 bf16 of row 2p (low half) with the 16 of row 2p + 1 (high half).
    let idx = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4,
        19, 3, 18, 2, 17, 1, 16, 0,
    );
    for (np, col) in (c0..c1).step_by(NR).enumerate() {
        let cols = NR.min(c1 - col);
        let m0: __mmask16 = if cols >= 16 {
            0xffff
        } else {
            (1u32 << cols) as u16 - 1
        };
        let m1: __mmask16 = if cols >= 32 {
            0xffff
        } else if cols > 16 {
            ((1u32 << (cols - 16)) - 1) as u16
        } else {
            0
        };
        for p in 0..kp {
            // SAFETY: masked loads read only columns col..col + cols of rows < k.
            unsafe {
                let r0 = b.ptr.add(2 * p * b.rs + col);
                let (a0, a1) = (
                    _mm512_maskz_loadu_ps(m0, r0),
                    _mm512_maskz_loadu_ps(m1, r0.add(16)),
                );
                let (b0, b1) = if 2 * p + 1 < k {
                    let r1 = b.ptr.add((2 * p + 1) * b.rs + col);
                    (
                        _mm512_maskz_loadu_ps(m0, r1),
                        _mm512_maskz_loadu_ps(m1, r1.add(16)),
                    )
                } else {
                    (_mm512_setzero_ps(), _mm512_setzero_ps())
                };
                let o = out.as_mut_ptr().add((np * kp + p) * NR);
                let lo: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(b0, a0));
                let hi: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(b1, a1));
                _mm512_storeu_si512(o.cast(), _mm512_permutexvar_epi16(idx, lo));
                _mm512_storeu_si512(o.add(16).cast(), _mm512_permutexvar_epi16(idx, hi));
            }
        }
    }
}

/// The `MR x NR` tile of `q` pairs of `k`, from its registers straight to `out` (masked stores,
/// the bias or the previous partial sum added, the activation applied on the last block).
/// Without `WIDE` only the first 16 columns are computed, for a tile of at most 16 (a product's
/// last panel): half the multiply-adds, the same bits (columns are independent).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn micro_avx512<const WIDE: bool>(q: usize, a: &[u32], b: &[u32], out: TileOut) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= q * MR && b.len() >= q * NR);
    debug_assert!(WIDE || out.cols <= 16);
    let mut c0 = [_mm512_setzero_ps(); MR];
    let mut c1 = [_mm512_setzero_ps(); MR];
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for p in 0..q {
        // SAFETY: p < q, so these words lie in `a` and `b` (asserted lengths).
        unsafe {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(p * NR).cast()));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(p * NR + 16).cast()));
            for r in 0..MR {
                let av: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*ap.add(p * MR + r) as i32));
                c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
                if WIDE {
                    c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
                }
            }
        }
    }
    let cols = out.cols;
    let m0: __mmask16 = if cols >= 16 {
        0xffff
    } else {
        ((1u32 << cols) - 1) as u16
    };
    let m1: __mmask16 = if cols >= 32 {
        0xffff
    } else if cols > 16 {
        ((1u32 << (cols - 16)) - 1) as u16
    } else {
        0
    };
    let (zero, six) = (_mm512_setzero_ps(), _mm512_set1_ps(6.0));
    for r in 0..MR {
        if r >= out.rows {
            break;
        }
        let (mut v0, mut v1) = (c0[r], c1[r]);
        // SAFETY: row r < rows of the tile, its first `cols` columns (the masks), lie in the
        // caller's destination.
        unsafe {
            let p = out.c.add(r * out.ldc);
            if !out.first {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p.add(16)));
            } else if let Some(bias) = out.bias {
                let bv = _mm512_set1_ps(bias[r]);
                v0 = _mm512_add_ps(v0, bv);
                v1 = _mm512_add_ps(v1, bv);
            }
            if out.last {
                match out.act {
                    Activation::None => {}
                    Activation::Relu => {
                        v0 = _mm512_max_ps(v0, zero);
                        v1 = _mm512_max_ps(v1, zero);
                    }
                    Activation::Relu6 => {
                        v0 = _mm512_min_ps(_mm512_max_ps(v0, zero), six);
                        v1 = _mm512_min_ps(_mm512_max_ps(v1, zero), six);
                    }
                }
            }
            _mm512_mask_storeu_ps(p, m0, v0);
            _mm512_mask_storeu_ps(p.add(16), m1, v1);
        }
    }
}

/// [`micro_avx512`] in portable Rust, with `VDPBF16PS`'s arithmetic: per lane
/// `acc += a_hi * b_hi` then `acc += a_lo * b_lo`, each product exact in f32 (two 8-bit
/// significands), each sum rounded to nearest.
///
/// # Safety
/// `out` must describe rows and columns of a destination the caller may write.
unsafe fn micro_emulated(q: usize, a: &[u32], b: &[u32], out: TileOut) {
    let mut tile = [0f32; MR * NR];
    for p in 0..q {
        let bw = &b[p * NR..(p + 1) * NR];
        let mut blo = [0f32; NR];
        let mut bhi = [0f32; NR];
        for c in 0..NR {
            blo[c] = bf16_to_f32_daz(bw[c] as u16);
            bhi[c] = bf16_to_f32_daz((bw[c] >> 16) as u16);
        }
        for r in 0..MR {
            let w = a[p * MR + r];
            let (alo, ahi) = (bf16_to_f32_daz(w as u16), bf16_to_f32_daz((w >> 16) as u16));
            let row = &mut tile[r * NR..(r + 1) * NR];
            for c in 0..NR {
                row[c] = (row[c] + ahi * bhi[c]) + alo * blo[c];
            }
        }
    }
    for r in 0..out.rows {
        // SAFETY: row r, columns 0..cols of the tile lie in the caller's destination.
        let c = unsafe { std::slice::from_raw_parts_mut(out.c.add(r * out.ldc), out.cols) };
        let t = &tile[r * NR..r * NR + out.cols];
        // As the AVX-512 kernel: the bias (when there is one) or the partial sum is added to the
        // block's products, then the activation.
        for (c, &t) in c.iter_mut().zip(t) {
            let v = match (out.first, out.bias) {
                (false, _) => *c + t,
                (true, Some(bias)) => t + bias[r],
                (true, None) => t,
            };
            *c = if out.last { act(out.act, v) } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The product computed in f64 from the bf16-rounded operands (rounding by `to_bf16`, whose
    /// own test checks it against the definition), and the sum of |a||b| per output.
    fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let r = |x: f32| f64::from(f32::from_bits(u32::from(to_bf16(x)) << 16));
        let mut y = vec![0f64; m * n];
        let mut mag = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..k {
                let av = r(a[i * k + j]);
                for c in 0..n {
                    let bv = r(b[j * n + c]);
                    y[i * n + c] += av * bv;
                    mag[i * n + c] += (av * bv).abs();
                }
            }
        }
        (y, mag)
    }

    #[test]
    fn rounds_to_nearest_even() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even (1.0).
        assert_eq!(to_bf16(1.0 + 2f32.powi(-8)), 0x3f80);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even.
        assert_eq!(to_bf16(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert_eq!(to_bf16(1.0 + 2f32.powi(-8) + 2f32.powi(-20)), 0x3f81);
        assert_eq!(to_bf16(-2.0), 0xc000);
        assert_eq!(to_bf16(1e-40), 0, "denormals flush to zero");
        assert_eq!(to_bf16(f32::INFINITY), 0x7f80);
        assert!(f32::from_bits(u32::from(to_bf16(f32::NAN)) << 16).is_nan());
        // Against the definition on random values: the nearest bf16, error <= 2^-9 relative.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..10_000 {
            let x: f32 = rng.random_range(-1e3..1e3);
            let y = f32::from_bits(u32::from(to_bf16(x)) << 16);
            assert!(((x - y) / x).abs() <= 2f32.powi(-8), "{x} -> {y}");
        }
    }

    #[test]
    fn packs_and_unpacks_a() {
        let a: Vec<f32> = (0..13 * 7).map(|i| i as f32).collect();
        let p = PackedA::from_row_major(&a, 13, 7);
        assert_eq!(p.unpack(), a, "small integers are exact in bf16");
    }

    /// Every kernel this CPU runs, on shapes with partial tiles, odd k, several k blocks, and a
    /// split over threads, against the f64 product of the rounded operands: the only error left
    /// is f32 accumulation, |err| <= k * 2^-24 * sum |a||b| (plus slack for the bias add).
    #[test]
    fn kernels_match_the_product_of_rounded_operands() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (m, k, n, split) in [
            (5, 3, 7, 1),
            (12, 32, 32, 1),
            (29, 301, 75, 2),
            (64, 600, 130, 3),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let bias: Vec<f32> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
            let (want, mag) = reference(&a, &b, m, k, n);
            let pa = PackedA::from_row_major(&a, m, k);
            for kernel in Bf16Kernel::ALL.into_iter().filter(|k| k.is_available()) {
                for act in [Activation::None, Activation::Relu] {
                    let ldc = n + 3;
                    let mut c = vec![f32::NAN; m * ldc];
                    let src = BSource {
                        ptr: b.as_ptr(),
                        rs: n,
                        n,
                    };
                    let dest = Dest {
                        ptr: OutPtr(c.as_mut_ptr()),
                        ldc,
                        bias: Some(&bias),
                        act,
                    };
                    unsafe { gemm(&pa, src, dest, kernel, split) };
                    for i in 0..m {
                        for j in 0..n {
                            let w = want[i * n + j] + f64::from(bias[i]);
                            let w = if act == Activation::Relu {
                                w.max(0.0)
                            } else {
                                w
                            };
                            let got = f64::from(c[i * ldc + j]);
                            let tol = (k as f64 + 2.0) * 2f64.powi(-24) * (mag[i * n + j] + 1.0);
                            assert!(
                                (got - w).abs() <= tol,
                                "{kernel} {m}x{k}x{n} ({i},{j}): {got} vs {w}"
                            );
                        }
                        assert!(c[i * ldc + n].is_nan(), "wrote past the row");
                    }
                }
            }
        }
    }

    /// `emulated` reproduces `VDPBF16PS` exactly (same rounding, same order of the two adds).
    #[test]
    fn emulated_is_bitwise_the_avx512_kernel() {
        if !Bf16Kernel::Avx512Bf16.is_available() {
            eprintln!("SKIPPED: this CPU has no AVX512-BF16 to compare the emulation with");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        // Last panels of 6, 4, 17 and 4 columns (the 16-column tile for three of them), the
        // AVX-512 product split over 1 to 3 parts, the emulation in one.
        for (m, k, n, split) in [
            (37, 515, 70, 1),
            (26, 96, 196, 2),
            (13, 64, 49, 2),
            (12, 40, 100, 3),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let pa = PackedA::from_row_major(&a, m, k);
            let run = |kernel, split| {
                let mut c = vec![0f32; m * n];
                pa.matmul(&b, n, &mut c, kernel, split).unwrap();
                c
            };
            let (x, y) = (
                run(Bf16Kernel::Avx512Bf16, split),
                run(Bf16Kernel::Emulated, 1),
            );
            let differ = x
                .iter()
                .zip(&y)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ,
                0,
                "n {n} split {split}: {differ} of {} outputs differ",
                x.len()
            );
        }
    }
}
