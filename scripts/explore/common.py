"""Shared pieces of the issue-19 exploration: data, labels, VGG16 port, breast masks.

Reference study only (never a product dependency). Paths come from env vars with defaults.
"""
import os
import re

import numpy as np
from PIL import Image

DATA = os.environ.get("MIAS_DATA", "/work/shared/data/mini-mias")
WEIGHTS = os.environ.get("MIAS_WEIGHTS", "/work/shared/weights/vgg16.keras.safetensors")
REFERENCE = os.environ.get("MIAS_REFERENCE", "/work/shared/reference/vgg16.keras_reference.safetensors")
CACHE = os.environ.get("EXPLORE_CACHE", "/work/explore-cache")
N_FILMS = 322


def film_name(i):
    """Film i (1-based) -> 'mdb001'."""
    return f"mdb{i:03d}"


def load_film(i):
    return np.asarray(Image.open(os.path.join(DATA, "png", film_name(i) + ".png")).convert("L"))


def read_info():
    """Per film: abnormal flag (official labels: any non-NORM row) and lesion discs (row, col, r)
    in 1024-px image coordinates (row = 1023 - y), or None when coordinates are missing."""
    rows = {}
    pat = re.compile(r"^(mdb\d{3})\s+([FGD])\s+(\w+)(.*)$")
    with open(os.path.join(DATA, "Info.txt"), encoding="latin-1") as fh:
        for line in fh:
            m = pat.match(line.strip())
            if not m:
                continue
            name, _tissue, cls, rest = m.groups()
            parts = rest.split()
            rows.setdefault(name, []).append((cls, parts))
    abnormal = np.zeros(N_FILMS, dtype=int)
    discs = [[] for _ in range(N_FILMS)]
    classes = [""] * N_FILMS
    for i in range(1, N_FILMS + 1):
        for cls, parts in rows[film_name(i)]:
            if cls == "NORM":
                continue
            abnormal[i - 1] = 1
            classes[i - 1] = cls
            if len(parts) >= 4:
                x, y, r = int(parts[1]), int(parts[2]), int(parts[3])
                discs[i - 1].append((1023 - y, x, r))
    assert len(rows) == N_FILMS
    return abnormal, discs, classes


def woman_of(film_index0):
    """0-based film index -> 0-based woman index (mdb(2k-1), mdb(2k) are woman k)."""
    return film_index0 // 2


# ---------------------------------------------------------------- breast mask (mirrors mask.rs)
def breast_mask(img, threshold=20, opening_radius=2):
    """The Rust BreastMask::mini_mias: >threshold, opening with a (2r+1) square, largest
    8-connected component, holes filled (background regions not touching the border)."""
    from scipy import ndimage as ndi

    b = img > threshold
    if opening_radius > 0:
        st = np.ones((2 * opening_radius + 1,) * 2, bool)
        b = ndi.binary_opening(b, structure=st)
    lab, n = ndi.label(b, structure=np.ones((3, 3), bool))
    if n == 0:
        raise ValueError("no breast to mask")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    big = lab == np.argmax(sizes)
    out_lab, _ = ndi.label(~big)  # 4-connectivity; label 0 = the breast component
    border = np.unique(np.concatenate([out_lab[0], out_lab[-1], out_lab[:, 0], out_lab[:, -1]]))
    holes = (out_lab > 0) & ~np.isin(out_lab, border)
    inside = big | holes
    return inside


def chest_wall_left(mask):
    """True when the film's breast already has its chest wall on the left: more mask area in the
    left half than in the right half."""
    h, w = mask.shape
    return mask[:, : w // 2].sum() >= mask[:, w // 2 :].sum()


# ---------------------------------------------------------------- VGG16 port (FLAVOR.md section 1)
def vgg16_torch():
    import torch
    import torch.nn as nn
    from safetensors.torch import load_file

    sd = load_file(WEIGHTS)
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin = [], 3
    for v in plan:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, 1, 1), nn.ReLU(inplace=False)]
            cin = v
    feats = nn.Sequential(*layers)
    feats.load_state_dict({k.replace("features.", ""): v for k, v in sd.items()})
    feats.eval()
    return feats


# indices in the Sequential: conv4_3+ReLU output is index 22 (before pool 23); conv5_3+ReLU is 29
CONV4_3 = 22
CONV5_3 = 29
MEAN_RGB = np.array([123.68, 116.779, 103.939], np.float32)


def preprocess(img_u8, side):
    """Pillow bilinear resize of the grey film to side x side (uint8), grey -> RGB, minus means."""
    im = Image.fromarray(img_u8)
    if im.size != (side, side):
        im = im.resize((side, side), Image.BILINEAR)
    a = np.asarray(im).astype(np.float32)
    x = np.stack([a - MEAN_RGB[0], a - MEAN_RGB[1], a - MEAN_RGB[2]])
    return x[None]


def dense_maps(feats, x, stops=(CONV4_3, CONV5_3)):
    """Run the stack up to the last index in stops; return {index: map [C,H,W] float32}."""
    import torch

    out = {}
    with torch.no_grad():
        h = torch.from_numpy(x)
        for i, layer in enumerate(feats):
            h = layer(h)
            if i in stops:
                out[i] = h[0].numpy().copy()
            if i >= max(stops):
                break
    return out
