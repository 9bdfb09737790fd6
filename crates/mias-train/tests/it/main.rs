//! Integration tests of mias-train: numpy and real-Keras references, determinism,
//! learning a separable toy set, checkpoints and the ensemble.

mod checkpoint;
mod common;
mod determinism;
mod ensemble;
mod logistic;
mod reference;
mod toy;
