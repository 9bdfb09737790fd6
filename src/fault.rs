//! Fault injection, for the tests that kill `reproduce` part-way and check what a rerun makes
//! of what is left. Off unless the environment variable `MIAS_FAULT` is set (one lookup per
//! process):
//!
//! - `MIAS_FAULT=<point>:<n>` kills the process with SIGKILL (elsewhere than Unix: aborts it)
//!   the `n`-th time it passes `point`: no destructor or handler runs, as when a machine
//!   loses power or a user sends `kill -9`;
//! - `MIAS_FAULT=<point>:<n>:hang` stops it there instead: a line `fault point <point>
//!   reached` on stderr, then it waits for a signal (for the tests of SIGINT and SIGTERM).
//!
//! The points sit where an interruption would matter: `cache-entry` (a feature cache entry
//! was stored), `head` (a head was trained), `output` (a result file was written into the
//! staging directory), `install` (the previous run was moved aside, the new one not yet in
//! place).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable that arms a fault.
pub const ENV: &str = "MIAS_FAULT";

/// What happens at the armed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Kill,
    Hang,
}

/// The armed fault: the point, the pass that triggers it, the action.
#[derive(Debug, PartialEq, Eq)]
struct Fault {
    point: String,
    pass: usize,
    action: Action,
}

fn parse(spec: &str) -> Result<Fault, String> {
    let mut fields = spec.split(':');
    let point = fields.next().unwrap_or_default().trim();
    let pass = fields.next().map(str::trim);
    let action = match fields.next().map(str::trim) {
        None | Some("kill") => Action::Kill,
        Some("hang") => Action::Hang,
        Some(other) => return Err(format!("unknown action {other:?} (kill or hang)")),
    };
    let pass: usize = match pass.map(str::parse) {
        Some(Ok(n)) if n >= 1 => n,
        _ => return Err("expected <point>:<n>[:hang] with n >= 1".into()),
    };
    if point.is_empty() || fields.next().is_some() {
        return Err("expected <point>:<n>[:hang]".into());
    }
    Ok(Fault {
        point: point.to_string(),
        pass,
        action,
    })
}

fn armed() -> Option<&'static Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    FAULT
        .get_or_init(|| {
            let spec = std::env::var(ENV).ok()?;
            match parse(&spec) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("warning: {ENV}={spec:?} ignored: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// Marks a fault point: does nothing unless [`ENV`] arms this point and this is its pass.
pub fn point(name: &str) {
    static PASSES: AtomicUsize = AtomicUsize::new(0);
    let Some(fault) = armed() else {
        return;
    };
    if fault.point != name || PASSES.fetch_add(1, Ordering::SeqCst) + 1 != fault.pass {
        return;
    }
    match fault.action {
        Action::Kill => kill_self(),
        Action::Hang => {
            eprintln!("fault point {name} reached");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

#[cfg(unix)]
fn kill_self() -> ! {
    let _ = signal_hook::low_level::raise(signal_hook::consts::SIGKILL);
    std::process::abort()
}

#[cfg(not(unix))]
fn kill_self() -> ! {
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse("head:3").unwrap(),
            Fault {
                point: "head".into(),
                pass: 3,
                action: Action::Kill
            }
        );
        assert_eq!(parse("output:1:hang").unwrap().action, Action::Hang);
        for bad in [
            "head",
            "head:0",
            "head:x",
            ":2",
            "head:2:nap",
            "head:2:hang:1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
