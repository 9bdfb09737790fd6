//! Where a run's files are written before they become the run: a staging directory beside the
//! output directory `out`, renamed into place once every file is written, so `out` never holds
//! a half-written run and a previous run there is replaced only then.
//!
//! A run that is killed cannot remove its staging directory, so each run starts by removing
//! those that earlier runs left beside `out`. To tell them from the staging directory of a run
//! still going (a second run into the same place), each one has a lock file beside it,
//! `.<out>.partial-XXXXXX.lock`, created before the directory and locked for as long as its
//! run lives: the operating system releases the lock when the process ends, however it ends,
//! so a lock file that can be locked, or a directory without one, belongs to a dead run. If
//! the run died while installing, between moving the previous run aside and moving the new one
//! in, the previous run is put back.
//!
//! On SIGINT and SIGTERM, after [`remove_on_signal`], a handler thread removes the staging
//! directories of this process and ends it the way the signal asks.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};

/// The staging directories (and their lock files) of this process, for the signal handler.
static LIVE: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// A staging directory beside an output directory, removed unless installed.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    lock_path: PathBuf,
    lock: Option<File>,
}

/// What [`clean_stale`] did with one leftover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleaned {
    /// A staging directory (or lock file) of a dead run, removed.
    Removed(PathBuf),
    /// A previous run that a dead run had moved aside, put back at the output directory.
    Restored(PathBuf),
}

/// The directory that holds `out`, and the prefix of the staging names beside it.
fn place(out: &Path) -> (PathBuf, String) {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map_or_else(|| "results".into(), |n| n.to_string_lossy().into_owned());
    (parent, format!(".{name}.partial-"))
}

/// Name of the previous run while it is moved aside.
fn aside(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".old");
    PathBuf::from(name)
}

/// Name of a staging directory's lock file.
fn lock_of(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl Staging {
    /// Removes what killed runs left beside `out` (see [`clean_stale`]; each step is named on
    /// stderr), then creates a fresh staging directory beside it, locked as in use.
    pub fn begin(out: &Path) -> anyhow::Result<Staging> {
        let (parent, prefix) = place(out);
        fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        for cleaned in clean_stale(out)? {
            match cleaned {
                Cleaned::Removed(p) => {
                    eprintln!("removed {}, left by an interrupted run", p.display())
                }
                Cleaned::Restored(p) => eprintln!(
                    "put the previous run back at {} (an interrupted run had moved it to {})",
                    out.display(),
                    p.display()
                ),
            }
        }
        let (lock, lock_path) = locked_file(&parent, &prefix)?;
        let dir = lock_path.with_file_name(
            lock_path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".lock"))
                .context("naming the staging directory")?,
        );
        let staging = Staging {
            out: out.to_path_buf(),
            dir,
            lock_path,
            lock: Some(lock),
        };
        fs::create_dir(&staging.dir)
            .with_context(|| format!("creating {}", staging.dir.display()))?;
        live().push((staging.dir.clone(), staging.lock_path.clone()));
        Ok(staging)
    }

    /// The staging directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Puts the staged run at the output directory, replacing a previous run only now.
    pub fn install(mut self) -> anyhow::Result<()> {
        let out = self.out.clone();
        if out.exists() {
            let old = aside(&self.dir);
            fs::rename(&out, &old)
                .with_context(|| format!("moving the previous run {} aside", out.display()))?;
            crate::fault::point("install");
            fs::rename(&self.dir, &out)
                .with_context(|| format!("moving the new run into {}", out.display()))?;
            fs::remove_dir_all(&old)
                .with_context(|| format!("removing the previous run (now {})", old.display()))?;
        } else {
            fs::rename(&self.dir, &out)
                .with_context(|| format!("moving the new run into {}", out.display()))?;
        }
        self.release();
        Ok(())
    }

    /// Forgets the staging directory and removes its lock file (the lock ends with the file).
    fn release(&mut self) {
        live().retain(|(d, _)| *d != self.dir);
        let _ = fs::remove_file(&self.lock_path);
        self.lock = None;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.lock.is_some() {
            let _ = fs::remove_dir_all(&self.dir);
            self.release();
        }
    }
}

