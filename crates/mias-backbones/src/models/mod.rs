//! One file per backbone. Each exposes a `Config` (with `timm()`, `keras()` and
//! `for_flavor(Flavor)` constructors), a model struct built by `new(&Config, VarBuilder)` with
//! literal timm checkpoint keys, and an implementation of [`Backbone`].

use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, Flavor};
use crate::error::Result;

pub mod mobilenetv2;
pub mod nasnet;
pub mod vgg16;
pub mod xception;

/// Builds `kind` in `flavor` from the weights behind `vb`.
pub fn build(kind: BackboneKind, flavor: Flavor, vb: VarBuilder) -> Result<Box<dyn Backbone>> {
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
