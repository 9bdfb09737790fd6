//! One file per backbone. Each exposes a `Config` (with `timm()`, `keras()` and
//! `for_flavor(Flavor)` constructors), a model struct built by `new(&Config, VarBuilder)` with
//! literal timm checkpoint keys, and an implementation of [`Backbone`].

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec};
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
    let net = precision::with_numerics(numerics, || build_f(kind, flavor, vb))?;
    Ok(Box::new(OnPool(net)))
}

/// A backbone whose forward passes run on a thread of rayon's pool. From a thread outside the
/// pool, every parallel kernel is handed over cold: the caller queues it, wakes a worker and
/// sleeps until the pool is done, two context switches per kernel; NASNetLarge runs over a
/// thousand kernels per image. From inside, a kernel's parallel loop starts on the worker itself
/// and the other workers steal from it.
struct OnPool(Box<dyn Backbone>);

impl OnPool {
    fn run<R: Send>(&self, f: impl FnOnce(&dyn Backbone) -> R + Send) -> R {
        let net = &*self.0;
        // On a worker already (a caller inside the pool): runs here.
        rayon::scope(|_| f(net))
    }
}

impl Backbone for OnPool {
    fn kind(&self) -> BackboneKind {
        self.0.kind()
    }

    fn input(&self) -> InputSpec {
        self.0.input()
    }

    fn feature_dim(&self) -> usize {
        self.0.feature_dim()
    }

    fn features(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(|net| net.features(xs))
    }

    fn feature_map(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(|net| net.feature_map(xs))
    }

    fn dense_map(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        self.run(|net| net.dense_map(xs, layer))
    }

    fn dense_maps(&self, xs: &Tensor, layers: &[DenseLayer]) -> Result<Vec<Tensor>> {
        self.run(|net| net.dense_maps(xs, layers))
    }
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