/// A new lock file `<prefix>XXXXXX.lock` in `parent`, locked. Another run's [`clean_stale`]
/// may find it between its creation and its lock and remove it (it removes lock files only
/// while it holds them): once locked, a file still in place is ours for good, so a removed
/// one is made again.
fn locked_file(parent: &Path, prefix: &str) -> anyhow::Result<(File, PathBuf)> {
    for _ in 0..8 {
        let (lock, path) = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(".lock")
            .tempfile_in(parent)
            .with_context(|| format!("creating a staging lock file in {}", parent.display()))?
            .keep()
            .context("keeping the staging lock file")?;
        lock.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        if path.is_file() {
            return Ok((lock, path));
        }
    }
    bail!(
        "{}: staging lock files keep disappearing (another program removing them?)",
        parent.display()
    )
}

fn live() -> std::sync::MutexGuard<'static, Vec<(PathBuf, PathBuf)>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes the staging directories and lock files that dead runs left beside `out`, and puts
/// back a previous run that a dead run had moved aside while `out` is missing. Those of runs
/// still alive (their lock is held) are left alone.
pub fn clean_stale(out: &Path) -> anyhow::Result<Vec<Cleaned>> {
    let (parent, prefix) = place(out);
    let entries = match fs::read_dir(&parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", parent.display())),
    };
    // Every staging name, without its `.lock` or `.old` ending.
    let mut bases = std::collections::BTreeSet::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", parent.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(&prefix) {
            let base = rest
                .strip_suffix(".lock")
                .or_else(|| rest.strip_suffix(".old"))
                .unwrap_or(rest);
            bases.insert(parent.join(format!("{prefix}{base}")));
        }
    }
    let mut cleaned = Vec::new();
    for dir in bases {
        let lock_path = lock_of(&dir);
        // Held while this leftover is cleaned, so that two runs do not both clean it.
        let _lock = match File::options().read(true).write(true).open(&lock_path) {
            Ok(f) => match f.try_lock() {
                Ok(()) => Some(f),
                Err(fs::TryLockError::WouldBlock) => continue,
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", lock_path.display()));
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("opening {}", lock_path.display())),
        };
        let old = aside(&dir);
        if old.is_dir() {
            if out.exists() {
                remove_dir(&old)?;
                cleaned.push(Cleaned::Removed(old));
            } else {
                fs::rename(&old, out)
                    .with_context(|| format!("putting the previous run {} back", old.display()))?;
                cleaned.push(Cleaned::Restored(old));
            }
        }
        let had_dir = dir.exists();
        if had_dir {
            remove_dir(&dir)?;
            cleaned.push(Cleaned::Removed(dir));
        }
        if _lock.is_some() {
            fs::remove_file(&lock_path)
                .with_context(|| format!("removing {}", lock_path.display()))?;
            if !had_dir {
                cleaned.push(Cleaned::Removed(lock_path));
            }
        }
    }
    Ok(cleaned)
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        fs::remove_dir_all(dir)
    } else {
        fs::remove_file(dir)
    }
    .with_context(|| format!("removing {}", dir.display()))
}

/// Refuses an `out` that holds something other than a previous run (a directory with
/// `marker` in it), so that installing a run never replaces someone's files.
pub fn check_out(out: &Path, marker: &str) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("--out {}: exists and is not a directory", out.display());
    }
    let empty = fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .next()
        .is_none();
    if !empty && !out.join(marker).is_file() {
        bail!(
            "--out {}: holds files that are not a mias run (no {marker}); choose another \
             directory, nothing was changed",
            out.display()
        );
    }
    Ok(())
}

