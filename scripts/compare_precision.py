#!/usr/bin/env python3
"""Sets the AUCs of two runs side by side, every (protocol, model, population, labels) row
the two metrics.csv files share: `python3 scripts/compare_precision.py F32.csv BF16.csv OUT.csv`.

Written for `reproduce --precision f32` against `--precision bf16` (same seed, data and
config); standard library only. Columns: protocol, model, population, labels, then the AUC
with its interval for each run, and the difference (second minus first).
"""
import csv
import sys


def aucs(path):
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] == "auc":
                key = (r.get("protocol", ""), r["model"], r.get("population", ""), r.get("labels", ""))
                out[key] = (r["value"], r["ci_low"], r["ci_high"])
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} FIRST.csv SECOND.csv OUT.csv")
    a, b = aucs(sys.argv[1]), aucs(sys.argv[2])
    with open(sys.argv[3], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["protocol", "model", "population", "labels",
                    "auc_first", "low_first", "high_first", "auc_second", "low_second", "high_second", "difference"])
        for key in sorted(a.keys() & b.keys()):
            w.writerow([*key, *a[key], *b[key], f"{float(b[key][0]) - float(a[key][0]):.4f}"])


if __name__ == "__main__":
    main()
