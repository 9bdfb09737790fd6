#!/usr/bin/env python3
"""Writes populations.json: the three populations (every film; abnormal films against the films
of women with no abnormal film; one case per woman, the largest of her films' scores), every
figure on them with the percentile interval of the bootstrap over women, and the paired
comparison of two score columns with DeLong's test, recomputed with numpy and scikit-learn from
the very draws the crate's RNG makes.

Run by hand from the repository root (CI never runs Python):

    pip install numpy scikit-learn
    python3 crates/mias-eval/tests/data/make_populations.py

(`CLUSTER_DRAWS=target/debug/examples/cluster_draws` runs an example already built instead of
`cargo run`.)

The draws (which women each replicate takes) come from the crate's seeded ChaCha8 stream,
printed by `cargo run -p mias-eval --example cluster_draws -- SEED WOMEN DRAWS`; the fixture
keeps the draws used, so the Rust test also notices if that stream ever changes. Everything else
is computed here, independently of the crate:

- a population's women are the distinct women of its cases in ascending id order (np.unique); a
  replicate is every case of every drawn woman, in draw order (a woman drawn twice counts twice);
- a replicate without both classes is redrawn: skipped, and the next draw takes its place, until
  REPLICATES replicates have both classes; the skipped draws are counted;
- on each replicate: the AUC by sklearn.metrics.roc_auc_score; a case is called abnormal when
  its score >= its fold's threshold, and accuracy, precision (skipped on a replicate where
  nothing is called abnormal), recall, F1 and specificity are counted with numpy;
- every interval is np.percentile(values, [2.5, 97.5]) (numpy's linear interpolation);
- per fold: the same figures on the fold's cases (folds without both classes left out), their
  mean and standard deviation (ddof 1) over the folds;
- the paired comparison: the AUCs of columns A and B and B - A on the same replicates, and on the
  women population DeLong's test of the two correlated AUCs written here from Sun and Xu (2014),
  "Fast implementation of DeLong's algorithm for comparing the areas under correlated receiver
  operating characteristic curves", IEEE Signal Processing Letters 21(11): midranks of the
  pooled, the abnormal and the normal scores give the structural components V10 and V01 of each
  model, S10 and S01 their 2 x 2 sample covariance matrices, var(B - A) = [-1, 1] (S10 / m +
  S01 / n) [-1, 1]^T, z = (B - A) / sqrt(var), p = erfc(|z| / sqrt 2).

Scores are logits (negative and above 1 on purpose) rounded to one decimal (ties).
"""

import json
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

SEED = 11
REPLICATES = 200
LEVEL = 0.95
DRAWS = 3000
THRESHOLDS = {0: 0.2, 1: -0.1, 2: 0.4}


def make_rows():
    """(film, woman, abnormal, score A, score B, fold) for 14 women.

    Women 1-5 normal with two films; 6-11 one abnormal breast of two; 12 both breasts abnormal;
    13 normal and 14 abnormal with one film each. Folds by woman (woman mod 3). Column B is
    column A plus noise, so the two are correlated as two models of the same films are.
    """
    rng = np.random.default_rng(19)
    rows, film = [], 100
    for woman in range(1, 15):
        if woman <= 5:
            labels = [False, False]
        elif woman <= 11:
            labels = [True, False] if rng.random() < 0.5 else [False, True]
        elif woman == 12:
            labels = [True, True]
        elif woman == 13:
            labels = [False]
        else:
            labels = [True]
        for abnormal in labels:
            a = float(rng.normal(0.9 if abnormal else 0.0, 1.0))
            b = a + float(rng.normal(0.3 if abnormal else 0.0, 0.8))
            rows.append((film, woman, abnormal, round(a, 1), round(b, 1), woman % 3))
            film += 3
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


ROWS = make_rows()


