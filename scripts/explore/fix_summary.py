"""Rewrites a folder's nested_summary.csv intervals from its films_<run>.csv / women_<run>.csv with
the corrected bootstrap (runs made before the films-vs-normal-women bootstrap fix: the point
AUCs were right, that population's interval was drawn on mismatched films).

  python3 fix_summary.py DIR
"""
import csv
import os
import re
import sys

import numpy as np

import nested

D = sys.argv[1]
path = os.path.join(D, "nested_summary.csv")
rows = list(csv.DictReader(open(path)))
out = []
for run in dict.fromkeys(r["run"] for r in rows):
    fr = list(csv.DictReader(open(os.path.join(D, f"films_{run}.csv"))))
    wr = list(csv.DictReader(open(os.path.join(D, f"women_{run}.csv"))))
    yf = np.array([int(r["label"]) for r in fr]); sf = np.array([float(r["score"]) for r in fr])
    yw = np.array([int(r["label"]) for r in wr]); sw = np.array([float(r["score"]) for r in wr])
    seed = int(re.match(r"seed(\d+)", run).group(1))
    point = nested.auc_three(yf, sf, yw, sw)
    lo, hi = nested.bootstrap_three(yf, sf, yw, sw, seed)
    cand = [r["candidates"] for r in rows if r["run"] == run][0]
    for j, pop in enumerate(("films", "films_vs_normal_women", "women")):
        out.append(f"{run},{pop},{point[j]:.4f},{lo[j]:.4f},{hi[j]:.4f},{cand}")
with open(path, "w") as fh:
    fh.write("run,population,auc,ci_low,ci_high,candidates\n" + "\n".join(out) + "\n")
print("\n".join(out))
