//! One file per backbone. Each exposes a `Config` (with `timm()`, `keras()` and
//! `for_flavor(Flavor)` constructors), a model struct built by `new(&Config, VarBuilder)` with
//! literal timm checkpoint keys, and an implementation of [`Backbone`].

use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, Flavor};
use crate::error::{Error, Result};
use crate::precision::{self, Bf16Kernel, Numerics, Precision};

pub mod mobilenetv2;
pub mod nasnet;
pub mod vgg16;
pub mod xception;

/// Builds `kind` in `flavor` from the weights behind `vb`, in f32.
pub fn build(kind: BackboneKind, flavor: Flavor, vb: VarBuilder) -> Result<Box<dyn Backbone>> {
    build_with(kind, flavor, Numerics::F32, vb)
}

/// Builds `kind` in `flavor` from the weights behind `vb`, its dense convolutions at
/// `precision` (bf16: on the kernel [`Bf16Kernel::select`] picks, `MIAS_BF16_KERNEL` or the
/// fastest this CPU runs; an error when that variable names a kernel the CPU cannot run).
pub fn build_at(
    kind: BackboneKind,
    flavor: Flavor,
    precision: Precision,
    vb: VarBuilder,
) -> Result<Box<dyn Backbone>> {
    build_with(kind, flavor, precision::numerics(precision)?, vb)
}

/// Builds `kind` in bf16 on `kernel` (tests and benches of one kernel); an error when this CPU
/// cannot run it.
pub fn build_bf16_on(
    kind: BackboneKind,
    flavor: Flavor,
    kernel: Bf16Kernel,
    vb: VarBuilder,
) -> Result<Box<dyn Backbone>> {
    if !kernel.is_available() {
        return Err(Error::Bf16Kernel(format!(
            "this CPU cannot run the {kernel} kernel"
        )));
    }
    build_with(kind, flavor, Numerics::Bf16(kernel), vb)
}

fn build_with(
    kind: BackboneKind,
    flavor: Flavor,
    numerics: Numerics,
    vb: VarBuilder,
) -> Result<Box<dyn Backbone>> {
    precision::with_numerics(numerics, || build_f(kind, flavor, vb))
}

fn build_f(kind: BackboneKind, flavor: Flavor, vb: VarBuilder) -> Result<Box<dyn Backbone>> {
    Ok(match kind {
        BackboneKind::Vgg16 => Box::new(vgg16::Vgg16::new(&vgg16::Config::for_flavor(flavor), vb)?),
        BackboneKind::Xception => Box::new(xception::Xception::new(
            &xception::Config::for_flavor(flavor),
            vb,
        )?),
        BackboneKind::MobileNetV2 => Box::new(mobilenetv2::MobileNetV2::new(
            &mobilenetv2::Config::for_flavor(flavor),
            vb,
        )?),
        BackboneKind::NasNetLarge => Box::new(nasnet::NasNetLarge::new(
            &nasnet::Config::for_flavor(flavor),
            vb,
        )?),
    })
}
