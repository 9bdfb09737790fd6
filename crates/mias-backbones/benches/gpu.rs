//! Criterion benches of GPU inference: each backbone's `features` at its native size, batch 1, 8
//! and 32, deterministic random weights (never downloads), on the first CUDA device. Names are
//! `cuda_<backbone>_b<batch>`; throughput is in images (criterion's "elem/s").
//!
//! Every timed call ends with `Device::synchronize`, so the clock reads the finished forward
//! pass, not the time to queue its kernels. Without a usable CUDA device (no GPU, no driver) the
//! bench prints one `SKIPPED` line and exits 0; on a usable device, a model that does not build
//! or a forward pass that fails ends the bench with an error.
//!
//! Before timing a backbone, the bench prints `parity cuda_<backbone>: <d>`: the largest
//! |CUDA - CPU| feature difference over the largest |CPU| feature, same random weights and input
//! (batch 2), the CPU side through this crate's CPU kernels; `MISMATCH` marks d > 1e-3.
//!
//! Needs `--features cuda` (see `required-features` in Cargo.toml). `MIAS_BENCH_ONLY=vgg16,...`
//! limits the backbones; `MIAS_BENCH_BATCHES=1,8` the batch sizes. The PyTorch eager counterpart
//! on the same GPU is `benches/torch_gpu_reference.py`.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use criterion::{Criterion, Throughput};
use mias_backbones::{Backbone, BackboneKind, Flavor, models, weights};

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
        // A device that works and a model that does not build is a failure, not a skip.
        Err(e) => panic!("cuda_{kind}: building the model failed: {e}"),
    };
    let side = kind.native_side();
    parity(dev, kind, bb.as_ref(), side);
    for &batch in batches {
        let name = format!("cuda_{kind}_b{batch}");
        let x = match Tensor::randn(0f32, 1.0, (batch, 3, side, side), dev)
            .and_then(|x| x.to_dtype(DType::F32))
        {
            Ok(x) => x,
            Err(e) => panic!("{name}: random input: {e}"),
        };
        // One untimed pass loads the kernels and sizes the allocator; a failure here (out of
        // memory, a missing kernel) skips the case with its reason rather than panicking.
        let first = bb
            .features(&x)
            .map_err(|e| e.to_string())
            .and_then(|_| dev.synchronize().map_err(|e| e.to_string()));
        if let Err(e) = first {
            panic!("{name}: first forward pass failed: {e}");
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

/// Prints how far the CUDA features of `bb` are from the CPU model's with the same weights.
fn parity(dev: &Device, kind: BackboneKind, bb: &dyn Backbone, side: usize) {
    let run = || -> Result<f32, String> {
        let e = |e: candle_core::Error| e.to_string();
        let cpu = models::build(
            kind,
            Flavor::Timm,
            weights::random_var_builder(0, &Device::Cpu),
        )
        .map_err(|e| e.to_string())?;
        let x = Tensor::randn(0f32, 1.0, (2, 3, side, side), &Device::Cpu).map_err(e)?;
        let want = cpu.features(&x).map_err(|e| e.to_string())?;
        let got = bb
            .features(&x.to_device(dev).map_err(e)?)
            .map_err(|e| e.to_string())?
            .to_device(&Device::Cpu)
            .map_err(e)?;
        let diff = (got - &want)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all());
        let scale = want.abs().and_then(|w| w.max_all());
        let (diff, scale) = (
            diff.and_then(|d| d.to_scalar::<f32>()).map_err(e)?,
            scale.and_then(|s| s.to_scalar::<f32>()).map_err(e)?,
        );
        Ok(diff / scale.max(f32::MIN_POSITIVE))
    };
    match run() {
        Ok(d) if d <= 1e-3 => println!("parity cuda_{kind}: {d:.2e}"),
        Ok(d) => println!("parity cuda_{kind}: {d:.2e} MISMATCH (> 1e-3)"),
        Err(e) => println!("parity cuda_{kind}: not checked: {e}"),
    }
}
