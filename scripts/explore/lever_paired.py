"""Paired comparison of each lever family with family 3 (ensemble_raw72 of lever_znorm.py) on
the same women, folds and seed: difference in AUC (family minus family 3) on the women and the
films-vs-normal-women populations, 95 % percentile interval from 2,000 bootstrap draws over
women (a draw keeps both films of each drawn woman; numpy default_rng(seed)). Reads the per-woman
and per-film CSVs in docs/results/explore/levers and writes paired.csv there.

  python3 lever_paired.py
"""
import os

import numpy as np

import nested
from lever_znorm import OUT

FAMILIES = ("ensemble_z72", "ensemble_union144", "cellclf", "cellclf+f3", "hardneg", "hardneg+f3")
N_W = nested.N_WOMEN


def read(kind, family, tag):
    a = np.genfromtxt(os.path.join(OUT, f"{kind}_{family}_{tag}.csv"), delimiter=",", names=True,
                      dtype=None, encoding=None)
    return np.asarray(a["label"], int), np.asarray(a["score"], float)


def two(yf, sf, yw, sw, w):
    f = np.concatenate([2 * w, 2 * w + 1])
    pop = (yf[f] == 1) | np.concatenate([yw[w] == 0, yw[w] == 0])
    return (nested.roc_auc_score(yw[w], sw[w]),
            nested.roc_auc_score(yf[f][pop], sf[f][pop]))


def main():
    rows = []
    for seed in (42, 7):
        tag = f"seed{seed}"
        yw, bw = read("women", "ensemble_raw72", tag)
        yf, bf = read("films", "ensemble_raw72", tag)
        for fam in FAMILIES:
            _, sw = read("women", fam, tag)
            _, sf = read("films", fam, tag)
            allw = np.arange(N_W)
            d = np.subtract(two(yf, sf, yw, sw, allw), two(yf, bf, yw, bw, allw))
            rng = np.random.default_rng(seed)
            draws = []
            while len(draws) < 2000:
                w = rng.integers(0, N_W, N_W)
                if len(set(yw[w])) < 2:
                    continue
                draws.append(np.subtract(two(yf, sf, yw, sw, w), two(yf, bf, yw, bw, w)))
            lo, hi = np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)
            for j, pop in enumerate(("women", "films_vs_normal_women")):
                rows.append(f"{fam},{tag},{pop},{d[j]:.4f},{lo[j]:.4f},{hi[j]:.4f}")
                print(rows[-1], flush=True)
    with open(os.path.join(OUT, "paired.csv"), "w") as fh:
        fh.write("family,run,population,auc_minus_family3,ci_low,ci_high\n")
        fh.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
