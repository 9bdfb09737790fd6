//! Criterion benches of each backbone's forward pass at its native size, batch 1 and 8, with
//! deterministic random weights (never downloads). Names are device-prefixed: `cpu_vgg16_b8`.
//! With `--features cuda`, the same benches run on the first GPU as `cuda_*`. Then VGG16's dense
//! map (conv5_3, `DenseLayer::Last`) of one whole image at 512 and 1024 px:
//! `cpu_vgg16_dense512_b1`, `cpu_vgg16_dense1024_b1`. Every CPU bench runs again with the dense
//! convolutions in bf16 (`Precision::Bf16`, the kernel `MIAS_BF16_KERNEL` or the CPU picks), named
//! with a `_bf16` suffix: `cpu_vgg16_b8_bf16`, `cpu_vgg16_dense512_b1_bf16`. MIAS_BENCH_PRECISION=f32
//! (or bf16) runs one precision only.
//!
//! `benches/torch_reference.py` times timm on the same machine (2 threads) for the ratios.
//!
//! Like the `mias` command, the benches keep freed buffers for reuse
//! ([`mias_backbones::reuse_freed_buffers`]).

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mias_backbones::{BackboneKind, DenseLayer, Flavor, Precision, models, weights};

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut out = vec![("cpu", Device::Cpu)];
    #[cfg(feature = "cuda")]
    match Device::new_cuda(0) {
        Ok(dev) => out.push(("cuda", dev)),
        Err(e) => eprintln!("no cuda benches: {e}"),
    }
    out
}

/// The precisions to bench on `dev` with their name suffixes (bf16 only on the CPU, where it
/// differs from f32).
fn precisions(dev: &Device) -> Vec<(Precision, &'static str)> {
    let only = std::env::var("MIAS_BENCH_PRECISION").ok();
    Precision::ALL
        .into_iter()
        .filter(|p| *p == Precision::F32 || dev.is_cpu())
        .filter(|p| only.as_deref().is_none_or(|o| o == p.name()))
        .map(|p| (p, if p == Precision::F32 { "" } else { "_bf16" }))
        .collect()
}

fn bench_backbones(c: &mut Criterion) {
    mias_backbones::reuse_freed_buffers();
    // MIAS_BENCH_ONLY=vgg16,mobilenetv2 limits the backbones.
    let only = std::env::var("MIAS_BENCH_ONLY").ok();
    for (dev_name, dev) in devices() {
        for kind in BackboneKind::ALL {
            if let Some(only) = &only
                && !only.split(',').any(|o| o == kind.name())
            {
                continue;
            }
            for (precision, suffix) in precisions(&dev) {
                let vb = weights::random_var_builder(0, &dev);
                // A model that does not build is a failure of the bench, never a skipped row.
                let bb = models::build_at(kind, Flavor::Timm, precision, vb)
                    .unwrap_or_else(|e| panic!("{dev_name}_{kind}{suffix}: building: {e}"));
                let side = kind.native_side();
                for batch in [1usize, 8] {
                    let x = Tensor::randn(0f32, 1.0, (batch, 3, side, side), &dev)
                        .and_then(|x| x.to_dtype(DType::F32))
                        .expect("random input");
                    let mut group = c.benchmark_group("backbones");
                    group.throughput(Throughput::Elements(batch as u64));
                    group.sample_size(10);
                    group.warm_up_time(Duration::from_secs(1));
                    group.measurement_time(Duration::from_secs(if batch == 1 { 5 } else { 15 }));
                    group.bench_function(format!("{dev_name}_{kind}_b{batch}{suffix}"), |b| {
                        b.iter_custom(|iters| {
                            dev.synchronize().expect("synchronize");
                            let start = Instant::now();
                            for _ in 0..iters {
                                let f = bb.features(&x).expect("forward");
                                std::hint::black_box(f);
                            }
                            dev.synchronize().expect("synchronize");
                            start.elapsed()
                        })
                    });
                    group.finish();
                }
            }
        }
    }
}

/// The input sides of the dense-map benches (batch 1).
const DENSE_SIDES: [usize; 2] = [512, 1024];

fn bench_dense(c: &mut Criterion) {
    mias_backbones::reuse_freed_buffers();
    let only = std::env::var("MIAS_BENCH_ONLY").ok();
    if let Some(only) = &only
        && !only.split(',').any(|o| o == BackboneKind::Vgg16.name())
    {
        return;
    }
    let kind = BackboneKind::Vgg16;
    for (dev_name, dev) in devices() {
        for (precision, suffix) in precisions(&dev) {
            let vb = weights::random_var_builder(0, &dev);
            let bb = models::build_at(kind, Flavor::Timm, precision, vb)
                .unwrap_or_else(|e| panic!("{dev_name}_{kind}_dense{suffix}: building: {e}"));
            for side in DENSE_SIDES {
                let x = Tensor::randn(0f32, 1.0, (1, 3, side, side), &dev)
                    .and_then(|x| x.to_dtype(DType::F32))
                    .expect("random input");
                let mut group = c.benchmark_group("backbones");
                group.throughput(Throughput::Elements(1));
                group.sample_size(10);
                group.warm_up_time(Duration::from_secs(1));
                group.measurement_time(Duration::from_secs(if side <= 512 { 10 } else { 30 }));
                group.bench_function(format!("{dev_name}_{kind}_dense{side}_b1{suffix}"), |b| {
                    b.iter_custom(|iters| {
                        dev.synchronize().expect("synchronize");
                        let start = Instant::now();
                        for _ in 0..iters {
                            let m = bb.dense_map(&x, DenseLayer::Last).expect("forward");
                            std::hint::black_box(m);
                        }
                        dev.synchronize().expect("synchronize");
                        start.elapsed()
                    })
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, bench_backbones, bench_dense);
criterion_main!(benches);
