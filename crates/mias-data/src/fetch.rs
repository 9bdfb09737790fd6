//! Getting Mini-MIAS onto disk: the official archive over HTTP, or a local copy (a directory
//! or an archive) for machines without network.
//!
//! Atomic and idempotent: everything is assembled in a staging directory beside the
//! destination, verified against the committed checksums, and only then renamed into place,
//! so an interrupted or corrupt download never looks like a dataset. A destination that
//! already verifies is left alone.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dataset::{Dataset, INFO_FILE, ImageFormat};
use crate::error::{Error, Result};

/// The official distribution of the database.
pub const OFFICIAL_URL: &str = "http://peipa.essex.ac.uk/pix/mias/all-mias.tar.gz";

/// Where to get the dataset from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Download an archive (`.tar.gz` or `.tar`) over HTTP(S).
    Url(String),
    /// Import a local directory (official or staged layout) or archive.
    Local(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Url(u) => f.write_str(u),
            Source::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What [`fetch`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The dataset directory.
    pub dir: PathBuf,
    /// True when the destination already held the verified dataset and nothing was done.
    pub already_present: bool,
    /// How the images are stored.
    pub format: ImageFormat,
}

/// Makes `dest` hold the complete, verified Mini-MIAS from `source`.
pub fn fetch(dest: &Path, source: &Source, progress: bool) -> Result<Fetched> {
    if dest.join(INFO_FILE).is_file()
        && let Ok(ds) = Dataset::open(dest)
        && let Some(format) = ds.format()
    {
        return Ok(Fetched {
            dir: dest.to_path_buf(),
            already_present: true,
            format,
        });
    }
    let name = dest
        .file_name()
        .ok_or_else(|| Error::Fetch(format!("{}: not a directory name", dest.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let result = assemble(&staging, source, progress).and_then(|()| {
        let ds = Dataset::open(&staging)?;
        ds.format().ok_or_else(|| {
            Error::Fetch(format!(
                "{}: assembled a {} dataset, not Mini-MIAS",
                staging.display(),
                ds.kind()
            ))
        })
    });
    let format = match result {
        Ok(format) => format,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Swap into place: the old, unverifiable destination (if any) moves aside first.
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if dest.exists() {
        fs::rename(dest, &old).map_err(|e| Error::io(dest, e))?;
    }
    if let Err(e) = fs::rename(&staging, dest) {
        if old.exists() {
            let _ = fs::rename(&old, dest);
        }
        let _ = fs::remove_dir_all(&staging);
        return Err(Error::io(dest, e));
    }
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(Fetched {
        dir: dest.to_path_buf(),
        already_present: false,
        format,
    })
}

/// Fills a fresh staging directory from the source.
fn assemble(staging: &Path, source: &Source, progress: bool) -> Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    }
    fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    match source {
        Source::Url(url) => {
            let archive = staging.join("download.archive");
            download(url, &archive, progress)?;
            extract(&archive, staging)?;
            fs::remove_file(&archive).map_err(|e| Error::io(&archive, e))
        }
        Source::Local(path) if path.is_dir() => copy_dir(path, staging),
        Source::Local(path) if path.is_file() => extract(path, staging),
        Source::Local(path) => Err(Error::Fetch(format!(
            "{}: no such file or directory to import from",
            path.display()
        ))),
    }
}

/// Downloads `url` into `to`, with a progress bar on a terminal.
pub fn download(url: &str, to: &Path, progress: bool) -> Result<()> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(60))
        .build();
    let offline_hint = "to work without network, import a local copy with \
         `cargo xtask fetch-data --from DIR_OR_ARCHIVE` (e.g. --from ../shared/data/mini-mias), \
         or pass `--data DIR` to the command that needs the data";
    let response = agent
        .get(url)
        .call()
        .map_err(|e| Error::Fetch(format!("cannot download {url}: {e}; {offline_hint}")))?;
    let total = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message("downloading Mini-MIAS");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let file = File::create(to).map_err(|e| Error::io(to, e))?;
    let mut writer = BufWriter::new(file);
    let mut reader = bar.wrap_read(response.into_reader());
    let copied = io::copy(&mut reader, &mut writer)
        .map_err(|e| Error::Fetch(format!("download of {url} interrupted: {e}")))?;
    writer.flush().map_err(|e| Error::io(to, e))?;
    bar.finish_and_clear();
    if let Some(total) = total
        && copied != total
    {
        return Err(Error::Fetch(format!(
            "download of {url} incomplete: {copied} of {total} bytes"
        )));
    }
    Ok(())
}

/// Is `name` one of the files a dataset directory keeps? Returns where it goes.
fn destination(name: &str) -> Option<PathBuf> {
    let is_image = |ext: &str| {
        name.strip_prefix("mdb")
            .and_then(|r| r.strip_suffix(ext))
            .is_some_and(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()))
    };
    if is_image(".pgm") {
        Some(PathBuf::from(name))
    } else if is_image(".png") {
        Some(Path::new("png").join(name))
    } else if [INFO_FILE, "README", "Licence.txt"].contains(&name) {
        Some(PathBuf::from(name))
    } else {
        None
    }
}

