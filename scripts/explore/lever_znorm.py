"""Lever 1 (issue 19 section 2, tried after the Rust port): per-film contrast normalisation in
family 3's ensemble. No selection, so no inner CV; candidate sets declared here before any run:

  family 4 `ensemble_z72`:      woman score = mean over the 72 family-1 candidates (layer {c4, c5,
                                c4+c5} x R {6, 8} x registration {bbox, row} x features {asym,
                                asym+own, zasym+own} x C {0.01, 0.1}) of sigmoid(logit), every
                                candidate built on the `*_z` regions (each channel of each cell
                                standardised over the film's own breast cells, regions.py);
  family 5 `ensemble_union144`: the same mean over the 72 raw-region candidates and the 72 `_z`
                                ones together (144 models).
  Written beside them as a check, not a new family: `ensemble_raw72` = family 3 recomputed in the
  same run (must equal ensemble.py's figures).

Film score = mean of sigmoid(woman logit + side logit), as ensemble.py. Protocol exactly
nested.py's (outer StratifiedKFold(5) over women, everything fitted on the training women, LOO
normative statistics, 2,000 bootstrap draws over women, permutation of women as units).

  OMP_NUM_THREADS=1 nice -n 10 python3 lever_znorm.py --seed 42 [--permute]
Writes docs/results/explore/levers/summary.csv (appends) and per-woman / per-film scores.
"""
import argparse
import os

import numpy as np
from sklearn.model_selection import StratifiedKFold

import nested

N_W, N_F = nested.N_WOMEN, nested.N_FILMS
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/results/explore/levers")
POPS = ("films", "films_vs_normal_women", "women")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def write_family(out, family, tag, seed, yf, sf, yw, sw, n_models, fold_of=None):
    """Append the three populations with bootstrap-over-women intervals to summary.csv and
    write the out-of-fold scores of every woman and film."""
    os.makedirs(out, exist_ok=True)
    point = nested.auc_three(yf, sf, yw, sw)
    lo, hi = nested.bootstrap_three(yf, sf, yw, sw, seed)
    summ = os.path.join(out, "summary.csv")
    new = not os.path.exists(summ)
    with open(summ, "a") as fh:
        if new:
            fh.write("family,run,population,auc,ci_low,ci_high,models\n")
        for j, pop in enumerate(POPS):
            fh.write(f"{family},{tag},{pop},{point[j]:.4f},{lo[j]:.4f},{hi[j]:.4f},{n_models}\n")
            print(f"{family} {tag} {pop}: AUC {point[j]:.3f} [{lo[j]:.3f}, {hi[j]:.3f}]", flush=True)
    with open(os.path.join(out, f"women_{family}_{tag}.csv"), "w") as fh:
        fh.write("woman,label,score" + (",fold" if fold_of is not None else "") + "\n")
        for w in range(N_W):
            fh.write(f"{w + 1},{yw[w]},{sw[w]:.6f}" + (f",{fold_of[w]}" if fold_of is not None else "") + "\n")
    with open(os.path.join(out, f"films_{family}_{tag}.csv"), "w") as fh:
        fh.write("image,woman,label,score\n")
        for f in range(N_F):
            fh.write(f"mdb{f + 1:03d},{f // 2 + 1},{yf[f]},{sf[f]:.6f}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--permute", action="store_true")
    ap.add_argument("--perm-seed", type=int, default=None,
                    help="permutation seed (default seed + 1000); for a null distribution")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ps = args.seed + 1000 if args.perm_seed is None else args.perm_seed
    tag = f"seed{args.seed}" + ("_permuted" if args.permute else "") + \
        (str(args.perm_seed) if args.permute and args.perm_seed is not None else "")
    yf, yw = nested.labels(ps if args.permute else None)
    regions = nested.load_regions()
    nested.NORMS = ("none", "z")  # candidate_scores iterates over both normalisations
    members = {
        "ensemble_raw72": lambda c: c[3] == "none",
        "ensemble_z72": lambda c: c[3] == "z",
        "ensemble_union144": lambda c: True,
    }
    sw = {m: np.zeros(N_W) for m in members}
    sf = {m: np.zeros(N_F) for m in members}
    fold_of = np.zeros(N_W, int)
    outer = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    for k, (tr, te) in enumerate(outer.split(np.zeros(N_W), yw)):
        tef = nested.films_of(te)
        fold_of[te] = k
        scores = nested.candidate_scores(regions, yw, yf, tr, te)
        for m, keep in members.items():
            chosen = [v for c, v in scores.items() if keep(c)]
            sw[m][te] = np.mean([sigmoid(s) for s, _ in chosen], axis=0)
            sf[m][tef] = np.mean([sigmoid(f) for _, f in chosen], axis=0)
        print(f"fold {k} done ({len(scores)} models)", flush=True)
    for m, keep in members.items():
        n = sum(1 for c in scores if keep(c))
        write_family(args.out, m, tag, args.seed, yf, sf[m], yw, sw[m], n, fold_of)


if __name__ == "__main__":
    main()
