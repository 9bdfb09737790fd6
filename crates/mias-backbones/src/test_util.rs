//! Helpers shared by the unit tests of the CPU kernels.

use candle_core::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::kernels::Activation;

/// A tensor of uniform draws from [-1, 1).
pub fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// The independent reference for the kernels: candle's own (grouped) conv2d on an explicitly
/// zero-padded input, then the bias and the activation.
pub fn reference_conv(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    pad: [usize; 4],
    act: Activation,
    groups: usize,
) -> Tensor {
    let [t, bo, l, r] = pad;
    let xp = x
        .pad_with_zeros(2, t, bo)
        .unwrap()
        .pad_with_zeros(3, l, r)
        .unwrap();
    let y = xp.conv2d(w, 0, stride, 1, groups).unwrap();
    let c = b.dim(0).unwrap();
    let y = y.broadcast_add(&b.reshape((1, c, 1, 1)).unwrap()).unwrap();
    act.apply(&y).unwrap()
}

/// max |a - b| over all elements.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
