//! The arithmetic a backbone runs its dense convolutions in: [`Precision::F32`] (the default,
//! the one the parity tests hold to 1e-4 of timm) or [`Precision::Bf16`] (weights rounded to
//! bf16 once at load time, activations rounded to bf16 as they are packed, products accumulated
//! in f32, on the CPU kernel [`Bf16Kernel::select`] picks).
//!
//! A backbone is built at a precision with [`crate::models::build_at`] or loaded with
//! [`crate::load_at`]. The bf16 path covers the dense convolutions (im2col, 1x1 and the Winograd
//! 3x3 ones: where almost all the FLOPs of VGG16, Xception and NASNet are); depthwise
//! convolutions, pools, BatchNorm-folded biases and the element-wise ops stay f32 (they are
//! memory-bound, so bf16 arithmetic would not pay). Off the CPU, `Bf16` changes nothing: the
//! GPU path is candle's f32 one.

use std::cell::Cell;

use crate::error::{Error, Result};
pub use crate::kernels::bf16::{Bf16Kernel, KERNEL_ENV, PackedA as Bf16Matrix, amx_usable};

/// The arithmetic of the dense convolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 throughout (the default).
    #[default]
    F32,
    /// bf16 operands (8-bit significand), f32 accumulation.
    Bf16,
}

impl Precision {
    /// Both precisions, the default first.
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::Bf16];

    /// The name used on the command line, in configs and cache keys: `f32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            _ => Err(Error::UnknownPrecision(s.to_string())),
        }
    }
}

/// What the convolutions built on this thread use: f32, or bf16 on one kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Numerics {
    F32,
    Bf16(Bf16Kernel),
}

thread_local! {
    /// The numerics of the backbone being built on this thread. Set only for the duration of
    /// one build by [`with_numerics`] (so the four model files, which build their layers
    /// through `layers::Conv2d::load*`, need no precision argument), read by those loaders.
    static BUILDING: Cell<Numerics> = const { Cell::new(Numerics::F32) };
}

/// Runs `build` with the convolutions it loads on this thread set to `numerics`; the previous
/// setting comes back afterwards, even if `build` panics.
pub(crate) fn with_numerics<T>(numerics: Numerics, build: impl FnOnce() -> T) -> T {
    struct Restore(Numerics);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUILDING.set(self.0);
        }
    }
    let _restore = Restore(BUILDING.replace(numerics));
    build()
}

/// The numerics of the build in progress on this thread (f32 outside any build).
pub(crate) fn building() -> Numerics {
    BUILDING.get()
}

/// The numerics of `precision`: for bf16, the kernel [`Bf16Kernel::select`] picks (an error
/// naming `MIAS_BF16_KERNEL`'s value when it names a kernel this CPU cannot run).
pub(crate) fn numerics(precision: Precision) -> Result<Numerics> {
    match precision {
        Precision::F32 => Ok(Numerics::F32),
        Precision::Bf16 => Bf16Kernel::select()
            .map(Numerics::Bf16)
            .map_err(Error::Bf16Kernel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for p in Precision::ALL {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("BF16".parse::<Precision>().unwrap(), Precision::Bf16);
        let err = "fp16".parse::<Precision>().unwrap_err().to_string();
        assert!(
            err.contains("`fp16`") && err.contains("f32 or bf16"),
            "{err}"
        );
        assert_eq!(Precision::default(), Precision::F32);
    }

    #[test]
    fn numerics_are_scoped_to_one_build() {
        assert_eq!(building(), Numerics::F32);
        let inner = with_numerics(Numerics::Bf16(Bf16Kernel::Emulated), building);
        assert_eq!(inner, Numerics::Bf16(Bf16Kernel::Emulated));
        assert_eq!(building(), Numerics::F32);
    }
}
