//! Tests that need files from outside the repository (`../shared`'s dataset and weights, the
//! CBIS-DDSM mammograms, a browser) and cannot run without them.
//!
//! Such a test asks [`skip`] what to do. Normally the skip is said out loud: one `SKIPPED
//! <test>: <reason>` line written straight to the process's standard error, which the test
//! harness does not capture (it captures `eprintln!` of a passing test and shows nothing), so
//! `cargo test` shows it beside the `ok`. Under `MIAS_REQUIRE_DATA=1` (CI, which always has
//! `../shared`) a skip is a failure: the call panics, naming the test and what was missing, so
//! a green strict run means every test ran.
//!
//! Where the files are: `MIAS_SHARED_DIR` (default: `shared/` beside the repository's
//! checkout), `MIAS_DATA_DIR` (default: the Mini-MIAS directory in it).

use std::io::Write;
use std::path::PathBuf;

/// The environment variable that turns every skip into a failure (`1`).
pub const STRICT_ENV: &str = "MIAS_REQUIRE_DATA";

/// True when `MIAS_REQUIRE_DATA=1`.
pub fn strict() -> bool {
    std::env::var(STRICT_ENV).is_ok_and(|v| v == "1")
}

/// `test` cannot run for `reason`. Under [`strict`] it panics; otherwise it writes `SKIPPED
/// <test>: <reason>` to standard error, past the test harness's capture, and the caller
/// returns.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !strict(),
        "{test} could not run under {STRICT_ENV}=1: {reason}"
    );
    // A direct write on the handle: the harness's capture only takes the print macros.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// The shared directory: `MIAS_SHARED_DIR`, else `shared/` beside the repository's checkout.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("MIAS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// The real Mini-MIAS directory: `MIAS_DATA_DIR`, else `data/mini-mias` of [`shared_dir`].
pub fn data_dir() -> PathBuf {
    std::env::var_os("MIAS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_dir().join("data/mini-mias"))
}

/// `shared_dir()/<relative>` when it exists; otherwise the skip is said ([`skip`]) and `None`.
pub fn shared_file(test: &str, relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        Some(path)
    } else {
        skip(
            test,
            &format!(
                "{} is absent (set MIAS_SHARED_DIR to the shared directory)",
                path.display()
            ),
        );
        None
    }
}

/// The real Mini-MIAS directory when it holds `Info.txt`; otherwise the skip is said and `None`.
pub fn real_data(test: &str) -> Option<PathBuf> {
    let dir = data_dir();
    if dir.join("Info.txt").is_file() {
        Some(dir)
    } else {
        skip(
            test,
            &format!(
                "the real Mini-MIAS data is not at {} (set MIAS_DATA_DIR or MIAS_SHARED_DIR)",
                dir.display()
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strict mode is read from the environment at each call; run in a child process so
    /// the variable is set for it alone.
    #[test]
    fn a_skip_fails_under_the_strict_mode_and_is_said_otherwise() {
        if std::env::var_os("MIAS_CORE_SKIP_CHILD").is_some() {
            skip("child", "nothing here");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let run = |strict: bool| {
            let mut c = std::process::Command::new(&exe);
            c.args([
                "skip::tests::a_skip_fails_under_the_strict_mode_and_is_said_otherwise",
                "--exact",
                "--test-threads=1",
            ])
            .env("MIAS_CORE_SKIP_CHILD", "1")
            .env_remove(STRICT_ENV);
            if strict {
                c.env(STRICT_ENV, "1");
            }
            c.output().unwrap()
        };
        let lax = run(false);
        assert!(lax.status.success());
        let text = String::from_utf8_lossy(&lax.stderr);
        assert!(text.contains("SKIPPED child: nothing here"), "{text}");
        let strict = run(true);
        assert!(!strict.status.success(), "a strict skip passed");
        let text = String::from_utf8_lossy(&strict.stdout);
        assert!(
            text.contains("could not run under MIAS_REQUIRE_DATA=1"),
            "{text}"
        );
    }
}
