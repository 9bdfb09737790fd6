//! The machine's fp32 matrix-product rate: criterion benches of a square `n x n x n` sgemm through
//! the `gemm` crate (the one the dense convolution kernel calls) on one thread and on every rayon
//! thread. Throughput is given in elements = floating-point operations (a multiply-add counts 2),
//! so criterion's "elem/s" reads as FLOP/s; `cargo xtask bench` takes the best multi-thread rate
//! as the peak that each backbone's achieved GFLOP/s is compared with.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One product `c = a * b` of row-major `n x n` matrices.
fn sgemm(n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: gemm::Parallelism) {
    // SAFETY: the three slices hold `n * n` floats each and the strides describe row-major
    // `n x n` matrices inside them; `c` does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
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
    group.finish();
}

criterion_group!(benches, bench_gemm);
criterion_main!(benches);
