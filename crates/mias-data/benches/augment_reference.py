#!/usr/bin/env python3
"""The work of benches/augment.rs done with Pillow and with OpenCV, for `cargo xtask bench`-style
comparison: one random paper-preset view of a 1024x1024 8-bit image (rotation +-20 degrees,
shear +-11.46 degrees, zoom 0.8-1.2 per axis, horizontal and vertical flips, bilinear, edge
fill), then resized to 224x224 (bilinear), grey replicated to 3 channels and normalised to f32.

Same synthetic image as the Rust bench; the parameters are drawn with numpy (their values do not
change the cost). Pillow runs on one thread (it has no threaded affine); OpenCV uses its own
thread pool (`cv2.setNumThreads`, default: every core). Prints views per second, median of
repeats.

    python augment_reference.py [--seconds 5] [--threads 2]
"""

import argparse
import math
import time

import numpy as np


def image():
    y, x = np.mgrid[0:1024, 0:1024].astype(np.int64)
    return ((x * 7 + y * 13 + (x * y) % 31) % 256).astype(np.uint8)


def draw(rng):
    theta = math.radians(rng.uniform(-20, 20))
    shear = math.radians(rng.uniform(-11.459155902616466, 11.459155902616466))
    zx, zy = rng.uniform(0.8, 1.2, size=2)
    flip_h, flip_v = rng.random() < 0.5, rng.random() < 0.5
    return theta, shear, zx, zy, flip_h, flip_v


def matrix(params, side=1024):
    """Output -> input map (3x3) about the centre, Keras-style composition."""
    theta, shear, zx, zy, flip_h, flip_v = params
    rot = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    sh = np.array([[1, -math.sin(shear), 0], [0, math.cos(shear), 0], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    c = (side - 1) / 2
    to_c = np.array([[1, 0, c], [0, 1, c], [0, 0, 1]])
    from_c = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]])
    m = to_c @ rot @ sh @ zoom @ from_c
    if flip_h:
        m = m @ np.array([[-1, 0, side - 1], [0, 1, 0], [0, 0, 1]])
    if flip_v:
        m = m @ np.array([[1, 0, 0], [0, -1, side - 1], [0, 0, 1]])
    return m


MEAN = np.float32(123.68)


def normalise(small):
    chw = np.empty((3,) + small.shape, dtype=np.float32)
    chw[:] = small.astype(np.float32) - MEAN
    return chw


def pillow_view(img_pil, params):
    from PIL import Image

    m = matrix(params)
    view = img_pil.transform(img_pil.size, Image.Transform.AFFINE, tuple(m[:2].ravel()), resample=Image.Resampling.BILINEAR)
    small = view.resize((224, 224), Image.Resampling.BILINEAR)
    return normalise(np.asarray(small))


def opencv_view(img, params):
    import cv2

    m = matrix(params)
    view = cv2.warpAffine(img, m[:2], (1024, 1024), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    small = cv2.resize(view, (224, 224), interpolation=cv2.INTER_LINEAR)
    return normalise(small)


def rate(fn, seconds):
    rng = np.random.default_rng(0)
    fn(draw(rng))
    rates = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            fn(draw(rng))
            n += 1
        rates.append(n / (time.perf_counter() - start))
    return sorted(rates)[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads")
    args = ap.parse_args()
    img = image()
    try:
        from PIL import Image

        pil = Image.fromarray(img)
        print(f"pillow_paper_view_to_224: {rate(lambda p: pillow_view(pil, p), args.seconds):.1f} views/s (1 thread)")
    except ImportError:
        print("SKIPPED pillow: not installed")
    try:
        import cv2

        cv2.setNumThreads(args.threads)
        print(f"opencv_paper_view_to_224: {rate(lambda p: opencv_view(img, p), args.seconds):.1f} views/s ({args.threads} threads)")
    except ImportError:
        print("SKIPPED opencv: not installed (pip install opencv-python-headless)")


if __name__ == "__main__":
    main()
