"""Expected outputs of Keras's ImageDataGenerator.apply_transform, for mias-data's tests.

Run by hand (not by CI) from this directory:

    pip install keras jax numpy scipy
    KERAS_BACKEND=jax python3 make_augment_reference.py

Writes augment_reference.json: a small non-square test image (given by a formula the Rust
test rebuilds), and for a list of fixed transform parameters the float image that Keras's
own `ImageDataGenerator(fill_mode=..., cval=...).apply_transform` returns. The Rust side
must land within half a grey level of these (it rounds once to u8). Keras's `wrap` is SciPy's
legacy `wrap`; mias implements SciPy's `grid-wrap`, so that mode is checked by calling Keras's
own `apply_affine_transform` with `fill_mode="grid-wrap"` (passed through to SciPy).
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from keras.src.legacy.preprocessing import image as kimage  # noqa: E402
from scipy import ndimage  # noqa: E402

H, W = 23, 37  # rows, columns: non-square so that row/column mix-ups show


def ramp():
    y, x = np.mgrid[0:H, 0:W]
    return ((x * 7 + y * 13 + (x * y) % 31) % 256).astype(np.float32)


CASES = [
    dict(theta=0.0),
    dict(theta=90.0),
    dict(theta=17.5),
    dict(theta=-33.0, zx=0.85, zy=1.15),
    dict(shear=11.0),
    dict(tx=2.5, ty=-4.25),
    dict(zx=1.3, zy=0.7),
    dict(theta=12.0, tx=1.0, ty=2.0, shear=-8.0, zx=0.9, zy=1.1),
    dict(theta=12.0, shear=-8.0, zx=0.9, zy=1.1, flip_horizontal=True),
    dict(theta=-20.0, shear=5.0, zx=1.2, zy=0.8, flip_vertical=True, flip_horizontal=True),
]
MODES = [("nearest", 0.0), ("constant", 9.0), ("reflect", 0.0), ("wrap", 0.0)]


def keras_output(img, params, mode, cval):
    gen = kimage.ImageDataGenerator(fill_mode=mode, cval=cval)
    return gen.apply_transform(img[:, :, None], params)[:, :, 0]


def grid_wrap_output(img, params):
    """Keras's own apply_affine_transform and flips, with SciPy's grid-wrap mode."""
    affine = {k: v for k, v in params.items() if not k.startswith("flip")}
    out = kimage.apply_affine_transform(
        img[:, :, None], **affine, row_axis=0, col_axis=1, channel_axis=2,
        fill_mode="grid-wrap", order=1,
    )
    if params.get("flip_horizontal"):
        out = kimage.flip_axis(out, 1)
    if params.get("flip_vertical"):
        out = kimage.flip_axis(out, 0)
    return out[:, :, 0]


def main():
    img = ramp()
    cases = []
    for params in CASES:
        for mode, cval in MODES:
            if mode == "wrap":
                out = grid_wrap_output(img, params)
                source = "keras apply_affine_transform with scipy mode grid-wrap"
            else:
                out = keras_output(img, params, mode, cval)
                source = "keras ImageDataGenerator.apply_transform"
            cases.append(
                dict(
                    params=params,
                    fill_mode=mode,
                    cval=cval,
                    source=source,
                    expected=[round(float(v), 4) for v in np.asarray(out).ravel()],
                )
            )
    with open("augment_reference.json", "w") as f:
        json.dump(
            dict(
                height=H,
                width=W,
                formula="(x * 7 + y * 13 + (x * y) % 31) % 256, x = column, y = row",
                keras=keras.__version__,
                scipy=scipy.__version__,
                numpy=np.__version__,
                cases=cases,
            ),
            f,
            separators=(",", ":"),
        )


if __name__ == "__main__":
    main()
