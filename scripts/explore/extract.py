"""Caches, per film, VGG16 conv4_3 and conv5_3 dense maps (after ReLU) of the film turned chest
wall left (right breasts, odd films, mirrored left to right), at input side SIDE (default 512),
as float16, plus the breast mask (1024 px, same orientation) reduced to cell fractions.

Usage: nice python3 extract.py [side]   (resumes: films already cached are skipped)
Writes EXPLORE_CACHE/maps{side}/mdbNNN.npz with c4 [512,S/8,S/8], c5 [512,S/16,S/16], and
EXPLORE_CACHE/masks/mdbNNN.npz with the mask (packed bits) and fractions on 32/64/128 grids.
"""
import os
import resource
import sys
import time

import numpy as np
import torch

from common import CACHE, CONV4_3, CONV5_3, N_FILMS, breast_mask, chest_wall_left, dense_maps, \
    film_name, load_film, preprocess, vgg16_torch

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
side = int(sys.argv[1]) if len(sys.argv) > 1 else 512
stops = (CONV4_3, CONV5_3) if side == 512 else (CONV5_3,)
out_dir = os.path.join(CACHE, f"maps{side}")
mask_dir = os.path.join(CACHE, "masks")
os.makedirs(out_dir, exist_ok=True)
os.makedirs(mask_dir, exist_ok=True)
feats = vgg16_torch()
t_map, t_mask, n_done, disagree = 0.0, 0.0, 0, []
for i in range(1, N_FILMS + 1):
    path = os.path.join(out_dir, film_name(i) + ".npz")
    mpath = os.path.join(mask_dir, film_name(i) + ".npz")
    if os.path.exists(path) and os.path.exists(mpath):
        continue
    img = load_film(i)
    flip = i % 2 == 1  # right breast: chest wall on the film's right
    if flip:
        img = img[:, ::-1].copy()
    if not os.path.exists(mpath):
        t0 = time.time()
        m = breast_mask(img)
        if not chest_wall_left(m):
            disagree.append(film_name(i))
        fr = {f"frac{g}": m.reshape(g, 1024 // g, g, 1024 // g).mean(axis=(1, 3)).astype(np.float32)
              for g in (32, 64, 128)}
        np.savez_compressed(mpath, mask=np.packbits(m), flipped=flip, **fr)
        t_mask += time.time() - t0
    t0 = time.time()
    maps = dense_maps(feats, preprocess(img, side), stops)
    t_map += time.time() - t0
    arrs = {"c5": maps[CONV5_3].astype(np.float16)}
    if CONV4_3 in maps:
        arrs["c4"] = maps[CONV4_3].astype(np.float16)
    np.savez(path, **arrs)
    n_done += 1
    if n_done % 20 == 0:
        print(f"{film_name(i)}: {n_done} films, {t_map / n_done:.2f} s/film maps", flush=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"side {side}: {n_done} films computed; maps {t_map / max(n_done, 1):.2f} s/film "
      f"(one forward pass to conv5_3 giving {'conv4_3 + ' if side == 512 else ''}conv5_3), "
      f"masks {t_mask / max(n_done, 1):.2f} s/film, peak RSS {peak:.0f} MiB, "
      f"threads {torch.get_num_threads()}")
print("chest-wall side disagreeing with the laterality rule:", disagree or "none")
