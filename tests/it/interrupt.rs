//! `reproduce` interrupted part-way, then run again, on the generated data of
//! `reproduce.rs`: killed (SIGKILL) at seeded fault points, sent SIGINT or SIGTERM, or given a
//! damaged feature cache entry.
//!
//! What is checked against something other than the code under test: every file of the run
//! that finally completes is byte for byte the file of a run that was never interrupted (its
//! own, separate feature cache), run.json (and report.html's part that shows them) apart from
//! the fields that say when, how long, where the cache is and what was found in it; and
//! nothing staged is left beside the output.
//! Safetensors files (the heads, cache entries) are compared as their header's key-value
//! pairs and their data bytes: the safetensors crate writes header metadata in HashMap order,
//! which changes from process to process (every pair and every data byte must still agree).
//!
//! Where the runs are killed: fault points in the code (`MIAS_FAULT=<point>:<n>`, see
//! `mias::fault`) rather than timers, so that each kill lands exactly where an interruption
//! matters (between two cache entries, two heads, two result files, the two renames that
//! install a run) whatever the machine's speed, and the test needs no sleeps. Which pass of
//! each point is drawn from a seed (`MIAS_FAULT_SEED`, printed; a fixed one by default).

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Instant;

use crate::reproduce::{CONFIG, Fixture, fixture_with, shared_weights, stderr};

/// The end-to-end test's experiment with shorter head training: these tests are about what
/// an interruption leaves, not about what the heads learn.
fn fixture(weights: PathBuf) -> Fixture {
    assert!(CONFIG.contains("epochs = 30"));
    fixture_with(weights, &CONFIG.replace("epochs = 30", "epochs = 4"))
}

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// xorshift64*: the test's own seeded draws of where to kill.
struct Draws(u64);

