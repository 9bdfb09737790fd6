"""Checks the torch VGG16 port against the Keras reference features (FLAVOR.md: within 1e-4)."""
import numpy as np
import torch
from safetensors.numpy import load_file

from common import REFERENCE, vgg16_torch, preprocess, load_film

torch.set_num_threads(2)
ref = load_file(REFERENCE)
feats = vgg16_torch()
with torch.no_grad():
    got = feats(torch.from_numpy(ref["pixel_values"])).mean(dim=(2, 3)).numpy()
rel = np.abs(got - ref["features"]).max() / np.abs(ref["features"]).max()
print(f"features vs Keras reference: rel err {rel:.2e}")
assert rel < 1e-4
# our preprocessing reproduces the reference's pixel_values (mdb001, mdb028, mdb005)
for j, i in enumerate([1, 28, 5]):
    d = np.abs(preprocess(load_film(i), 224)[0] - ref["pixel_values"][j]).max()
    print(f"mdb{i:03d} pixel_values max abs diff {d}")
    assert d == 0
print("port OK")
