//! Frozen ImageNet feature extractors on candle: VGG16, Xception, MobileNetV2 and NASNetLarge.
//!
//! Each port is a batched forward from `[N, 3, S, S]` (already normalised) to globally
//! average-pooled features `[N, D]`, with weight names that are timm's `state_dict` keys, so the
//! Hub's timm files and the Keras-derived files of `../shared/weights` load alike. What differs
//! between the two is the [`Flavor`]: timm's own forward (symmetric padding, timm's BatchNorm eps)
//! or Keras's (TensorFlow SAME padding, Keras BatchNorm eps, Keras input normalisation).
//!
//! With deterministic random weights (no download; never a source of real features), a
//! MobileNetV2 turns a batch of two 64-pixel images into two 1280-long feature vectors, and
//! VGG16 gives the dense map of a whole 64-pixel image, one 512-long vector per 16-pixel cell
//! (conv5_3, see [`DenseLayer`]):
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use mias_backbones::{BackboneKind, DenseLayer, Flavor, models, random_var_builder};
//!
//! # fn main() -> mias_backbones::Result<()> {
//! let dev = Device::Cpu;
//! let bb = models::build(BackboneKind::MobileNetV2, Flavor::Timm, random_var_builder(7, &dev))?;
//! let x = Tensor::zeros((2, 3, 64, 64), DType::F32, &dev)?;
//! let feats = bb.features(&x)?;
//! assert_eq!(feats.dims(), &[2, 1280]);
//!
//! let vgg = models::build(BackboneKind::Vgg16, Flavor::Timm, random_var_builder(7, &dev))?;
//! let image = Tensor::ones((1, 3, 64, 64), DType::F32, &dev)?;
//! let map = vgg.dense_map(&image, DenseLayer::Last)?;
//! assert_eq!(map.dims(), &[1, 512, 4, 4]);
//! # Ok(())
//! # }
//! ```
//!
//! Real weights come through a [`WeightsSource`] (a local file, the Hugging Face Hub, a pinned
//! URL) and [`load`]:
//!
//! ```no_run
//! use candle_core::{Device, Tensor};
//! use mias_backbones::{BackboneKind, Flavor, WeightsSource};
//!
//! # fn main() -> mias_backbones::Result<()> {
//! let dev = Device::Cpu;
//! let source = WeightsSource::File("../shared/weights/vgg16.keras.safetensors".into());
//! let bb = mias_backbones::load(BackboneKind::Vgg16, &source, Flavor::Keras, &dev)?;
//! let side = bb.input().side;
//! let x = Tensor::zeros((2, 3, side, side), candle_core::DType::F32, &dev)?;
//! let feats = bb.features(&x)?; // [2, 512]
//! assert_eq!(feats.dims(), &[2, bb.feature_dim()]);
//! # Ok(())
//! # }
//! ```
//!
//! Any backbone also runs its dense convolutions in bf16 with f32 accumulation
//! ([`Precision::Bf16`], through [`models::build_at`] or [`load_at`]): about twice the speed on
//! a CPU with AVX512-BF16, features within bf16's rounding of the f32 ones:
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use mias_backbones::{BackboneKind, Flavor, Precision, models, random_var_builder};
//!
//! # fn main() -> mias_backbones::Result<()> {
//! let dev = Device::Cpu;
//! let precision: Precision = "bf16".parse()?;
//! let vb = random_var_builder(7, &dev);
//! let bb = models::build_at(BackboneKind::Vgg16, Flavor::Timm, precision, vb)?;
//! let x = Tensor::ones((1, 3, 64, 64), DType::F32, &dev)?;
//! assert_eq!(bb.features(&x)?.dims(), &[1, 512]);
//! # Ok(())
//! # }
//! ```
//!
//! Inside, the modules stand in layers, each importing only those below it: `kernels` (the CPU
//! custom ops) under `layers` (convolutions with folded BatchNorm, pools, padding rules) under
//! [`models`] (one file per network); `backbone`, `error` and [`weights`] underneath them all.
//! Kernels and layers are private to the crate.
#![warn(missing_docs)]

mod backbone;
mod error;
mod kernels;
mod layers;
mod load;
mod memory;
pub mod models;
mod precision;
#[cfg(test)]
mod test_util;
pub mod weights;

pub use backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec, Normalization};
pub use error::{Error, Result};
pub use load::{load, load_at, load_with_provenance, load_with_provenance_at};
pub use memory::{HEAP_BLOCK_LIMIT, reuse_freed_buffers};
pub use precision::{Bf16Kernel, Bf16Matrix, KERNEL_ENV, Precision, amx_usable};
pub use weights::{FetchOptions, Provenance, WeightsSource, random_var_builder};
