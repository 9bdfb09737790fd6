//! The CPU kernels of the ports, each a candle custom op with a candle fallback off the CPU:
//! dense convolution by im2col + gemm ([`conv`]), Winograd F(2x2, 3x3) for the 3x3 stride-1 ones
//! ([`winograd`]), depthwise convolution ([`depthwise`], off the CPU [`taps`]), max and average
//! pooling ([`pool`]; both it and the depthwise op run the vectorised per-plane loop of
//! [`plane`]) and the element-wise ops of the graphs ([`ops`]).
//!
//! This module holds what they share: the [`Activation`] fused after a kernel, the geometry of a
//! convolution ([`ConvParams`]), and the output buffers (zeroed or uninitialised, on transparent
//! huge pages when large) with the checked access to candle's CPU storage. Kernels know nothing
//! of layers, weights or models: `layers.rs` builds on them, never the other way round.

use candle_core::backend::BackendStorage;
use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Layout, Tensor};
use rayon::prelude::*;

/// Calls `$body`, an `#[inline(always)]` function of the arguments named, through a copy
/// compiled for the width `$simd` ([`Simd`]) names, so that the compiler vectorises the body at
/// that width: `on_simd!(simd, body(x: &[f32], n: usize))` with `x` and `n` in scope. Defined
/// before the kernel modules, which use it.
macro_rules! on_simd {
    ($simd:expr, $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512($($arg: $ty),*) {
                $body($($arg),*)
            }
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) {
                $body($($arg),*)
            }
            match $simd {
                // SAFETY: `Simd::detect` chose the variant after the CPU reported its features.
                $crate::kernels::Simd::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                $crate::kernels::Simd::Avx2 => unsafe { avx2($($arg),*) },
                $crate::kernels::Simd::Generic => $body($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = $simd;
            $body($($arg),*)
        }
    }};
}

pub(crate) mod bf16;
pub(crate) mod conv;
pub(crate) mod depthwise;
pub(crate) mod fused;
pub(crate) mod ops;
mod plane;
pub(crate) mod pool;
mod taps;
pub(crate) mod winograd;

/// The activation a kernel applies to its output (fused after the bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// The identity.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
}

impl Activation {
    /// Applies the activation to a tensor (the fallback off the CPU).
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::None => Ok(x.clone()),
            Activation::Relu => x.relu(),
            Activation::Relu6 => x.clamp(0f32, 6f32),
        }
    }
}

/// The widest vector extension this CPU has among those the element-wise kernel bodies are
/// compiled for (each body is an `#[inline(always)]` function called from one wrapper per
/// variant with `#[target_feature]`, so the compiler vectorises it at that width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    /// AVX-512F (512-bit vectors).
    Avx512,
    /// AVX2 (256-bit vectors).
    Avx2,
    /// The baseline of the build target (SSE2 on x86-64).
    Generic,
}

impl Simd {
    /// What this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Generic
    }
}

/// Geometry of a convolution (dense or depthwise): stride, zero padding per side and the
/// activation fused after the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Stride, the same along both axes.
    pub stride: usize,
    /// Zero padding `[top, bottom, left, right]`.
    pub pad: [usize; 4],
    /// Activation applied after the bias.
    pub act: Activation,
}

impl ConvParams {
    /// Output height and width for an `h x w` input and a `kh x kw` kernel, or `None` when the
    /// padded input is smaller than the kernel.
    pub fn out_hw(&self, h: usize, w: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
        let [t, b, l, r] = self.pad;
        let (ph, pw) = (h + t + b, w + l + r);
        if ph < kh || pw < kw || self.stride == 0 {
            return None;
        }
        Some(((ph - kh) / self.stride + 1, (pw - kw) / self.stride + 1))
    }
}

/// Outputs at least this large (bytes) are backed by transparent huge pages where the system
/// allows them on request (`madvise` mode).
const HUGE_OUTPUT_BYTES: usize = 4 << 20;

/// Asks Linux to back `v`'s allocation with transparent huge pages before its pages are first
/// touched: a batch-8 activation is tens to hundreds of MiB, freshly mapped by the allocator for
/// every layer, and faulting it in 4 KiB pages cost ~10% of the forward pass. Advice only: any
/// failure leaves ordinary pages.
pub(crate) fn advise_huge_pages(v: &mut Vec<f32>) {
    #[cfg(target_os = "linux")]
    {
        let bytes = v.capacity() * std::mem::size_of::<f32>();
        if bytes < HUGE_OUTPUT_BYTES {
            return;
        }
        const PAGE: usize = 4096;
        let start = v.as_mut_ptr() as usize;
        let aligned = start.next_multiple_of(PAGE);
        let len = (start + bytes - aligned) / PAGE * PAGE;
        // SAFETY: the range lies inside the allocation of `v`; MADV_HUGEPAGE changes how pages
        // are backed, never their contents.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// A zero-filled output of `len` floats (`calloc`: fresh mappings are not written), on huge
/// pages when large.
pub(crate) fn zeroed_output(len: usize) -> Vec<f32> {
    let mut v = vec![0f32; len];
    advise_huge_pages(&mut v);
    v
}

/// An output of `len` floats (on huge pages when large) whose elements `write` sets, over
/// parallel chunks of `chunk` floats (`write(index of the chunk, the chunk)`), never zero-filled
/// first: with the freed buffers kept in the heap ([`crate::reuse_freed_buffers`]) a zeroed
/// output is one more pass over memory (`memset`).
///
/// # Safety
/// `write` must set every element of every chunk it is given.
pub(crate) unsafe fn par_output(
    len: usize,
    chunk: usize,
    write: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    advise_huge_pages(&mut v);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| write(i, c));
    // SAFETY: the chunks cover 0..len, and the caller's `write` set every element of each.
    unsafe { v.set_len(len) };
    v
}

/// The f32 data of a contiguous CPU operand of kernel `op` (for error messages).
pub(crate) fn contiguous<'a>(
    op: &str,
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d.as_slice(),
        other => candle_core::bail!("{op}: {what} must be f32, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: {what} must be contiguous"),
    }
}

/// A raw pointer to the output, shared by the tiles; each tile writes a disjoint set of cells.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: tiles write disjoint regions (distinct images, or distinct output rows of an image),
// and the buffer outlives the parallel loop.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so closures capture the whole `Send + Sync` wrapper).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}