def crate_draws(women):
    """The crate's draws; CLUSTER_DRAWS may name an already built example binary."""
    root = Path(__file__).resolve().parents[4]
    command = (
        [os.environ["CLUSTER_DRAWS"]]
        if "CLUSTER_DRAWS" in os.environ
        else ["cargo", "run", "--quiet", "-p", "mias-eval", "--example", "cluster_draws", "--"]
    )
    out = subprocess.run(
        command + [str(SEED), str(women), str(DRAWS)],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def cases(population, column):
    """ids, women, labels, scores, folds, thresholds of a population, sorted by id."""
    rows = sorted(ROWS)
    col = 3 if column == "a" else 4
    if population == "films":
        keep = rows
    elif population == "films_vs_normal_women":
        abnormal_women = {r[1] for r in rows if r[2]}
        keep = [r for r in rows if r[2] or r[1] not in abnormal_women]
    else:
        out = []
        for w in sorted({r[1] for r in rows}):
            mine = [r for r in rows if r[1] == w]
            out.append((w, w, any(r[2] for r in mine), max(r[col] for r in mine), mine[0][5]))
        return [np.array(v) for v in zip(*out)] + [np.array([THRESHOLDS[o[4]] for o in out])]
    ids = np.array([r[0] for r in keep])
    women = np.array([r[1] for r in keep])
    y = np.array([r[2] for r in keep])
    s = np.array([r[col] for r in keep])
    folds = np.array([r[5] for r in keep])
    t = np.array([THRESHOLDS[f] for f in folds])
    return [ids, women, y, s, folds, t]


def figures(y, s, t):
    """accuracy, precision, recall, f1, specificity, auc (None where undefined)."""
    called = s >= t
    tp = int(np.sum(called & y))
    fp = int(np.sum(called & ~y))
    fn = int(np.sum(~called & y))
    tn = int(np.sum(~called & ~y))
    ratio = lambda a, b: a / b if b > 0 else None
    return [
        ratio(tp + tn, len(y)),
        ratio(tp, tp + fp),
        ratio(tp, tp + fn),
        ratio(2 * tp, 2 * tp + fp + fn),
        ratio(tn, tn + fp),
        float(roc_auc_score(y, s)),
    ]


def bootstrap(women, y, stat):
    """Per figure: the percentile interval over valid draws; redrawn; the draws used."""
    uniq = np.unique(women)
    members = [np.flatnonzero(women == u) for u in uniq]
    draws = crate_draws(len(uniq))
    values, used = None, 0
    valid = 0
    for draw in draws:
        if valid == REPLICATES:
            break
        used += 1
        idx = np.concatenate([members[c] for c in draw])
        if y[idx].all() or not y[idx].any():
            continue
        valid += 1
        got = stat(idx)
        if values is None:
            values = [[] for _ in got]
        for slot, v in zip(values, got):
            if v is not None:
                slot.append(v)
    assert valid == REPLICATES, "ask the crate for more draws"
    alpha = 1 - LEVEL
    intervals = [
        [float(x) for x in np.percentile(v, [100 * alpha / 2, 100 * (1 - alpha / 2)])]
        for v in values
    ]
    return intervals, used - REPLICATES, draws[:used], len(uniq)


def midranks(x):
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    ranks = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n)
    out[order] = ranks
    return out


def fast_delong(y, score_columns):
    """Sun and Xu (2014): AUCs and their covariance matrix."""
    pos = [s[y] for s in score_columns]
    neg = [s[~y] for s in score_columns]
    m, n = len(pos[0]), len(neg[0])
    k = len(score_columns)
    tx = np.array([midranks(p) for p in pos])
    ty = np.array([midranks(q) for q in neg])
    tz = np.array([midranks(np.concatenate([p, q])) for p, q in zip(pos, neg)])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    sx = np.cov(v01).reshape(k, k)
    sy = np.cov(v10).reshape(k, k)
    return aucs, sx / m + sy / n


def main():
    out = {
        "generated_by": "make_populations.py",
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "seed": SEED,
        "replicates": REPLICATES,
        "level": LEVEL,
        "thresholds": {str(k): v for k, v in THRESHOLDS.items()},
        "rows": [
            {"film": r[0], "woman": r[1], "abnormal": bool(r[2]), "a": r[3], "b": r[4],
             "fold": r[5]}
            for r in ROWS
        ],
        "populations": {},
    }
    for pop in ["films", "films_vs_normal_women", "women"]:
        ids, women, y, s, folds, t = cases(pop, "a")
        _, _, _, s_b, _, _ = cases(pop, "b")
        intervals, redrawn, draws, n_women = bootstrap(
            women, y, lambda idx: figures(y[idx], s[idx], t[idx])
        )
        values = figures(y, s, t)
        per_fold = []
        for f in sorted(set(folds.tolist())):
            sel = folds == f
            if y[sel].all() or not y[sel].any():
                continue
            per_fold.append(figures(y[sel], s[sel], t[sel]))
        over_folds = []
        for k in range(6):
            v = [row[k] for row in per_fold if row[k] is not None]
            over_folds.append(
                {"values": v, "mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1))}
                if len(v) >= 2 else None
            )
        pair_intervals, pair_redrawn, _, _ = bootstrap(
            women, y,
            lambda idx: [
                float(roc_auc_score(y[idx], s[idx])),
                float(roc_auc_score(y[idx], s_b[idx])),
                float(roc_auc_score(y[idx], s_b[idx]) - roc_auc_score(y[idx], s[idx])),
            ],
        )
        auc_a, auc_b = float(roc_auc_score(y, s)), float(roc_auc_score(y, s_b))
        comparison = {
            "auc_a": auc_a,
            "auc_b": auc_b,
            "difference": auc_b - auc_a,
            "intervals": pair_intervals,
            "redrawn": pair_redrawn,
            "delong": None,
        }
        if pop == "women":
            aucs, cov = fast_delong(y.astype(bool), [s, s_b])
            var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
            z = float((aucs[1] - aucs[0]) / math.sqrt(var))
            comparison["delong"] = {
                "auc_a": float(aucs[0]),
                "auc_b": float(aucs[1]),
                "variance": var,
                "z": z,
                "p_value": math.erfc(abs(z) / math.sqrt(2)),
            }
        out["populations"][pop] = {
            "ids": ids.tolist(),
            "women": n_women,
            "abnormal": int(y.sum()),
            "normal": int((~y.astype(bool)).sum()),
            "values": values,
            "intervals": intervals,
            "redrawn": redrawn,
            "draws": draws,
            "over_folds": over_folds,
            "comparison": comparison,
        }
    path = Path(__file__).with_name("populations.json")
    text = json.dumps(out, indent=1)
    # One line per array of numbers (each draw, each interval), so the file stays short.
    text = re.sub(r"\[[-\d\s,.e]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    path.write_text(text + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
