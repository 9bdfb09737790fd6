"""Third family: no selection at all. The woman score is the mean, over every candidate of
nested.py's first family (72: 3 layers x 2 grids x 2 registrations x 3 feature sets x 2 C), of
the logistic probability of that candidate's model trained on the outer training women; the
film score is the mean of sigmoid(woman logit + side logit). With no choice to make there is no
inner CV, and nothing is selected on any fold. Also written, and labelled post hoc: the same mean
over the 24 `asym` candidates only (chosen after seeing nested.py's per-variant table).

  OMP_NUM_THREADS=1 nice python3 ensemble.py --seed 42 [--permute]
"""
import argparse
import os

import numpy as np
from sklearn.model_selection import StratifiedKFold

import nested

N_W, N_F = nested.N_WOMEN, nested.N_FILMS


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--permute", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../docs/results/explore"))
    args = ap.parse_args()
    tag = f"seed{args.seed}" + ("_permuted" if args.permute else "")
    yf, yw = nested.labels(args.seed + 1000 if args.permute else None)
    regions = nested.load_regions()
    outer = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    members = {"ensemble_all72": lambda c: True, "ensemble_asym24_posthoc": lambda c: c[4] == "asym"}
    sw = {m: np.zeros(N_W) for m in members}
    sf = {m: np.zeros(N_F) for m in members}
    for tr, te in outer.split(np.zeros(N_W), yw):
        tef = nested.films_of(te)
        scores = nested.candidate_scores(regions, yw, yf, tr, te)
        for m, keep in members.items():
            chosen = [v for c, v in scores.items() if keep(c)]
            sw[m][te] = np.mean([sigmoid(s) for s, _ in chosen], axis=0)
            sf[m][tef] = np.mean([sigmoid(f) for _, f in chosen], axis=0)
    summ = os.path.join(args.out, "ensemble_summary.csv")
    new = not os.path.exists(summ)
    with open(summ, "a") as fh:
        if new:
            fh.write("run,model,population,auc,ci_low,ci_high\n")
        for m in members:
            point = nested.auc_three(yf, sf[m], yw, sw[m])
            lo, hi = nested.bootstrap_three(yf, sf[m], yw, sw[m], args.seed)
            for j, pop in enumerate(("films", "films_vs_normal_women", "women")):
                fh.write(f"{tag},{m},{pop},{point[j]:.4f},{lo[j]:.4f},{hi[j]:.4f}\n")
                print(f"{tag} {m} {pop}: AUC {point[j]:.3f} [{lo[j]:.3f}, {hi[j]:.3f}]", flush=True)
            with open(os.path.join(args.out, f"films_{tag}_{m}.csv"), "w") as ff:
                ff.write("image,woman,label,score\n")
                for f in range(N_F):
                    ff.write(f"mdb{f + 1:03d},{f // 2 + 1},{yf[f]},{sf[m][f]:.6f}\n")
            with open(os.path.join(args.out, f"women_{tag}_{m}.csv"), "w") as wf:
                wf.write("woman,label,score\n")
                for w in range(N_W):
                    wf.write(f"{w + 1},{yw[w]},{sw[m][w]:.6f}\n")


if __name__ == "__main__":
    main()
