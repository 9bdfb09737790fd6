#!/usr/bin/env python3
"""Fetch pydicom's own DICOM test files, which mias's DICOM tests decode against pydicom.

pydicom's wheel (PyPI `pydicom==3.0.2`, MIT licence; the files were gathered by the pydicom
project from many sources) ships `pydicom/data/test_files`: CT, MR, CR, RT files in every
transfer syntax pydicom tests. The wheel is downloaded with `pip download --no-deps` (pydicom
itself is not installed), checked against the SHA-256 pinned below, and its `test_files`
folder unpacked into

    $MIAS_PYDICOM_DIR                 when set, else
    ~/.cache/mias/pydicom-test-files  (or the directory given as the only argument)

The files are never committed. Each one the tests read is checked there against the SHA-256
recorded in crates/mias-data/tests/data/pydicom_reference.json. Run again to verify an existing
copy; nothing is downloaded when the marker of a complete unpack is present.

Needs Python 3.8+ with pip (standard library otherwise; the shared steps are in wheel_fetch.py). Exit status 0 when the files are in
place, 1 otherwise (with the reason on stderr).
"""
import shutil
import tempfile
import zipfile
from pathlib import Path

from wheel_fetch import FetchError, destination, download_wheel, run

PACKAGE = "pydicom==3.0.2"
WHEEL = "pydicom-3.0.2-py3-none-any.whl"
WHEEL_SHA256 = "abf971a5440f84dbaf42c4b6758e30e62480902584f8b270b9a5d146e278a07b"
# Inside the wheel, the test files live under this folder.
WHEEL_PREFIX = "pydicom/data/test_files/"
# Written last: the unpack is complete (and from this wheel) when it holds the wheel's digest.
MARKER = ".complete"


def main():
    dest = destination("MIAS_PYDICOM_DIR", "pydicom-test-files")
    marker = dest / MARKER
    if marker.is_file() and marker.read_text().strip() == WHEEL_SHA256:
        print(f"pydicom's test files present in {dest}")
        return
    with tempfile.TemporaryDirectory(prefix="mias-pydicom-") as tmp:
        wheel = download_wheel(PACKAGE, WHEEL, WHEEL_SHA256, tmp)
        # Unpack beside the destination and rename, so no half-written copy is ever left.
        staging = Path(tmp) / "test_files"
        count = 0
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if not info.filename.startswith(WHEEL_PREFIX) or info.is_dir():
                    continue
                relative = Path(info.filename[len(WHEEL_PREFIX):])
                if relative.is_absolute() or ".." in relative.parts:
                    raise FetchError(f"unsafe path {info.filename} in {WHEEL}")
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                count += 1
        (staging / MARKER).write_text(WHEEL_SHA256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(dest))
    print(f"{count} pydicom test files unpacked into {dest}")


if __name__ == "__main__":
    run(main)
