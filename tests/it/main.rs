//! End-to-end tests of the `mias` application, run as a separate process.

mod cli;
mod html;
#[cfg(unix)]
mod interrupt;
mod lesion;
mod reproduce;