/// Extracts the dataset's files from a `.tar.gz` or `.tar`, whatever their folder inside.
fn extract(archive: &Path, to: &Path) -> Result<()> {
    let mut file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut magic = [0u8; 2];
    let gz = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let bad = |e: io::Error| {
        Error::Fetch(format!(
            "{}: not a readable tar or tar.gz archive: {e}",
            archive.display()
        ))
    };
    let mut tar = tar::Archive::new(reader);
    let mut found = 0usize;
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(rel) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(destination)
        else {
            continue;
        };
        let out = to.join(rel);
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut w = File::create(&out).map_err(|e| Error::io(&out, e))?;
        io::copy(&mut entry, &mut w).map_err(bad)?;
        found += 1;
    }
    if found == 0 {
        return Err(Error::Fetch(format!(
            "{}: no Mini-MIAS files (Info.txt, mdbNNN.pgm or mdbNNN.png) in the archive",
            archive.display()
        )));
    }
    adopt_readme(to)
}

/// Copies the dataset's files from a directory in either layout.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let mut found = 0usize;
    for dir in [from.to_path_buf(), from.join("png")] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name();
            let Some(rel) = name.to_str().and_then(destination) else {
                continue;
            };
            let out = to.join(rel);
            if let Some(parent) = out.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fs::copy(entry.path(), &out).map_err(|e| Error::io(entry.path(), e))?;
            found += 1;
        }
    }
    if found == 0 {
        return Err(Error::Fetch(format!(
            "{}: no Mini-MIAS files (Info.txt, mdbNNN.pgm, png/mdbNNN.png) in this directory",
            from.display()
        )));
    }
    adopt_readme(to)
}

/// Some copies of the distribution ship the label table as `README` only.
fn adopt_readme(dir: &Path) -> Result<()> {
    let (info, readme) = (dir.join(INFO_FILE), dir.join("README"));
    if !info.exists() && readme.is_file() {
        fs::copy(&readme, &info).map_err(|e| Error::io(&readme, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dataset_files_are_kept() {
        assert_eq!(destination("mdb001.pgm"), Some(PathBuf::from("mdb001.pgm")));
        assert_eq!(
            destination("mdb322.png"),
            Some(PathBuf::from("png/mdb322.png"))
        );
        assert_eq!(destination("Info.txt"), Some(PathBuf::from("Info.txt")));
        for other in [
            "mdb1.pgm",
            "mdb0001.pgm",
            "notes.txt",
            "../mdb001.pgm",
            "mdbabc.png",
        ] {
            assert_eq!(destination(other), None, "{other}");
        }
    }
}
