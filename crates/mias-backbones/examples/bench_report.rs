//! The table of `cargo xtask bench`: reads criterion's results (`target/criterion`) and the
//! PyTorch timings written by `benches/torch_reference.py --json`, measures peak memory, and
//! prints one markdown table per topic.
//!
//! ```text
//! bench_report table [--criterion DIR] [--since UNIX_SECONDS] [--torch FILE.json] [--python PYTHON] [--no-rss]
//! bench_report rss BACKBONE BATCH
//! bench_report rss-dense BACKBONE SIDE
//! bench_report time CASE [--precision f32|bf16] [--reps N]
//! ```
//!
//! `time` builds the case's backbone (random weights) at the precision and prints `median_s S`,
//! the median of N timed runs after one warm-up, for CASE `vgg16_dense512`, `vgg16_dense1024`
//! (VGG16's conv5_3 map of one image) or `BACKBONE_b1`, `BACKBONE_b8` (pooled features at 224 of
//! `vgg16`, `xception`, `mobilenetv2` or `nasnetlarge`): `benches/peers_reference.py` calls it
//! between its own engines, round after round, so ours and theirs share the load.
//!
//! With `--peers FILE.json` (written by `peers_reference.py --json`), `table` adds every timed case
//! beside ONNX Runtime and OpenVINO (f32 and bf16), timed in the same rounds, with the ratios.
//!
//! `table` prints, per backbone and batch: our and PyTorch's milliseconds per image, their ratio
//! (ours / PyTorch, < 1 means faster), our achieved GFLOP/s (the model's FLOPs per image, a
//! multiply-add counted as 2) and its share of the machine's fp32 gemm peak (the best rate of the
//! `gemm` bench group); then the peak resident memory of one batch-8 forward pass for each
//! backbone, ours (this program re-run as `rss` in a fresh process) beside PyTorch's (the script
//! run with `--rss`); then VGG16's dense map of one whole image at 512 and 1024 px (conv5_3,
//! `DenseLayer::Last`; PyTorch: `features[:30]`), time and peak memory (`rss-dense`, and the
//! script with `--rss-dense`); then the augmentation throughput. A missing figure prints as `-`, and so
//! does a criterion result written before `--since` (a stale one from an earlier run).
//!
//! `rss` builds one backbone with random weights, runs two forward passes on a random batch and
//! prints `vmhwm_kib N`, the process's peak resident set size read from `/proc/self/status`;
//! `rss-dense` does the same for two dense maps (`DenseLayer::Last`) of one image of SIDE px.
//!
//! This lives in mias-backbones rather than in xtask because it needs JSON parsing and the
//! backbones themselves, while xtask stays dependency-free.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use candle_core::{DType, Device, Tensor};
use mias_backbones::{BackboneKind, DenseLayer, Flavor, Precision, models, weights};
use serde_json::Value;

/// Model FLOPs per image at the native side (multiply-add = 2), as given in issue 5.
fn gflop_per_image(kind: BackboneKind) -> f64 {
    match kind {
        BackboneKind::Vgg16 => 30.7,
        BackboneKind::Xception => 16.7,
        BackboneKind::MobileNetV2 => 0.60,
        BackboneKind::NasNetLarge => 47.6,
    }
}

const BATCHES: [usize; 2] = [1, 8];

/// The sides of VGG16's dense-map benches (`cpu_vgg16_dense{side}_b1`), batch 1.
const DENSE_SIDES: [usize; 2] = [512, 1024];

