//! The integration tests of mias-backbones: parity with Keras and timm (pooled features and
//! dense maps), weight-file errors.

mod bf16_parity;
mod dense_maps;
mod keras_parity;
mod timm_parity;
mod timm_weights;
mod weights;
