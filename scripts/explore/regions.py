"""Region means of every film's dense maps, for every registration setting of the study.

A film is turned chest wall left (extract.py). Its breast cells on a g x g grid (g = 64 for
conv4_3, 32 for conv5_3 at 512 px) are those whose mask fraction is >= 0.5 (mask.rs's rule).
Each breast cell's centre (y, x) in 1024-px coordinates is given a region (a, b) on an R x R grid:
  bbox: a = floor(R (y - top) / (bottom - top + 1)), b = floor(R (x - left) / (right - left + 1)),
        top/bottom/left/right the extreme rows/cols of the 1024-px mask (chest wall = left edge);
  row:  a as bbox; b = floor(R (x - l(y)) / (r(y) - l(y) + 1)) with l(y), r(y) the mask's first
        and last column on row y (so every row of the breast spans all R columns: the skin line
        registers to the skin line of the other breast, row by row).
  (a, b clamped to 0..R-1.) The region mean is the mean feature vector of its cells; a region
  with no cell is NaN.
Normalisation: `none` (raw ReLU activations) or `z` (each channel standardised over the film's
breast cells: (x - mean) / max(std, 1e-3)) before the region means.

Writes EXPLORE_CACHE/regions.npz: key f"{layer}_R{R}_{reg}_{norm}" -> float32 [322, R*R, 512].
"""
import os
import time

import numpy as np

from common import CACHE, N_FILMS, film_name

LAYERS = {"c4": 64, "c5": 32}
GRIDS = (6, 8)
REGS = ("bbox", "row")
NORMS = ("none", "z")


def mask_of(i):
    z = np.load(os.path.join(CACHE, "masks", film_name(i) + ".npz"))
    m = np.unpackbits(z["mask"])[: 1024 * 1024].reshape(1024, 1024).astype(bool)
    return m, {g: z[f"frac{g}"] for g in (32, 64, 128)}


def region_index(m, g, R, reg):
    """Region id (a*R+b) of each cell of the g x g grid, -1 off the breast."""
    rows = np.where(m.any(axis=1))[0]
    cols = np.where(m.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    s = 1024 // g
    yc = (np.arange(g) + 0.5) * s
    xc = (np.arange(g) + 0.5) * s
    a = np.clip(np.floor(R * (yc - top) / (bottom - top + 1)).astype(int), 0, R - 1)
    if reg == "bbox":
        b = np.clip(np.floor(R * (xc - left) / (right - left + 1)).astype(int), 0, R - 1)
        B = np.broadcast_to(b[None, :], (g, g))
    else:
        B = np.zeros((g, g), int)
        for i, y in enumerate(yc.astype(int)):
            on = np.where(m[y])[0]
            if len(on) == 0:
                on = np.array([left, right])
            l, r = on[0], on[-1]
            B[i] = np.clip(np.floor(R * (xc - l) / (r - l + 1)).astype(int), 0, R - 1)
    return a[:, None] * R + B


def main():
    out = {}
    t0 = time.time()
    for i in range(1, N_FILMS + 1):
        path = os.path.join(CACHE, "maps512", film_name(i) + ".npz")
        while not os.path.exists(path):  # extract.py still running: wait for the film
            time.sleep(20)
        time.sleep(1)
        m, frac = mask_of(i)
        maps = np.load(os.path.join(CACHE, "maps512", film_name(i) + ".npz"))
        for layer, g in LAYERS.items():
            x = maps[layer].astype(np.float32).reshape(512, g * g).T  # [cells, C]
            breast = (frac[g] >= 0.5).ravel()
            xs = {"none": x}
            mu, sd = x[breast].mean(0), x[breast].std(0)
            xs["z"] = (x - mu) / np.maximum(sd, 1e-3)
            for R in GRIDS:
                for reg in REGS:
                    rid = region_index(m, g, R, reg).ravel()
                    rid = np.where(breast, rid, -1)
                    cnt = np.bincount(rid[rid >= 0], minlength=R * R).astype(np.float32)
                    for norm in NORMS:
                        key = f"{layer}_R{R}_{reg}_{norm}"
                        arr = out.setdefault(key, np.full((N_FILMS, R * R, 512), np.nan, np.float32))
                        onehot = (rid[None, :] == np.arange(R * R)[:, None]).astype(np.float32)
                        with np.errstate(invalid="ignore", divide="ignore"):
                            arr[i - 1] = (onehot @ xs[norm]) / cnt[:, None]
        if i % 40 == 0:
            print(i, f"{time.time() - t0:.0f}s", flush=True)
    np.savez(os.path.join(CACHE, "regions.npz"), **out)
    print("regions written", sorted(out))


if __name__ == "__main__":
    main()