fn main() -> ExitCode {
    // As the `mias` command and the criterion benches run.
    mias_backbones::reuse_freed_buffers();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("rss") => rss(&args[1..]),
        Some("rss-dense") => rss_dense(&args[1..]),
        Some("table") => table(&args[1..]),
        Some("time") => time(&args[1..]),
        _ => Err("usage: bench_report table [--criterion DIR] [--torch FILE.json] [--python PYTHON] [--no-rss] | bench_report rss BACKBONE BATCH | bench_report rss-dense BACKBONE SIDE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`).
fn vmhwm_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM line in /proc/self/status".into())
}

fn rss(args: &[String]) -> Result<(), String> {
    let [name, batch] = args else {
        return Err("usage: bench_report rss BACKBONE BATCH".into());
    };
    let kind: BackboneKind = name.parse().map_err(|e| format!("{e}"))?;
    let batch: usize = batch
        .parse()
        .map_err(|_| format!("batch must be a positive integer, got {batch:?}"))?;
    let dev = Device::Cpu;
    let bb = models::build(kind, Flavor::Timm, weights::random_var_builder(0, &dev))
        .map_err(|e| format!("{kind}: {e}"))?;
    let side = kind.native_side();
    let x = Tensor::randn(0f32, 1.0, (batch, 3, side, side), &dev)
        .and_then(|x| x.to_dtype(DType::F32))
        .map_err(|e| e.to_string())?;
    for _ in 0..2 {
        let f = bb.features(&x).map_err(|e| format!("{kind}: {e}"))?;
        std::hint::black_box(f);
    }
    println!("vmhwm_kib {}", vmhwm_kib()?);
    Ok(())
}

fn rss_dense(args: &[String]) -> Result<(), String> {
    let [name, side] = args else {
        return Err("usage: bench_report rss-dense BACKBONE SIDE".into());
    };
    let kind: BackboneKind = name.parse().map_err(|e| format!("{e}"))?;
    let side: usize = side
        .parse()
        .map_err(|_| format!("side must be a positive integer, got {side:?}"))?;
    let dev = Device::Cpu;
    let bb = models::build(kind, Flavor::Timm, weights::random_var_builder(0, &dev))
        .map_err(|e| format!("{kind}: {e}"))?;
    let x = Tensor::randn(0f32, 1.0, (1, 3, side, side), &dev)
        .and_then(|x| x.to_dtype(DType::F32))
        .map_err(|e| e.to_string())?;
    for _ in 0..2 {
        let m = bb
            .dense_map(&x, DenseLayer::Last)
            .map_err(|e| format!("{kind}: {e}"))?;
        std::hint::black_box(m);
    }
    println!("vmhwm_kib {}", vmhwm_kib()?);
    Ok(())
}

/// A `time` case: `vgg16_dense512` and `vgg16_dense1024` (conv5_3 + ReLU of one image at that
/// side), or `BACKBONE_b1` / `BACKBONE_b8` (pooled features at 224 px, batch 1 or 8) for each of
/// the four backbones (`vgg16`, `xception`, `mobilenetv2`, `nasnetlarge`).
fn time_case(case: &str) -> Result<(BackboneKind, usize, usize, bool), String> {
    let unknown = || {
        format!(
            "unknown case {case:?} (expected vgg16_dense512, vgg16_dense1024, or BACKBONE_b1 / \
             BACKBONE_b8 with BACKBONE one of vgg16, xception, mobilenetv2, nasnetlarge)"
        )
    };
    match case {
        "vgg16_dense512" => return Ok((BackboneKind::Vgg16, 1, 512, true)),
        "vgg16_dense1024" => return Ok((BackboneKind::Vgg16, 1, 1024, true)),
        _ => {}
    }
    let (name, batch) = case.rsplit_once('_').ok_or_else(unknown)?;
    let batch = match batch {
        "b1" => 1,
        "b8" => 8,
        _ => return Err(unknown()),
    };
    let kind: BackboneKind = name.parse().map_err(|_| unknown())?;
    Ok((kind, batch, 224, false))
}

fn time(args: &[String]) -> Result<(), String> {
    let Some((case, rest)) = args.split_first() else {
        return Err("usage: bench_report time CASE [--precision f32|bf16] [--reps N]".into());
    };
    let (mut precision, mut reps) = (Precision::F32, 5usize);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--precision" => precision = v.parse().map_err(|e| format!("--precision: {e}"))?,
            "--reps" => {
                reps = v
                    .parse()
                    .ok()
                    .filter(|&r| r > 0)
                    .ok_or(format!("--reps wants a positive integer, got {v:?}"))?
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let (kind, batch, side, dense) = time_case(case)?;
    let dev = Device::Cpu;
    let bb = models::build_at(
        kind,
        Flavor::Timm,
        precision,
        weights::random_var_builder(0, &dev),
    )
    .map_err(|e| format!("{kind}: {e}"))?;
    let x = Tensor::randn(0f32, 1.0, (batch, 3, side, side), &dev)
        .and_then(|x| x.to_dtype(DType::F32))
        .map_err(|e| e.to_string())?;
    let run = || -> Result<(), String> {
        let y = if dense {
            bb.dense_map(&x, DenseLayer::Last)
        } else {
            bb.features(&x)
        };
        std::hint::black_box(y.map_err(|e| format!("{kind}: {e}"))?);
        Ok(())
    };
    run()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = std::time::Instant::now();
        run()?;
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!("median_s {}", times[reps / 2]);
    Ok(())
}

/// Options of `table`.
struct TableArgs {
    criterion: PathBuf,
    since: Option<std::time::SystemTime>,
    torch: Option<PathBuf>,
    peers: Option<PathBuf>,
    python: Option<String>,
    rss: bool,
}

fn parse_table_args(args: &[String]) -> Result<TableArgs, String> {
    let mut out = TableArgs {
        criterion: PathBuf::from("target/criterion"),
        since: None,
        torch: None,
        peers: None,
        python: None,
        rss: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--criterion" => out.criterion = value()?.into(),
            "--torch" => out.torch = Some(value()?.into()),
            "--peers" => out.peers = Some(value()?.into()),
            "--since" => {
                let v = value()?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--since wants seconds since 1970, got {v:?}"))?;
                out.since = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
            }
            "--python" => out.python = Some(value()?),
            "--no-rss" => out.rss = false,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(out)
}

/// Criterion's median time per iteration in seconds for `group/bench`, if that bench ran (at or
/// after `since`, when given).
fn criterion_median_s(
    dir: &Path,
    group: &str,
    bench: &str,
    since: Option<std::time::SystemTime>,
) -> Option<f64> {
    let path = dir.join(group).join(bench).join("new/estimates.json");
    if let Some(since) = since {
        let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if written < since {
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64().map(|ns| ns * 1e-9)
}

/// The best GFLOP/s of the `gemm` group's `<prefix>_<n>_t<threads>` benches (`sgemm`, or
/// `bf16gemm`), with the bench's name.
fn gemm_peak(
    dir: &Path,
    prefix: &str,
    since: Option<std::time::SystemTime>,
) -> Option<(f64, String)> {
    let entries = std::fs::read_dir(dir.join("gemm")).ok()?;
    let mut best: Option<(f64, String)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('_'))
            .and_then(|r| r.split('_').next())
            .and_then(|n| n.parse::<f64>().ok())
        else {
            continue;
        };
        if let Some(t) = criterion_median_s(dir, "gemm", &name, since) {
            let gflops = 2.0 * n * n * n / t * 1e-9;
            if best.as_ref().is_none_or(|(b, _)| gflops > *b) {
                best = Some((gflops, name));
            }
        }
    }
    best
}

/// PyTorch's seconds per batch, `{backbone: {batch: seconds}}`, and peak RSS in KiB per backbone.
type TorchTimes = BTreeMap<String, BTreeMap<usize, f64>>;

fn read_torch(path: &Path) -> Result<(TorchTimes, String), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let mut out = TorchTimes::new();
    if let Some(times) = v["seconds_per_batch"].as_object() {
        for (name, per_batch) in times {
            let Some(per_batch) = per_batch.as_object() else {
                continue;
            };
            for (b, s) in per_batch {
                if let (Ok(b), Some(s)) = (b.parse::<usize>(), s.as_f64()) {
                    out.entry(name.clone()).or_default().insert(b, s);
                }
            }
        }
    }
    let versions = format!(
        "torch {} / timm {}, {} threads",
        v["torch"].as_str().unwrap_or("?"),
        v["timm"].as_str().unwrap_or("?"),
        v["threads"].as_u64().map_or("?".into(), |t| t.to_string()),
    );
    Ok((out, versions))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// Runs `cmd` and returns the number after `vmhwm_kib` in its output.
fn measure_rss(mut cmd: Command) -> Option<u64> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "bench_report: {cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("vmhwm_kib "))
        .and_then(|v| v.trim().parse().ok())
}

fn table(args: &[String]) -> Result<(), String> {
    let a = parse_table_args(args)?;
    let peak = gemm_peak(&a.criterion, "sgemm", a.since);
    let peak_bf16 = gemm_peak(&a.criterion, "bf16gemm", a.since);
    let (torch, versions) = match &a.torch {
        Some(p) => read_torch(p)?,
        None => (TorchTimes::new(), "no PyTorch run".into()),
    };
    match &peak {
        Some((g, name)) => println!("gemm peak: {g:.1} GFLOP/s (gemm/{name})"),
        None => println!("gemm peak: - (run `cargo bench -p mias-backbones --bench gemm`)"),
    }
    if let Some((g, name)) = &peak_bf16 {
        println!("bf16 gemm peak: {g:.1} GFLOP/s (gemm/{name})");
    }
    // A busy machine skews every figure (PyTorch's OpenMP threads suffer most): say so.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("load average now (1, 5, 15 min): {}", load.join(" "));
    }
    // The multi-thread 1024^3 product should be well over 1.3x the one-thread one when idle.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t1 = criterion_median_s(&a.criterion, "gemm", "sgemm_1024_t1", a.since);
    let tn = criterion_median_s(
        &a.criterion,
        "gemm",
        &format!("sgemm_1024_t{threads}"),
        a.since,
    );
    if let (Some(t1), Some(tn)) = (t1, tn)
        && threads > 1
        && t1 / tn < 1.3
    {
        println!(
            "warning: {threads} threads ran the gemm only {:.2}x faster than one: other processes \
             held the cores, so the peak, the times and the ratios below are not idle figures",
            t1 / tn
        );
    }
    println!("PyTorch: {versions}");
    println!();
    println!(
        "| backbone | batch | ours ms/image | PyTorch ms/image | ratio | GFLOP/s | % of gemm peak | ours bf16 ms/image | bf16 GFLOP/s | % of bf16 gemm peak |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for kind in BackboneKind::ALL {
        for b in BATCHES {
            let ours = criterion_median_s(
                &a.criterion,
                "backbones",
                &format!("cpu_{kind}_b{b}"),
                a.since,
            );
            let theirs = torch.get(kind.name()).and_then(|m| m.get(&b)).copied();
            let per_image = |s: Option<f64>| s.map(|s| s / b as f64);
            let gflops = per_image(ours).map(|s| gflop_per_image(kind) / s);
            let bf16 = criterion_median_s(
                &a.criterion,
                "backbones",
                &format!("cpu_{kind}_b{b}_bf16"),
                a.since,
            );
            let gflops_bf16 = per_image(bf16).map(|s| gflop_per_image(kind) / s);
            println!(
                "| {kind} | {b} | {} | {} | {} | {} | {} | {} | {} | {} |",
                fmt_opt(per_image(ours).map(|s| s * 1e3), 1),
                fmt_opt(per_image(theirs).map(|s| s * 1e3), 1),
                fmt_opt(ours.zip(theirs).map(|(o, t)| o / t), 2),
                fmt_opt(gflops, 0),
                fmt_opt(
                    gflops.zip(peak.as_ref()).map(|(g, (p, _))| 100.0 * g / p),
                    0
                ),
                fmt_opt(per_image(bf16).map(|s| s * 1e3), 1),
                fmt_opt(gflops_bf16, 0),
                fmt_opt(
                    gflops_bf16
                        .zip(peak_bf16.as_ref())
                        .map(|(g, (p, _))| 100.0 * g / p),
                    0
                ),
            );
        }
    }
    if a.rss {
        println!();
        println!("| backbone | peak RSS ours, batch 8 | peak RSS PyTorch, batch 8 |");
        println!("|---|---|---|");
        let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_reference.py");
        for kind in BackboneKind::ALL {
            let mut ours = Command::new(&me);
            ours.args(["rss", kind.name(), "8"]);
            let theirs = a.python.as_ref().and_then(|py| {
                let mut cmd = Command::new(py);
                cmd.arg(&script).args(["--rss", kind.name()]);
                measure_rss(cmd)
            });
            let mib = |k: Option<u64>| fmt_opt(k.map(|k| k as f64 / 1024.0), 0) + " MiB";
            println!("| {kind} | {} | {} |", mib(measure_rss(ours)), mib(theirs));
        }
    }
    println!();
    println!(
        "| VGG16 dense map (conv5_3), batch 1 | ours ms/image | PyTorch ms/image | ratio | peak RSS ours | peak RSS PyTorch | ours bf16 ms/image |"
    );
    println!("|---|---|---|---|---|---|---|");
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_reference.py");
    for side in DENSE_SIDES {
        let ours = criterion_median_s(
            &a.criterion,
            "backbones",
            &format!("cpu_vgg16_dense{side}_b1"),
            a.since,
        );
        let theirs = torch
            .get(&format!("vgg16_dense{side}"))
            .and_then(|m| m.get(&1))
            .copied();
        let (rss_ours, rss_theirs) = if a.rss {
            let mut cmd = Command::new(&me);
            cmd.args(["rss-dense", "vgg16", &side.to_string()]);
            let theirs = a.python.as_ref().and_then(|py| {
                let mut cmd = Command::new(py);
                cmd.arg(&script)
                    .args(["--rss-dense", "vgg16", &side.to_string()]);
                measure_rss(cmd)
            });
            (measure_rss(cmd), theirs)
        } else {
            (None, None)
        };
        let mib = |k: Option<u64>| fmt_opt(k.map(|k| k as f64 / 1024.0), 0) + " MiB";
        let bf16 = criterion_median_s(
            &a.criterion,
            "backbones",
            &format!("cpu_vgg16_dense{side}_b1_bf16"),
            a.since,
        );
        println!(
            "| {side} px | {} | {} | {} | {} | {} | {} |",
            fmt_opt(ours.map(|s| s * 1e3), 1),
            fmt_opt(theirs.map(|s| s * 1e3), 1),
            fmt_opt(ours.zip(theirs).map(|(o, t)| o / t), 2),
            mib(rss_ours),
            mib(rss_theirs),
            fmt_opt(bf16.map(|s| s * 1e3), 1),
        );
    }
    if let Some(path) = &a.peers {
        peers_table(path)?;
    }
    println!();
    println!("| augmentation bench (mias-data, 1024x1024 input) | images/s |");
    println!("|---|---|");
    let dir = a.criterion.join("augment");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("cpu_"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for n in names {
        let rate = criterion_median_s(&a.criterion, "augment", &n, a.since).map(|s| 1.0 / s);
        println!("| {n} | {} |", fmt_opt(rate, 1));
    }
    Ok(())
}

/// The table of `peers_reference.py --json`: every case on mias (f32, bf16), ONNX Runtime and
/// OpenVINO (f32, bf16), medians over the same interleaved rounds, and ours / OpenVINO: the
/// median over rounds of the ratio within each round.
fn peers_table(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let s = &v["seconds_per_batch"];
    let engines = [
        "mias_f32",
        "mias_bf16",
        "onnxruntime",
        "openvino_f32",
        "openvino_bf16",
    ];
    println!();
    println!(
        "Peers ({}; {} threads; load {} before, {} after; OpenVINO bf16 ran as {}):",
        v["versions"]
            .as_object()
            .map(|o| o
                .iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        v["threads"].as_u64().map_or("?".into(), |t| t.to_string()),
        v["load_before"].as_str().unwrap_or("?"),
        v["load_after"].as_str().unwrap_or("?"),
        v["openvino_bf16_precision"].as_str().unwrap_or("?"),
    );
    println!();
    println!(
        "| case, ms per batch | mias f32 | mias bf16 | ONNX Runtime | OpenVINO f32 | OpenVINO bf16 | mias bf16 / OpenVINO bf16 | mias f32 / OpenVINO f32 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut cases: Vec<&String> = s
        .as_object()
        .map(|o| {
            o.values()
                .filter_map(|c| c.as_object())
                .flat_map(|c| c.keys())
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases.dedup();
    for case in cases {
        let t = |e: &str| s[e][case.as_str()].as_f64();
        let cells: Vec<String> = engines
            .iter()
            .map(|e| fmt_opt(t(e).map(|s| s * 1e3), 1))
            .collect();
        // The ratio of two engines is the median over rounds of their ratio in the same round
        // (paired: both ran back to back under the same load), not the ratio of the medians.
        let rounds = |e: &str| -> Option<Vec<f64>> {
            v["rounds"][e][case.as_str()]
                .as_array()?
                .iter()
                .map(Value::as_f64)
                .collect()
        };
        let ratio = |a: &str, b: &str| {
            let paired = rounds(a).zip(rounds(b)).and_then(|(a, b)| {
                let mut r: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a / b).collect();
                r.sort_by(f64::total_cmp);
                (a.len() == b.len() && !r.is_empty()).then(|| {
                    let n = r.len();
                    if n % 2 == 1 {
                        r[n / 2]
                    } else {
                        (r[n / 2 - 1] + r[n / 2]) / 2.0
                    }
                })
            });
            fmt_opt(paired, 2)
        };
        println!(
            "| {case} | {} | {} | {} |",
            cells.join(" | "),
            ratio("mias_bf16", "openvino_bf16"),
            ratio("mias_f32", "openvino_f32"),
        );
    }
    Ok(())
}
