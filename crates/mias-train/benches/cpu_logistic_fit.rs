//! One fit of the lesion method's cell classifier (balanced L2 logistic regression, C = 1,
//! default tolerance) on 50,000 seeded random rows of 512 non-negative features, like pooled
//! ReLU cell features, with labels from a planted linear rule plus noise (about 10% positive).
//! Everything runs on the CPU; nothing is downloaded.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mias_core::rng::{derived, unit_f32};
use mias_train::{LogisticConfig, LogisticRegression};

const ROWS: usize = 50_000;
const DIM: usize = 512;

fn data() -> (Vec<f32>, Vec<u32>) {
    let mut r = derived(0, "bench", &[]);
    let rows: Vec<f32> = (0..ROWS * DIM).map(|_| unit_f32(&mut r)).collect();
    let labels = rows
        .chunks_exact(DIM)
        .map(|row| {
            // Features 0..32 carry the signal with alternating signs: sd about 1.6.
            let signal: f32 = row[..32]
                .iter()
                .enumerate()
                .map(|(j, x)| if j % 2 == 0 { *x } else { -*x })
                .sum();
            let noise = 2.0 * unit_f32(&mut r) - 1.0;
            u32::from(signal + noise > 2.2)
        })
        .collect();
    (rows, labels)
}

fn bench(c: &mut Criterion) {
    let (rows, labels) = data();
    let cfg = LogisticConfig::default();
    let model = LogisticRegression::fit(&rows, DIM, &labels, None, &cfg).expect("fit");
    let report = model.report();
    eprintln!(
        "cpu_logistic_fit: {} rows ({} positive) x {DIM}: {} iterations, {} evaluations, \
         converged {}, gradient {:.1e}",
        report.rows,
        report.positives,
        report.iterations,
        report.evaluations,
        report.converged,
        report.gradient_max
    );
    let mut group = c.benchmark_group("mias_train");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("cpu_logistic_fit_50000x512", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let m = LogisticRegression::fit(&rows, DIM, &labels, None, &cfg).expect("fit");
                total += start.elapsed();
                assert_eq!(m.coef(), model.coef(), "fits are deterministic");
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
