//! Throughput of the augmentation engine and the preprocessing on 1024x1024 mammogram-sized
//! images (synthetic content: the cost does not depend on it). Run: `cargo bench -p mias-data`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use image::{GrayImage, Luma};
use mias_data::augment::{Augment, FillMode, Transform};
use mias_data::preprocess::{Normalisation, Preprocess};
use mias_data::rng;

fn image() -> GrayImage {
    GrayImage::from_fn(1024, 1024, |x, y| {
        Luma([((x * 7 + y * 13 + (x * y) % 31) % 256) as u8])
    })
}

fn augmentation(c: &mut Criterion) {
    let img = image();
    let mut group = c.benchmark_group("augment");
    group.throughput(Throughput::Elements(1));
    let aug = Augment::paper();
    let mut r = rng::derived(0, "bench", &[]);
    group.bench_function("cpu_paper_1024", |b| {
        b.iter(|| aug.apply(std::hint::black_box(&img), &mut r))
    });
    let mut flip = Transform::identity();
    flip.flip_horizontal = true;
    group.bench_function("cpu_flip_only_1024", |b| {
        b.iter(|| flip.apply(std::hint::black_box(&img), FillMode::Nearest, 0))
    });
    for (side, norm) in [
        (224, Normalisation::Caffe),
        (299, Normalisation::Tf),
        (331, Normalisation::Tf),
    ] {
        let p = Preprocess::new(side, norm);
        group.bench_function(format!("cpu_preprocess_1024_to_{side}"), |b| {
            b.iter(|| p.chw(std::hint::black_box(&img)))
        });
        let mut r = rng::derived(1, "bench", &[]);
        group.bench_function(format!("cpu_paper_view_to_{side}"), |b| {
            b.iter(|| p.chw(&aug.apply(std::hint::black_box(&img), &mut r)))
        });
    }
    group.finish();
}

criterion_group!(benches, augmentation);
criterion_main!(benches);
