//! Fetching: the real download code against a local HTTP server, local imports, atomicity.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use mias_data::fetch::{Source, fetch};
use mias_data::{Dataset, ImageFormat};

use crate::common::real_data;

/// A tar.gz of the staged layout (Info.txt + png/), nested in a folder as archives often are.
fn archive_of(dir: &Path) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_path_with_name(dir.join("Info.txt"), "all-mias/Info.txt")
        .unwrap();
    tar.append_dir_all("all-mias/png", dir.join("png")).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// Serves `body` once on 127.0.0.1, announcing `announced` bytes; returns the URL.
fn serve_once(body: Vec<u8>, announced: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/all-mias.tar.gz", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            request.push(byte[0]);
        }
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
    });
    url
}

fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.contains(".old-"))
        .collect()
}

#[test]
fn download_verify_and_idempotence() {
    let Some(dir) = real_data("download_verify_and_idempotence") else {
        return;
    };
    let archive = archive_of(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("mini-mias");

    // An interrupted download fails and leaves nothing that looks like a dataset.
    let cut = archive[..archive.len() / 2].to_vec();
    let url = serve_once(cut, archive.len());
    let err = fetch(&dest, &Source::Url(url), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("incomplete") || err.contains("interrupted"),
        "{err}"
    );
    assert!(!dest.exists());
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );

    // A complete download verifies and lands in place.
    let url = serve_once(archive.clone(), archive.len());
    let got = fetch(&dest, &Source::Url(url), false).unwrap();
    assert!(!got.already_present);
    assert_eq!(got.format, ImageFormat::Png);
    assert_eq!(Dataset::open(&dest).unwrap().records().len(), 322);

    // A second call does nothing (no server is listening this time).
    let again = fetch(&dest, &Source::Url("http://127.0.0.1:9/x".into()), false).unwrap();
    assert!(again.already_present);
}

#[test]
fn import_from_a_directory_or_an_archive() {
    let Some(dir) = real_data("import_from_a_directory_or_an_archive") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let from_dir = tmp.path().join("a");
    fetch(&from_dir, &Source::Local(dir.clone()), false).unwrap();
    Dataset::open(&from_dir).unwrap();

    let archive = tmp.path().join("all-mias.tar.gz");
    std::fs::write(&archive, archive_of(&dir)).unwrap();
    let from_archive = tmp.path().join("b");
    fetch(&from_archive, &Source::Local(archive), false).unwrap();
    Dataset::open(&from_archive).unwrap();
}

#[test]
fn a_corrupt_copy_is_refused_and_an_old_destination_replaced() {
    let Some(dir) = real_data("a_corrupt_copy_is_refused_and_an_old_destination_replaced") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad");
    crate::common::link_copy(&dir, &bad);
    std::fs::remove_file(bad.join("png/mdb007.png")).unwrap();
    std::fs::write(bad.join("png/mdb007.png"), b"not a png").unwrap();
    let dest = tmp.path().join("mini-mias");
    let err = fetch(&dest, &Source::Local(bad.clone()), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mdb007.png"), "{err}");
    assert!(!dest.exists());
    assert!(leftovers(tmp.path()).is_empty());

    // A destination that exists but does not verify is replaced by a verified copy.
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("Info.txt"), "mdb001 F NORM \n").unwrap();
    let got = fetch(&dest, &Source::Local(dir), false).unwrap();
    assert!(!got.already_present);
    Dataset::open(&dest).unwrap();
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn no_network_and_no_source_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: refused at once, like a machine without network.
    let err = fetch(
        &tmp.path().join("d"),
        &Source::Url("http://127.0.0.1:9/all-mias.tar.gz".into()),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot download") && err.contains("--from"),
        "{err}"
    );
    assert!(err.contains("--data"), "{err}");
    let err = fetch(
        &tmp.path().join("d"),
        &Source::Local(tmp.path().join("nothing")),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("nothing") && err.contains("no such file"),
        "{err}"
    );
}
