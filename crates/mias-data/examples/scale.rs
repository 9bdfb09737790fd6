//! How mias-data's bookkeeping grows with a collection's size, by simulation: writes a
//! generated `manifest.csv` of N films (hard links to small PNGs, so the files cost no
//! disk), two films (right and left MLO) per woman, one in twelve malignant, then times what
//! the pipeline does before any pixel is read: opening the dataset (parsing, women, pairs,
//! every film's cache entry name), 5 folds grouped by woman, the audit of one fold, the label
//! permutation over women. Prints one line of seconds per step and the peak resident memory.
//!
//! ```sh
//! cargo run --release -p mias-data --example scale -- 1000000
//! cargo xtask scale 10000 100000 1000000    # the three sizes, one process each
//! ```

use std::time::Instant;

use mias_data::{Dataset, LabelVariant, split};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let films: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("the number of films, not {n:?}"))?,
        None => return Err("usage: scale <films>".into()),
    };
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    let start = Instant::now();
    let img = root.join("film.png");
    image::GrayImage::from_pixel(8, 8, image::Luma([90])).save(&img)?;
    let mut csv = String::with_capacity(films * 48);
    csv.push_str("image,patient,laterality,view,label\n");
    for i in 0..films {
        let dir = format!("d{:04}", i / 1000);
        if i % 1000 == 0 {
            std::fs::create_dir(root.join(&dir))?;
        }
        let name = format!("{dir}/{i:07}.png");
        if i % 10_000 == 0 {
            // File systems cap the links of one file (ext4: 65,000): a new source (a new
            // inode, not the old one overwritten) every 10,000.
            let source = root.join("source.png");
            if i > 0 {
                std::fs::remove_file(&source)?;
            }
            std::fs::copy(&img, &source)?;
        }
        std::fs::hard_link(root.join("source.png"), root.join(&name))?;
        let side = if i % 2 == 0 { "R" } else { "L" };
        let label = if i % 12 == 5 { "malignant" } else { "normal" };
        csv.push_str(&format!("{name},W{},{side},MLO,{label}\n", i / 2));
    }
    std::fs::write(root.join("manifest.csv"), csv)?;
    let write_s = start.elapsed().as_secs_f64();
    let written_kib = peak_rss_kib();

    let t = Instant::now();
    let ds = Dataset::open(root)?;
    let open_s = t.elapsed().as_secs_f64();
    let opened_kib = peak_rss_kib();
    let labelling = ds.labelling(LabelVariant::Official);

    let t = Instant::now();
    let folds = split::patient_folds(ds.records(), labelling, 5, 42)?;
    let folds_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (train, test) = folds[0].items();
    let audit = split::audit(ds.records(), &[("train", &train), ("test", &test)]);
    let audit_s = t.elapsed().as_secs_f64();
    assert!(audit.is_clean(), "folds grouped by woman share a woman");

    let t = Instant::now();
    let permutation = split::permute_over_women(ds.records(), 7);
    let permute_s = t.elapsed().as_secs_f64();
    assert_eq!(permutation.len(), films);

    println!(
        "films {films}: open {open_s:.2} s (incl. cache names), folds {folds_s:.2} s, audit \
         {audit_s:.2} s, permutation {permute_s:.2} s; peak RSS {} MiB (after writing the \
         files: {} MiB, {write_s:.1} s; after opening: {} MiB)",
        mib(peak_rss_kib()),
        mib(written_kib),
        mib(opened_kib)
    );
    Ok(())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_string(), |k| (k / 1024).to_string())
}

/// The process's peak resident set (`VmHWM` of `/proc/self/status`), KiB; Linux only.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