impl Draws {
    /// A number in `1..=n`.
    fn one_to(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        1 + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Every file below `dir`, as paths relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// run.json without what legitimately differs between two runs of the same experiment.
fn record_without_circumstances(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("run.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let top = v.as_object_mut().unwrap();
    for key in ["started_unix_s", "timings_s", "command"] {
        assert!(top.remove(key).is_some(), "run.json has no {key}");
    }
    for m in top["members"].as_array_mut().unwrap() {
        let m = m.as_object_mut().unwrap();
        assert!(m.remove("features").is_some() && m.remove("feature_cache").is_some());
    }
    v
}

/// Where two files differ, in words.
fn difference(x: &[u8], y: &[u8]) -> String {
    let at = x.iter().zip(y).position(|(a, b)| a != b);
    format!(
        "{} and {} bytes, first difference at {at:?}: {:?} vs {:?}",
        x.len(),
        y.len(),
        at.map(|i| String::from_utf8_lossy(&x[i.saturating_sub(40)..(i + 40).min(x.len())])),
        at.map(|i| String::from_utf8_lossy(&y[i.saturating_sub(40)..(i + 40).min(y.len())])),
    )
}

/// report.html without its `#circumstances` part (run.json's when, how long and where).
fn report_without_circumstances(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let start = text
        .find("<div id=\"circumstances\">")
        .expect("report.html has a circumstances part");
    let end = start + text[start..].find("</div>").unwrap();
    format!("{}{}", &text[..start], &text[end..])
}

/// Asserts that the runs in `a` and `b` hold the same files with the same bytes.
fn assert_same_run(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa, fb, "the two runs hold different files");
    for f in &fa {
        if f == Path::new("run.json") {
            assert_eq!(
                record_without_circumstances(a),
                record_without_circumstances(b)
            );
        } else if f == Path::new("report.html") {
            let (x, y) = (
                report_without_circumstances(a),
                report_without_circumstances(b),
            );
            assert!(
                x == y,
                "report.html differs: {}",
                difference(x.as_bytes(), y.as_bytes())
            );
        } else {
            let (x, y) = (
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
            );
            assert!(x == y, "{} differs: {}", f.display(), difference(&x, &y));
        }
    }
}

/// Names beside the output directories that come from staging.
fn staged_leftovers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect()
}

fn killed_by(o: &Output, signal: i32, what: &str) {
    assert_eq!(
        o.status.signal(),
        Some(signal),
        "{what}: {:?}\n{}",
        o.status,
        stderr(o)
    );
}

fn with_fault(f: &Fixture, out: &str, fault: &str) -> Output {
    f.reproduce_command(out, &[])
        .env("MIAS_FAULT", fault)
        .output()
        .expect("running mias")
}

#[test]
fn runs_killed_anywhere_finish_with_the_files_of_an_uninterrupted_run() {
    let Some(weights) =
        shared_weights("runs_killed_anywhere_finish_with_the_files_of_an_uninterrupted_run")
    else {
        return;
    };
    let start = Instant::now();
    let f = fixture(weights);
    let seed: u64 = std::env::var("MIAS_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0009);
    let mut draws = Draws(seed | 1);

    let reference_cache = f.root.join("cache-reference").display().to_string();
    let o = f.reproduce("reference", &["--cache", &reference_cache]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The test config's run passes 80 cache entries (40 images x 2 views), 6 heads (the
    // split, 4 folds, the final head) and 10 result files before run.json.
    let run = f.root.join("run");
    let points = [
        format!("cache-entry:{}", draws.one_to(80)),
        format!("head:{}", draws.one_to(6)),
        format!("output:{}", draws.one_to(10)),
    ];
    eprintln!("MIAS_FAULT_SEED={seed}: killing at {points:?}, then at install:1");
    for point in &points {
        let o = with_fault(&f, "run", point);
        killed_by(&o, SIGKILL, point);
        assert!(!run.exists(), "{point}: a killed run installed something");
    }
    let o = f.reproduce("run", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_run(&f.root.join("reference"), &run);

    // Killed while installing over that run: between moving it aside and moving the new one
    // in. The next run puts the previous one back before it starts, then replaces it.
    let o = with_fault(&f, "run", "install:1");
    killed_by(&o, SIGKILL, "install:1");
    assert!(!run.exists());
    assert!(
        staged_leftovers(&f.root)
            .iter()
            .any(|n| n.ends_with(".old")),
        "{:?}",
        staged_leftovers(&f.root)
    );
    let o = f.reproduce("run", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("put the previous run back"),
        "{}",
        stderr(&o)
    );
    assert_same_run(&f.root.join("reference"), &run);
    assert_eq!(staged_leftovers(&f.root), Vec::<String>::new());
    eprintln!("fault injection: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn a_damaged_cache_entry_is_computed_again_and_the_run_carries_on() {
    let Some(weights) =
        shared_weights("a_damaged_cache_entry_is_computed_again_and_the_run_carries_on")
    else {
        return;
    };
    let f = fixture(weights);
    let o = f.reproduce("first", &["--protocol", "honest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.root.join("first/run.json")).unwrap()).unwrap();
    let entries = PathBuf::from(record["members"][0]["feature_cache"].as_str().unwrap());
    let entry = entries.join("mdb007.v1.safetensors");
    let bytes = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();

    let o = f.reproduce("second", &["--protocol", "honest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let warnings: Vec<&str> = std::str::from_utf8(&o.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&entry.display().to_string()),
        "{warnings:?}"
    );
    // Replaced whole by the same vector, and only that one computed.
    assert_eq!(std::fs::read(&entry).unwrap(), bytes);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.root.join("second/run.json")).unwrap()).unwrap();
    assert_eq!(record["members"][0]["features"]["computed"], 1);
    assert_eq!(record["members"][0]["features"]["replaced"], 1);
    assert_same_run(&f.root.join("first"), &f.root.join("second"));
}

/// Starts a run that stops at `point`, sends it `signal` there, and returns how it ended.
fn signalled_at(f: &Fixture, out: &str, point: &str, signal: &str) -> Output {
    let mut child = f
        .reproduce_command(out, &["--protocol", "honest"])
        .env("MIAS_FAULT", format!("{point}:hang"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("running mias");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("the run ended before {point}:\n{seen}");
        }
        seen.push_str(&line);
        if line.starts_with("fault point") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::io::Read::read_to_string(&mut err, &mut seen).unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout: Vec::new(),
        stderr: seen.into_bytes(),
    }
}

#[test]
fn sigint_and_sigterm_remove_the_staging_directory() {
    let Some(weights) = shared_weights("sigint_and_sigterm_remove_the_staging_directory") else {
        return;
    };
    let f = fixture(weights);
    // Interrupted with some result files staged: nothing of it is left.
    let o = signalled_at(&f, "out", "output:3", "INT");
    killed_by(&o, SIGINT, "SIGINT");
    assert!(
        stderr(&o).contains("interrupted: removed"),
        "{}",
        stderr(&o)
    );
    assert!(!f.root.join("out").exists());
    assert_eq!(staged_leftovers(&f.root), Vec::<String>::new());

    // Over a previous run: that run is left as it was.
    let o = f.reproduce("out", &["--protocol", "honest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = files(&f.root.join("out"));
    let record = std::fs::read(f.root.join("out/run.json")).unwrap();
    let o = signalled_at(&f, "out", "output:9", "TERM");
    killed_by(&o, SIGTERM, "SIGTERM");
    assert_eq!(files(&f.root.join("out")), before);
    assert_eq!(std::fs::read(f.root.join("out/run.json")).unwrap(), record);
    assert_eq!(staged_leftovers(&f.root), Vec::<String>::new());
}
