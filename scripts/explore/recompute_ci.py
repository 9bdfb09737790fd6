"""Recomputes the three AUCs and their bootstrap-over-women intervals from a films_<tag>.csv
(image, woman, label, score) and its women_<tag>.csv (woman, label, score), with nested.py's
bootstrap (seed given). Used for runs made before the films-vs-normal-women bootstrap fix.

  python3 recompute_ci.py films_X.csv women_X.csv seed
"""
import csv
import sys

import numpy as np

import nested

f_rows = list(csv.DictReader(open(sys.argv[1])))
w_rows = list(csv.DictReader(open(sys.argv[2])))
yf = np.array([int(r["label"]) for r in f_rows])
sf = np.array([float(r["score"]) for r in f_rows])
yw = np.array([int(r["label"]) for r in w_rows])
sw = np.array([float(r["score"]) for r in w_rows])
point = nested.auc_three(yf, sf, yw, sw)
lo, hi = nested.bootstrap_three(yf, sf, yw, sw, int(sys.argv[3]))
for j, pop in enumerate(("films", "films_vs_normal_women", "women")):
    print(f"{pop},{point[j]:.4f},{lo[j]:.4f},{hi[j]:.4f}")
