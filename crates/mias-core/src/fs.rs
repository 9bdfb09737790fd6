//! Files that appear whole or not at all, with the permissions a user expects.
//!
//! [`write_atomic`] and [`write_atomic_with`] are the only way mias writes an output file:
//!
//! 1. a temporary file `.{name}.XXXXXX.tmp` is created in the target's directory (created if
//!    missing), with mode `0o666` so that the kernel applies the umask as it does for any new
//!    file (`0o644` under the usual `022`; `tempfile` alone would give `0o600`, which makes a
//!    shared results folder unreadable to colleagues);
//! 2. the content is written and the file synced to disk;
//! 3. the file is renamed over the target (atomic within one file system);
//! 4. on Unix the directory is synced, so the rename itself survives a crash.
//!
//! A reader sees the old file or the new one, never a mixture; an error at any step removes
//! the temporary file and leaves the target as it was. Errors name the path concerned.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (see the [module docs](self)), replacing any file there.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| {
        file.write_all(bytes)
            .map_err(|e| Error::io("writing", path, e))
    })
}

/// Like [`write_atomic`], with the content streamed by `write` into the temporary file (a
/// download, an encoder writing as it goes). `write`'s error, or any error of the steps around
/// it converted into `E`, removes the temporary file; `path` is replaced only when all succeed.
/// Returns what `write` returned.
pub fn write_atomic_with<T, E, F>(path: &Path, write: F) -> Result<T, E>
where
    F: FnOnce(&mut File) -> Result<T, E>,
    E: From<Error>,
{
    let dir = directory_of(path);
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            "writing",
            path,
            std::io::Error::new(ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating directory", &dir, e))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) masks this with the umask, as for any file a program creates.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .map_err(|e| Error::io("creating a temporary file in", &dir, e))?;
    // Dropping `tmp` (on any early return below) deletes the temporary file.
    let value = write(tmp.as_file_mut())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("syncing", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    sync_directory(&dir)?;
    Ok(value)
}

/// The directory `path` lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Syncs a directory so that a rename in it is durable.
#[cfg(unix)]
fn sync_directory(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| Error::io("opening directory", dir, e))?;
    match handle.sync_all() {
        Ok(()) => Ok(()),
        // Some file systems cannot sync a directory (EINVAL): the rename is as durable as
        // they make it.
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => Ok(()),
        Err(e) => Err(Error::io("syncing directory", dir, e)),
    }
}

/// Windows cannot open a directory as a file without special flags; NTFS journals the
/// rename's metadata itself.
#[cfg(not(unix))]
fn sync_directory(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_the_content_and_an_overwrite_replaces_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("table.csv");
        write_atomic(&path, b"first version, longer than the second").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"first version, longer than the second"
        );
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(tmp.path()), ["table.csv"]);
    }

    #[test]
    fn creates_missing_directories_and_streams() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/c.bin");
        let n = write_atomic_with(&path, |f| -> Result<usize> {
            for i in 0..4u8 {
                f.write_all(&[i; 3])
                    .map_err(|e| Error::io("writing", &path, e))?;
            }
            Ok(12)
        })
        .unwrap();
        assert_eq!(n, 12);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
        );
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_naming_it_and_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out");
        std::fs::create_dir(&path).unwrap();
        let err = write_atomic(&path, b"data").unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            matches!(
                err,
                Error::Io {
                    action: "replacing",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(names(tmp.path()), ["out"]);
        assert!(names(&path).is_empty());
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("model.safetensors");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |f| -> Result<()> {
            f.write_all(b"half of the new").unwrap();
            Err(Error::io(
                "downloading",
                &path,
                std::io::Error::new(ErrorKind::ConnectionReset, "connection reset"),
            ))
        })
        .unwrap_err();
        assert!(matches!(
            err,
            Error::Io {
                action: "downloading",
                ..
            }
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(tmp.path()), ["model.safetensors"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert!(err.to_string().contains("not a file path"), "{err}");
    }

    /// The umask of this process: the one the parent test set (`MIAS_CORE_UMASK`), else the
    /// kernel's record in /proc (Linux), else unknown.
    #[cfg(unix)]
    fn current_umask() -> Option<u32> {
        if let Ok(text) = std::env::var("MIAS_CORE_UMASK") {
            return u32::from_str_radix(&text, 8).ok();
        }
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Umask:"))?;
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
    }

    /// Run alone, checks the mode under the current umask; run by
    /// [`files_get_0o666_less_an_explicit_umask`] in a child process, under the umask it set.
    #[cfg(unix)]
    #[test]
    fn mode_is_0o666_less_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let Some(umask) = current_umask() else {
            crate::skip::skip(
                "mode_is_0o666_less_the_umask",
                "the umask is not readable here (/proc/self/status)",
            );
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::env::var_os("MIAS_CORE_UMASK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| tmp.path().to_path_buf());
        let path = dir.join("results.md");
        write_atomic(&path, b"| a |").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask, "umask {umask:03o}");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_0o666_less_an_explicit_umask() {
        use std::os::unix::fs::PermissionsExt;
        let exe = std::env::current_exe().unwrap();
        // The umask belongs to the process: set it in a shell that then becomes this test
        // binary, running the test above.
        for (umask, expected) in [("022", 0o644), ("027", 0o640), ("002", 0o664)] {
            let tmp = tempfile::tempdir().unwrap();
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
                .arg(&exe)
                .args(["--exact", "fs::tests::mode_is_0o666_less_the_umask"])
                .args(["--test-threads", "1", "--nocapture"])
                .env("MIAS_CORE_UMASK", umask)
                .env("MIAS_CORE_UMASK_DIR", tmp.path())
                .output()
                .unwrap();
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "umask {umask}: {log}");
            let path = tmp.path().join("results.md");
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("umask {umask}: no file written ({e}): {log}"))
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, expected, "umask {umask}");
        }
    }
}
