"""Second, pre-declared candidate family (run after nested.py's first family fell short): a
low-dimensional women-level model on summary statistics of the normative z maps of both layers
and both region grids together (multi-layer, multi-grid), instead of per-channel features.

For each (layer in c4, c5) x (R in 6, 8) with registration `reg`:
  z[f, r, c] = (X[f, r, c] - mu[r, c]) / sd[r, c]   (mu, sd over the normal training women's films)
  o[f, r] = mean_c z^2                 (the breast's own deviation in region r)
  a[w, r] = mean_c (z_right - z_left)^2 (the woman's asymmetry in region r)
  woman features (all log1p): max_r a, mean of the 3 largest a, max over her breasts of max_r o,
  min over her breasts of max_r o, max over her breasts of the mean of the 3 largest o  -> 5
-> 20 features; standardised; L2 logistic regression, class-balanced.
Candidates: reg in {bbox, row} x C in {0.01, 0.1, 1}: 6, chosen by inner women AUC as in nested.py.
Film score = woman score + side score (LR, C = 0.01, balanced, on the film's 8 own statistics minus
its other film's).

  OMP_NUM_THREADS=1 nice python3 nested_summary.py --seed 42 [--permute]
"""
import sys

import numpy as np

import nested

LAYERS = ("c4", "c5")
GRIDS = (6, 8)
REGS = ("bbox", "row")
C_GRID = (0.01, 0.1, 1.0)
CANDIDATES = [("c4+c5", "6+8", reg, "none", "summary", C) for reg in REGS for C in C_GRID]


def top3(A):
    """Mean of the 3 largest values over axis 1, NaN ignored (0 when all NaN)."""
    B = np.where(np.isnan(A), -np.inf, A)
    B = -np.sort(-B, axis=1)[:, :3]
    B = np.where(np.isfinite(B), B, np.nan)
    with np.errstate(all="ignore"):
        m = np.nanmean(B, axis=1)
    return np.nan_to_num(m)


def summary_blocks(regions, reg, yw, tr):
    normal = nested.films_of(tr[yw[tr] == 0])
    women, films = [], []
    for layer in LAYERS:
        for R in GRIDS:
            X = nested.region_array(regions, layer, R, reg, "none")
            Z = nested.Normative().fit(X, normal).z(X)
            with np.errstate(all="ignore"):
                o = np.nanmean(Z ** 2, axis=2)  # [322, regions]
                a = np.nanmean((Z[0::2] - Z[1::2]) ** 2, axis=2)  # [161, regions]
            omax = nested.nanmax_regions(o[:, :, None])[:, 0]
            otop = top3(o)
            amax = nested.nanmax_regions(a[:, :, None])[:, 0]
            women += [amax, top3(a), np.maximum(omax[0::2], omax[1::2]),
                      np.minimum(omax[0::2], omax[1::2]), np.maximum(otop[0::2], otop[1::2])]
            films += [omax, otop]
    return np.log1p(np.stack(women, axis=1)), np.log1p(np.stack(films, axis=1))


def candidate_scores(regions, yw, yf, tr, te, films=True):
    out = {}
    trf, tef = nested.films_of(tr), nested.films_of(te)
    for reg in REGS:
        F, own = summary_blocks(regions, reg, yw, tr)
        side = nested.side_score(own, yf, trf, tef) if films else None
        for C in C_GRID:
            s = nested.fit_predict(F, yw, tr, te, C)
            out[("c4+c5", "6+8", reg, "none", "summary", C)] = (s, np.repeat(s, 2) + side if films else None)
    return out


if __name__ == "__main__":
    nested.main((CANDIDATES, candidate_scores, "_summary"))