/// From now on, SIGINT and SIGTERM remove this process's staging directories (and their lock
/// files) before the process ends as the signal asks: a handler thread (signal-hook) waits for
/// either signal, removes them, then restores the default action and raises the signal again,
/// so the exit status still says which signal ended the run. Anything a writer recreates in
/// the moment before the process ends has no lock file, and the next run removes it.
/// Idempotent; does nothing outside Unix.
pub fn remove_on_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        if INSTALLED.get().is_some() {
            return Ok(());
        }
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .context("installing the SIGINT/SIGTERM handler")?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    for (dir, lock) in live().drain(..) {
                        let _ = fs::remove_dir_all(&dir);
                        let _ = fs::remove_file(&lock);
                        eprintln!("interrupted: removed {}", dir.display());
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            })
            .context("starting the signal handler thread")?;
        let _ = INSTALLED.set(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_run_installs_whole_and_leaves_nothing_beside() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("results");
        let s = Staging::begin(&out).unwrap();
        fs::write(s.path().join("a.txt"), "1").unwrap();
        assert!(!out.exists());
        s.install().unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "1");
        // A second run replaces the first only when installed.
        let s = Staging::begin(&out).unwrap();
        fs::write(s.path().join("b.txt"), "2").unwrap();
        assert_eq!(names(&out), ["a.txt"]);
        s.install().unwrap();
        assert_eq!(names(&out), ["b.txt"]);
        assert_eq!(names(tmp.path()), ["results"]);
        // A run that fails (its staging dropped) leaves the previous run alone.
        let s = Staging::begin(&out).unwrap();
        fs::write(s.path().join("c.txt"), "3").unwrap();
        drop(s);
        assert_eq!(names(tmp.path()), ["results"]);
        assert_eq!(names(&out), ["b.txt"]);
    }

    #[test]
    fn leftovers_of_dead_runs_are_removed_and_those_of_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("results");
        // A live run: its lock is held by this process through `live`.
        let live = Staging::begin(&out).unwrap();
        fs::write(live.path().join("x"), "x").unwrap();
        // A dead run of this version: a directory and an unlocked lock file.
        let dead = tmp.path().join(".results.partial-dead01");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("metrics.csv"), "half").unwrap();
        fs::write(lock_of(&dead), "").unwrap();
        // A dead run of an older version: a directory without a lock file.
        let older = tmp.path().join(".results.partial-older1");
        fs::create_dir(&older).unwrap();
        // Someone else's files beside it are not touched.
        fs::write(tmp.path().join(".results.notes"), "mine").unwrap();

        let mut cleaned = clean_stale(&out).unwrap();
        cleaned.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            cleaned,
            [
                Cleaned::Removed(dead.clone()),
                Cleaned::Removed(older.clone())
            ]
        );
        assert!(!dead.exists() && !lock_of(&dead).exists() && !older.exists());
        assert!(live.path().join("x").is_file());
        assert!(lock_of(live.path()).is_file());
        drop(live);
        assert_eq!(names(tmp.path()), [".results.notes"]);
    }

    #[test]
    fn a_previous_run_moved_aside_by_a_dead_run_is_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("results");
        // Killed between its two renames: the previous run aside, the new one complete.
        let dead = tmp.path().join(".results.partial-dead02");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("run.json"), "new").unwrap();
        fs::create_dir(aside(&dead)).unwrap();
        fs::write(aside(&dead).join("run.json"), "previous").unwrap();
        fs::write(lock_of(&dead), "").unwrap();
        let cleaned = clean_stale(&out).unwrap();
        assert_eq!(
            cleaned,
            [
                Cleaned::Restored(aside(&dead)),
                Cleaned::Removed(dead.clone())
            ]
        );
        assert_eq!(
            fs::read_to_string(out.join("run.json")).unwrap(),
            "previous"
        );
        assert_eq!(names(tmp.path()), ["results"]);
    }

    #[test]
    fn out_must_be_absent_empty_or_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("r");
        check_out(&out, "run.json").unwrap();
        fs::create_dir(&out).unwrap();
        check_out(&out, "run.json").unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        let err = check_out(&out, "run.json").unwrap_err().to_string();
        assert!(err.contains("not a mias run"), "{err}");
        fs::write(out.join("run.json"), "{}").unwrap();
        check_out(&out, "run.json").unwrap();
    }
}
