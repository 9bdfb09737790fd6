"""Expected outputs of Pillow's Image.resize on a small grey image, for mias-data's tests.

Run by hand (not by CI) from this directory:

    pip install pillow numpy
    python3 make_resize_reference.py

Writes resize_reference.json: the test image is given by a formula the Rust test rebuilds; for
each filter and target size, the 8-bit result of Pillow's resize, which mias must equal exactly.
"""
import json

import numpy as np
import PIL
from PIL import Image

H, W = 23, 37

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
SIZES = [(16, 11), (50, 40), (37, 9), (5, 5)]  # (width, height): down, up, mixed, tiny


def main():
    y, x = np.mgrid[0:H, 0:W]
    img = Image.fromarray(((x * 7 + y * 13 + (x * y) % 31) % 256).astype(np.uint8), mode="L")
    cases = []
    for name, flt in FILTERS.items():
        for w, h in SIZES:
            out = np.asarray(img.resize((w, h), flt))
            cases.append(dict(filter=name, width=w, height=h, expected=out.ravel().tolist()))
    with open("resize_reference.json", "w") as f:
        json.dump(
            dict(
                height=H,
                width=W,
                formula="(x * 7 + y * 13 + (x * y) % 31) % 256, x = column, y = row",
                pillow=PIL.__version__,
                cases=cases,
            ),
            f,
            separators=(",", ":"),
        )


if __name__ == "__main__":
    main()
