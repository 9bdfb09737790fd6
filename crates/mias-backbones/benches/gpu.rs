//! Criterion benches of GPU inference: each backbone's `features` at its native size, batch 1, 8
//! and 32, deterministic random weights (never downloads), on the first CUDA device. Names are
//! `cuda_<backbone>_b<batch>`; throughput is in images (criterion's "elem/s").
//!
//! Every timed call ends with `Device::synchronize`, so the clock reads the finished forward
//! pass, not the time to queue its kernels. Without a usable CUDA device (no GPU, no driver) the
//! bench prints one `SKIPPED` line and exits 0.
//!
//! Needs `--features cuda` (see `required-features` in Cargo.toml). `MIAS_BENCH_ONLY=vgg16,...`
//! limits the backbones; `MIAS_BENCH_BATCHES=1,8` the batch sizes. The PyTorch eager counterpart
//! on the same GPU is `benches/torch_gpu_reference.py`.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use criterion::{Criterion, Throughput};
use mias_backbones::{BackboneKind, Flavor, models, weights};

/// Batch sizes timed unless `MIAS_BENCH_BATCHES` names others.
const BATCHES: [usize; 3] = [1, 8, 32];

fn main() {
    let dev = match Device::new_cuda(0) {
        Ok(dev) => dev,
        Err(e) => {
            // candle appends a backtrace when RUST_BACKTRACE is set: keep the first line.
            let e = e.to_string();
            let reason = e.lines().next().unwrap_or("unknown error");
            println!("SKIPPED gpu benches: no usable CUDA device 0 ({reason})");
            return;
        }
    };
    let only = std::env::var("MIAS_BENCH_ONLY").ok();
    let batches: Vec<usize> = match std::env::var("MIAS_BENCH_BATCHES") {
        Ok(s) => match s.split(',').map(|b| b.trim().parse()).collect() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("MIAS_BENCH_BATCHES={s:?}: {e}");
                std::process::exit(2);
            }
        },
        Err(_) => BATCHES.to_vec(),
    };
    let mut c = Criterion::default().configure_from_args();
    for kind in BackboneKind::ALL {
        if let Some(only) = &only
            && !only.split(',').any(|o| o == kind.name())
        {
            continue;
        }
        bench_backbone(&mut c, &dev, kind, &batches);
    }
    c.final_summary();
}

fn bench_backbone(c: &mut Criterion, dev: &Device, kind: BackboneKind, batches: &[usize]) {
    let bb = match models::build(kind, Flavor::Timm, weights::random_var_builder(0, dev)) {
        Ok(bb) => bb,
        Err(e) => {
            println!("SKIPPED cuda_{kind}: building the model failed: {e}");
            return;
        }
    };
    let side = kind.native_side();
    for &batch in batches {
        let name = format!("cuda_{kind}_b{batch}");
        let x = match Tensor::randn(0f32, 1.0, (batch, 3, side, side), dev)
            .and_then(|x| x.to_dtype(DType::F32))
        {
            Ok(x) => x,
            Err(e) => {
                println!("SKIPPED {name}: random input: {e}");
                continue;
            }
        };
        // One untimed pass loads the kernels and sizes the allocator; a failure here (out of
        // memory, a missing kernel) skips the case with its reason rather than panicking.
        let first = bb
            .features(&x)
            .map_err(|e| e.to_string())
            .and_then(|_| dev.synchronize().map_err(|e| e.to_string()));
        if let Err(e) = first {
            println!("SKIPPED {name}: first forward pass failed: {e}");
            continue;
        }
        let mut group = c.benchmark_group("gpu");
        group.throughput(Throughput::Elements(batch as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let f = bb.features(&x).expect("forward pass (it ran once already)");
                    dev.synchronize().expect("synchronize the device");
                    total += start.elapsed();
                    std::hint::black_box(f);
                }
                total
            })
        });
        group.finish();
    }
}
