"""Reference values for mias-data's DICOM decoder on pydicom's own test files.

Run by hand (not by CI) from this directory:

    pip install pydicom==3.0.2 numpy pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pyjpegls
    python3 make_pydicom_reference.py

Reads the test files of the installed pydicom (`pydicom/data/test_files`, the same files
`scripts/fetch_pydicom_files.py` unpacks from the pinned wheel for the tests) and this folder's
`dicom/jpegls.dcm`, and writes `pydicom_reference.json`: for every single-frame greyscale file
(SamplesPerPixel 1, at most one frame) with pixel data,
- its SHA-256 (the tests check that they read the same file) and header facts;
- `expect: "decode"` with pydicom's stored values (`pixel_array`, decoded by pydicom's own
  handlers and the pylibjpeg / pyjpegls plugins: libjpeg, OpenJPEG, CharLS) as the SHA-256 of
  their little-endian int32 bytes in row-major order, their count, minimum, maximum and sum; or
- `expect: "refuse"` with the words mias's error must contain, by the rules mias documents
  (written out here, not taken from mias): greyscale MONOCHROME1/2 only, 8 or 16 bits
  allocated, no 12-bit lossy JPEG; and every file pydicom itself cannot decode (mias must refuse
  it too, as no reference exists for its values).
"""
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom

HERE = Path(__file__).resolve().parent
TEST_FILES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
PYDICOM_VERSION = "3.0.2"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def frames(ds):
    """NumberOfFrames, 1 when absent; None when it is not a number (IS '1A')."""
    try:
        return int(ds.get("NumberOfFrames", 1) or 1)
    except ValueError:
        return None


def single_frame_grey(ds):
    if "PixelData" not in ds:
        return False
    return int(ds.get("SamplesPerPixel", 1) or 1) == 1 and frames(ds) in (1, None)


def refusal(ds, syntax):
    """The words mias's error must hold for a file it does not decode, else None. The checks
    run in the order mias documents: transfer syntax, photometric interpretation, frames, bits."""
    if syntax is None:
        return "TransferSyntaxUID (0002,0010)"
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return "PhotometricInterpretation (0028,0004)"
    if frames(ds) is None:
        return "NumberOfFrames (0028,0008)"
    if "BitsAllocated" not in ds:
        return "BitsAllocated (0028,0100): missing"
    if int(ds.BitsAllocated) not in (8, 16):
        return "BitsAllocated (0028,0100)"
    if syntax == JPEG_EXTENDED and int(ds.BitsStored) > 8:
        return "12-bit lossy JPEG"
    return None


def case(path, name):
    raw = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
    if not single_frame_grey(ds):
        return None
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    c = dict(file=name, sha256=sha256_bytes(raw), transfer_syntax=syntax)
    for key in ("Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation"):
        if key in ds:
            c[key.lower()] = int(ds[key].value)
    c["photometric"] = str(ds.get("PhotometricInterpretation", ""))
    reason = refusal(ds, syntax)
    if reason is not None:
        c.update(expect="refuse", error=reason)
        return c
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stored = ds.pixel_array
    except Exception as e:  # pydicom has no reference for this file: mias must refuse it too
        c.update(expect="refuse", error="", pydicom_error=f"{type(e).__name__}: {e}".splitlines()[0])
        return c
    values = np.ascontiguousarray(stored, dtype="<i4")
    c.update(
        expect="decode",
        count=int(values.size),
        min=int(values.min()),
        max=int(values.max()),
        sum=int(values.astype(np.int64).sum()),
        stored_sha256=sha256_bytes(values.tobytes()),
        decoded_by=pydicom_decoder(ds, syntax),
    )
    return c


def pydicom_decoder(ds, syntax):
    native = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
              "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.5")
    if syntax in native:
        return "pydicom"
    if syntax in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"):
        return "pyjpegls (CharLS)"
    if syntax.startswith("1.2.840.10008.1.2.4.9"):
        return "pylibjpeg-openjpeg (OpenJPEG)"
    return "pylibjpeg-libjpeg (libjpeg)"


def main():
    if pydicom.__version__ != PYDICOM_VERSION:
        sys.exit(f"pydicom {PYDICOM_VERSION} expected (the version fetch_pydicom_files.py pins), "
                 f"found {pydicom.__version__}")
    files = []
    for path in sorted(TEST_FILES.rglob("*")):
        if not path.is_file():
            continue
        try:
            c = case(path, path.relative_to(TEST_FILES).as_posix())
        except Exception:
            continue  # not a DICOM file (pydicom's test data holds other files too)
        if c is not None:
            files.append(c)
    fixtures = [case(HERE / "dicom" / "jpegls.dcm", "dicom/jpegls.dcm")]
    out = dict(
        pydicom=pydicom.__version__,
        numpy=np.__version__,
        notes="made by make_pydicom_reference.py; stored_sha256 is over little-endian int32 "
              "stored values, row-major",
        files=files,
        fixtures=fixtures,
    )
    (HERE / "pydicom_reference.json").write_text(json.dumps(out, indent=1) + "\n")
    decoded = sum(c["expect"] == "decode" for c in files)
    print(f"{len(files)} single-frame greyscale files: {decoded} to decode, "
          f"{len(files) - decoded} to refuse")


if __name__ == "__main__":
    main()
