//! The machine's fp32 matrix-product rate: criterion benches of a square `n x n x n` sgemm through
//! the `gemm` crate (the one the dense convolution kernel calls) on one thread and on every rayon
//! thread. Throughput is given in elements = floating-point operations (a multiply-add counts 2),
//! so criterion's "elem/s" reads as FLOP/s; `cargo xtask bench` takes the best multi-thread rate
//! as the peak that each backbone's achieved GFLOP/s is compared with.
//!
//! The same for the bf16 product of the reduced-precision path (`Bf16Matrix`: bf16 weights packed
//! once, f32 activations packed to bf16 on the fly, f32 accumulation, the kernel the CPU picks):
//! `bf16gemm_<n>_t<threads>`, the bf16 peak of `cargo xtask bench`'s table.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One product `c = a * b` of row-major `n x n` matrices.
fn sgemm(n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: gemm::Parallelism) {
    sgemm_mnk(n, n, n, a, b, c, par)
}

/// One product `c = a * b` of row-major `m x k` and `k x n` matrices.
fn sgemm_mnk(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    par: gemm::Parallelism,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the slices hold the `m x k`, `k x n` and `m x n` row-major matrices the strides
    // describe (asserted above); `c` does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

fn bench_gemm(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let threads = rayon::current_num_threads();
    let mut group = c.benchmark_group("gemm");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for n in [1024usize, 2048] {
        let a: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut out = vec![0f32; n * n];
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        group.bench_function(format!("sgemm_{n}_t1"), |bch| {
            bch.iter(|| sgemm(n, &a, &b, &mut out, gemm::Parallelism::None))
        });
        group.bench_function(format!("sgemm_{n}_t{threads}"), |bch| {
            bch.iter(|| sgemm(n, &a, &b, &mut out, gemm::Parallelism::Rayon(threads)))
        });
    }
    let kernel = mias_backbones::Bf16Kernel::best();
    eprintln!("bf16 kernel: {kernel}");
    for n in [1024usize, 2048] {
        let a: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let packed = mias_backbones::Bf16Matrix::from_row_major(&a, n, n);
        let mut out = vec![0f32; n * n];
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        for t in [1, threads] {
            group.bench_function(format!("bf16gemm_{n}_t{t}"), |bch| {
                bch.iter(|| {
                    packed
                        .matmul(&b, n, &mut out, kernel, t)
                        .expect("bf16 matmul")
                })
            });
        }
    }
    // The shape of one im2col tile of VGG16's conv3 layers at 224 (256 x 2304 weights times a
    // 2304 x (7 rows * 56) tile), the kind of product the dense convolution kernel runs.
    let (m, n, k) = (256, 7 * 56, 2304);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut out = vec![0f32; m * n];
    group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
    group.bench_function("conv_tile_256x392x2304_t1", |bch| {
        bch.iter(|| sgemm_mnk(m, n, k, &a, &b, &mut out, gemm::Parallelism::None))
    });
    group.finish();
}

criterion_group!(benches, bench_gemm);
criterion_main!(benches);
