"""Markdown tables of the lever runs (docs/results/explore/levers): every family on the three
populations with intervals, the paired differences with family 3, and the permutation null
(levers/null: fold seed 42, several permutation seeds) beside each family's real figure.

  python3 lever_tables.py
"""
import csv
import os
from collections import defaultdict

import numpy as np

from lever_znorm import OUT, POPS

ORDER = ("ensemble_raw72", "ensemble_z72", "ensemble_union144", "cellclf", "cellclf+f3",
         "hardneg", "hardneg+f3")
RUNS = ("seed42", "seed7", "seed42_permuted", "seed7_permuted")


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def main():
    s = {(r["family"], r["run"], r["population"]): r for r in rows(os.path.join(OUT, "summary.csv"))}
    print("| family | run | films | films vs normal women | women |\n|---|---|---|---|---|")
    for fam in ORDER:
        for run in RUNS:
            if (fam, run, "women") not in s:
                continue
            cells = [f"{float(s[fam, run, p]['auc']):.3f} [{float(s[fam, run, p]['ci_low']):.3f}, "
                     f"{float(s[fam, run, p]['ci_high']):.3f}]" for p in POPS]
            print(f"| {fam} | {run} | " + " | ".join(cells) + " |")
    paired = os.path.join(OUT, "paired.csv")
    if os.path.exists(paired):
        print("\n| family minus family 3 | run | women | films vs normal women |\n|---|---|---|---|")
        p = {(r["family"], r["run"], r["population"]): r for r in rows(paired)}
        for fam in ORDER[1:]:
            for run in ("seed42", "seed7"):
                c = [f"{float(p[fam, run, q]['auc_minus_family3']):+.3f} "
                     f"[{float(p[fam, run, q]['ci_low']):+.3f}, {float(p[fam, run, q]['ci_high']):+.3f}]"
                     for q in ("women", "films_vs_normal_women")]
                print(f"| {fam} | {run} | " + " | ".join(c) + " |")
    nullp = os.path.join(OUT, "null", "summary.csv")
    if os.path.exists(nullp):
        null = defaultdict(list)
        for r in rows(nullp):
            null[r["family"], r["population"]].append(float(r["auc"]))
        print("\n| family | population | null draws | null mean (sd) | null min-max | real seed 42 "
              "| draws >= real |\n|---|---|---|---|---|---|---|")
        for fam in ORDER:
            for pop in ("films_vs_normal_women", "women"):
                v = np.array(null[fam, pop])
                real = float(s[fam, "seed42", pop]["auc"])
                print(f"| {fam} | {pop} | {len(v)} | {v.mean():.3f} ({v.std(ddof=1):.3f}) | "
                      f"{v.min():.3f}-{v.max():.3f} | {real:.3f} | {int((v >= real).sum())} |")


if __name__ == "__main__":
    main()
