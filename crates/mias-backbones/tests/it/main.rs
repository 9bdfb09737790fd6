//! The integration tests of mias-backbones: parity with Keras and timm, weight-file errors.

mod keras_parity;
mod timm_parity;
mod timm_weights;
mod weights;
