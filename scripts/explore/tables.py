"""Markdown tables of docs/results/explore/*.csv for the write-up (prints to stdout)."""
import csv
import glob
import os
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../docs/results/explore")


def rows(path):
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []


def fmt(r):
    return f"{float(r['auc']):.3f} [{float(r['ci_low']):.3f}, {float(r['ci_high']):.3f}]"


POPS = ("films", "films_vs_normal_women", "women")
print("| run | model | films | films vs normal women | women |\n|---|---|---|---|---|")
for r_ in sorted({r["run"] for r in rows(f"{D}/nested_summary.csv")}):
    by = {r["population"]: r for r in rows(f"{D}/nested_summary.csv") if r["run"] == r_}
    print(f"| {r_} | nested selection ({by['women']['candidates']} candidates) | " + " | ".join(fmt(by[p]) for p in POPS) + " |")
ens = rows(f"{D}/ensemble_summary.csv")
for key in sorted({(r["run"], r["model"]) for r in ens}):
    by = {r["population"]: r for r in ens if (r["run"], r["model"]) == key}
    print(f"| {key[0]} | {key[1]} | " + " | ".join(fmt(by[p]) for p in POPS) + " |")
print()
for path in sorted(glob.glob(f"{D}/variants_*.csv")):
    rs = rows(path)
    w = sorted(float(r["women_auc"]) for r in rs)
    print(f"- `{os.path.basename(path)}`: {len(rs)} fixed configurations, women AUC "
          f"min {w[0]:.3f}, median {w[len(w) // 2]:.3f}, max {w[-1]:.3f}")
