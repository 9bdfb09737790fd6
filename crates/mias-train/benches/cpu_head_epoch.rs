//! One training epoch of the paper's head (512 -> 1024 -> 256 -> 28 -> 2, dropout 0.5,
//! Adam, batches of 32) on 1,000 random feature vectors of 512 dimensions, on the CPU.
//! The weights are random-initialised from a seed; nothing is downloaded.

use std::time::{Duration, Instant};

use candle_core::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mias_core::rng::unit_f32;
use mias_train::rng::{Stream, rng};
use mias_train::{Head, LabelledFeatures, TrainConfig, Trainer};

const SAMPLES: usize = 1_000;
const DIM: usize = 512;

fn bench(c: &mut Criterion) {
    let device = Device::Cpu;
    let mut r = rng(0, Stream::Shuffle);
    // Non-negative like pooled ReLU features.
    let rows: Vec<f32> = (0..SAMPLES * DIM).map(|_| unit_f32(&mut r)).collect();
    let labels: Vec<u32> = (0..SAMPLES as u32).map(|i| i % 2).collect();
    let data = LabelledFeatures::from_rows(rows, DIM, labels, &device).expect("features");
    let cfg = TrainConfig::paper();
    let head = Head::new(DIM, &cfg, &mut rng(cfg.seed, Stream::Init), &device).expect("head");
    let mut trainer = Trainer::new(head).expect("trainer");

    let mut group = c.benchmark_group("mias_train");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SAMPLES as u64));
    group.bench_function("cpu_head_epoch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                trainer.epoch(&data, None).expect("epoch");
                // The CPU device runs synchronously; a GPU variant would synchronise here.
                device.synchronize().expect("synchronize");
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
