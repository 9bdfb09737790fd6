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
  reproduce   the paper's experiment and the leakage-free one, side by side
  predict     apply a finished run's ensemble to a new mammogram
  fetch-data, dataset, augment, features
  (`cargo xtask <command> --help` lists each command's options)

Project tasks:
  ci        cargo fmt --check, clippy -D warnings, cargo test (what .ci/run runs)
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
