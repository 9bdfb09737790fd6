//! `cargo xtask …`: the project's entry point for people and CI.
//!
//! Deliberately thin and dependency-free: every data or model command is forwarded to the
//! `mias` application, built in release mode (with `--features cuda` when `--cuda` is given),
//! so that `cargo xtask reproduce` runs optimised code while `cargo test` stays a debug build.
//! `cargo xtask ci` runs the same checks as `.ci/run`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <command> [args]

Commands forwarded to the `mias` application (release build):
  reproduce   the paper's experiment under three protocols (with a permutation control) and
              the lesion method
  leak-sweep  the paper protocol over copies per image and augmentation strength
  predict     apply a finished run's ensemble to a new mammogram
  report      rewrite a finished run's report.html (one self-contained page) from its files
  fetch-data, dataset, augment, features
  (`cargo xtask <command> --help` lists each command's options)

Project tasks:
  ci        cargo fmt --check, clippy -D warnings, cargo test (what .ci/run runs)
  bench     criterion benches (backbones, gemm peak, augmentation), then PyTorch's timings when
            `python3` (or $MIAS_TORCH_PYTHON) imports torch and timm, then one table with
            ms/image, ratio to PyTorch, GFLOP/s, % of gemm peak and peak RSS (MIAS_BENCH_ONLY=vgg16,..);
            every CPU bench also in bf16 (`_bf16`, % of the bf16 gemm peak); then, when
            $MIAS_PEERS_PYTHON (or that python) imports onnx, onnxruntime and openvino, VGG16 on
            ONNX Runtime and OpenVINO f32/bf16 and ours, rounds interleaved, with the ratios
  scale N.. mias-data's bookkeeping on generated collections of N films each (open, folds,
            audit, permutation: seconds and peak memory), one release process per size;
            default 10000 100000 1000000
  help      this text

Global option:
  --cuda    build `mias` with the `cuda` feature (needs nvcc and a CUDA GPU)
";

fn main() -> ExitCode {
    let mut args: Vec<String> = env::args().skip(1).collect();
    let cuda = take_flag(&mut args, "--cuda");
    let Some(command) = args.first().cloned() else {
        eprint!("{HELP}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "ci" => ci(),
        "bench" => bench(),
        "scale" => scale(&args[1..]),
        _ => run_mias(&args, cuda),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Removes every occurrence of `flag` from `args` and says whether there was one.
fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != flag);
    args.len() != before
}

/// Builds `mias` in release mode and runs it with `args`. The working directory stays the
/// caller's, so relative paths on the command line mean what the person typing them meant.
fn run_mias(args: &[String], cuda: bool) -> Result<(), String> {
    let mut cmd = Command::new(cargo_bin());
    let manifest = workspace_root().join("Cargo.toml");
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "mias",
        "--manifest-path",
    ]);
    cmd.arg(manifest);
    if cuda {
        cmd.args(["--features", "cuda"]);
    }
    cmd.arg("--").args(args);
    status(cmd)
}

fn scale(sizes: &[String]) -> Result<(), String> {
    let default = ["10000", "100000", "1000000"].map(String::from);
    let sizes = if sizes.is_empty() {
        &default[..]
    } else {
        sizes
    };
    for n in sizes {
        let mut cmd = cargo();
        cmd.args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "mias-data",
            "--example",
            "scale",
            "--",
            n,
        ]);
        status(cmd)?;
    }
    Ok(())
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    status(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    status(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    status(test)
}

/// `cargo xtask bench`: criterion benches, the PyTorch side when available, then the table
/// printed by mias-backbones' `bench_report` example (it parses JSON; xtask stays dependency-free).
fn bench() -> Result<(), String> {
    // Timings mean little on a busy machine: show the load before starting.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("xtask: load average before the benches: {}", load.trim());
    }
    // Results older than this run are left out of the table.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut backbones = cargo();
    backbones.args([
        "bench",
        "-p",
        "mias-backbones",
        "--bench",
        "backbones",
        "--bench",
        "gemm",
    ]);
    status(backbones)?;
    let mut augment = cargo();
    augment.args(["bench", "-p", "mias-data", "--bench", "augment"]);
    status(augment)?;
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let python = env::var("MIAS_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python)
        .args(["-c", "import torch, timm"])
        .status()
        .is_ok_and(|s| s.success());
    let torch_json = target.join("bench").join("torch.json");
    let mut report = cargo();
    report.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "mias-backbones",
        "--example",
    ]);
    report.args(["bench_report", "--", "table", "--criterion"]);
    report.arg(target.join("criterion"));
    report.args(["--since", &started.to_string()]);
    let peers_python = env::var("MIAS_PEERS_PYTHON").unwrap_or_else(|_| python.clone());
    let has_peers = Command::new(&peers_python)
        .args(["-c", "import onnx, onnxruntime, openvino"])
        .status()
        .is_ok_and(|s| s.success());
    if has_peers {
        // Ours runs inside the peers' rounds through the report program's `time` command.
        let mut build = cargo();
        build.args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "mias-backbones",
            "--example",
            "bench_report",
        ]);
        status(build)?;
        let peers_json = target.join("bench").join("peers.json");
        let mut peers = Command::new(&peers_python);
        peers.arg(workspace_root().join("crates/mias-backbones/benches/peers_reference.py"));
        peers
            .arg("--ours")
            .arg(target.join("release/examples/bench_report"));
        peers.arg("--json").arg(&peers_json);
        status(peers)?;
        report.arg("--peers").arg(&peers_json);
    } else {
        eprintln!(
            "xtask: `{peers_python}` cannot import onnx, onnxruntime and openvino: no ONNX Runtime / OpenVINO table (set MIAS_PEERS_PYTHON)"
        );
    }
    if has_torch {
        let mut torch = Command::new(&python);
        torch.arg(workspace_root().join("crates/mias-backbones/benches/torch_reference.py"));
        torch.arg("--json").arg(&torch_json);
        status(torch)?;
        report
            .arg("--torch")
            .arg(&torch_json)
            .args(["--python", &python]);
    } else {
        eprintln!(
            "xtask: `{python}` cannot import torch and timm: no PyTorch columns (set MIAS_TORCH_PYTHON)"
        );
    }
    status(report)
}

/// A cargo command run from the workspace root.
fn cargo() -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(workspace_root());
    cmd
}

fn cargo_bin() -> std::ffi::OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn status(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}
