#!/usr/bin/env python3
"""Writes cluster_bootstrap.json: the bootstrap over clusters (women) of the AUC, recomputed
with numpy and scikit-learn from the very draws the crate's RNG makes, for a small case.

Run by hand from the repository root (CI never runs Python):

    pip install numpy scikit-learn
    python3 crates/mias-eval/tests/data/make_cluster_bootstrap.py

The draws (which clusters each replicate takes) come from the crate's seeded ChaCha8 stream,
printed by `cargo run -p mias-eval --example cluster_draws -- SEED CLUSTERS DRAWS`; the fixture
keeps the draws used, so the Rust test also notices if that stream ever changes. Everything
else is computed here, independently of the crate:

- clusters are numbered in ascending order of their ids (np.unique); a replicate is every case
  of every drawn cluster, in draw order (a cluster drawn twice counts twice);
- a replicate without both classes is redrawn: skipped, and the next draw takes its place,
  until REPLICATES replicates have both classes; the skipped draws are counted;
- each replicate's AUC is sklearn.metrics.roc_auc_score on its cases;
- the interval is np.percentile(aucs, [2.5, 97.5]) (numpy's default linear interpolation);
- the point estimate is roc_auc_score on all cases;
- per class: the cases of the class against every normal case, clusters re-numbered among the
  kept cases; a class with fewer than 2 cases has no figure (null).

Scores are logits (negative and above 1 on purpose) with ties.
"""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

SEED = 7
REPLICATES = 200
LEVEL = 0.95
# Draws requested from the crate per set; the fixture keeps those used.
DRAWS = 3000


def make_cases():
    """(cluster id, class, score) for 34 cases of 16 women; class "N" is normal.

    15 women with 1-3 images, each abnormal with probability 0.4 (class "A"); one woman (id
    190) with two abnormal images of class "B", so a draw of the B subset lacks positives about
    a third of the time; one more image of class "C" (a class of one case: no figure). Scores
    are logits, N(0.8, 1) when abnormal and N(0, 1) when normal, rounded to one decimal (ties),
    and the cases are shuffled, so input order and cluster order differ.
    """
    rng = np.random.default_rng(2024)
    cases = []
    for woman in range(200, 215):
        for _ in range(rng.integers(1, 4)):
            cases.append((woman, "A" if rng.random() < 0.4 else "N"))
    cases += [(190, "B"), (190, "B"), (int(rng.integers(200, 215)), "C")]
    scored = [
        (w, c, round(float(rng.normal(0.0 if c == "N" else 0.8, 1.0)), 1)) for w, c in cases
    ]
    return [scored[i] for i in rng.permutation(len(scored))]


CASES = make_cases()


def crate_draws(clusters):
    root = Path(__file__).resolve().parents[4]
    out = subprocess.run(
        [
            "cargo", "run", "--quiet", "-p", "mias-eval", "--example", "cluster_draws", "--",
            str(SEED), str(clusters), str(DRAWS),
        ],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def cluster_bootstrap(y, s, ids):
    """AUC, percentile interval, redrawn count and the draws used."""
    uniq = np.unique(ids)
    members = [np.flatnonzero(ids == u) for u in uniq]
    draws = crate_draws(len(uniq))
    aucs, used = [], 0
    for draw in draws:
        if len(aucs) == REPLICATES:
            break
        used += 1
        cases = np.concatenate([members[c] for c in draw])
        if y[cases].all() or not y[cases].any():
            continue
        aucs.append(roc_auc_score(y[cases], s[cases]))
    assert len(aucs) == REPLICATES, "ask the crate for more draws"
    alpha = 1 - LEVEL
    low, high = np.percentile(aucs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {
        "clusters": int(len(uniq)),
        "draws": draws[:used],
        "auc": float(roc_auc_score(y, s)),
        "low": float(low),
        "high": float(high),
        "redrawn": used - REPLICATES,
    }


def main():
    ids = np.array([c[0] for c in CASES])
    classes = [c[1] for c in CASES]
    y = np.array([c != "N" for c in classes])
    s = np.array([c[2] for c in CASES])
    out = {
        "generated_by": "make_cluster_bootstrap.py",
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "seed": SEED,
        "replicates": REPLICATES,
        "level": LEVEL,
        "cluster_ids": ids.tolist(),
        "classes": classes,
        "scores": s.tolist(),
        "pooled": cluster_bootstrap(y, s, ids),
        "per_class": {},
    }
    for cls in sorted(set(classes) - {"N"}):
        keep = np.array([c in ("N", cls) for c in classes])
        if sum(c == cls for c in classes) < 2:
            out["per_class"][cls] = None
            continue
        out["per_class"][cls] = cluster_bootstrap(y[keep], s[keep], ids[keep])
    path = Path(__file__).with_name("cluster_bootstrap.json")
    text = json.dumps(out, indent=1)
    # One line per array of integers (each draw), so the file stays short.
    text = re.sub(r"\[[\d\s,]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    path.write_text(text + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
