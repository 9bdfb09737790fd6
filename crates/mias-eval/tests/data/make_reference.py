#!/usr/bin/env python3
"""Writes reference.json: expected figures for mias-eval's tests, from independent references.

Run by hand (CI never runs Python):

    pip install numpy scipy scikit-learn statsmodels
    python3 crates/mias-eval/tests/data/make_reference.py

References used:
- scikit-learn: confusion_matrix, accuracy_score, precision_recall_fscore_support, roc_curve
  (drop_intermediate=False, so every distinct threshold is kept), roc_auc_score;
- statsmodels: proportion_confint(method="wilson");
- scipy: norm.ppf, t.ppf, t.interval;
- DeLong (one AUC, and the paired test of two AUCs on the same cases): written here from the
  definition with numpy, using the full m x n matrix of the Mann-Whitney kernel (1 if the
  positive scores higher, 1/2 on a tie, 0 otherwise). The crate uses the fast midrank
  algorithm instead, so the two share no code path;
- bootstrap: a stratified percentile bootstrap with numpy's generator and many replicates. Its
  draws differ from the crate's (another RNG), so tests compare the interval ends with a
  tolerance that covers Monte Carlo error.

The positive class (label 1) is "abnormal". A case is predicted positive when score >= threshold.
"""

import json
import math
from pathlib import Path

import numpy as np
import scipy
import sklearn
import statsmodels
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from statsmodels.stats.proportion import proportion_confint

LEVEL = 0.95


def num(x):
    """JSON number, or null for NaN."""
    x = float(x)
    return None if math.isnan(x) else x


def wilson(count, nobs):
    if nobs == 0:
        return None
    lo, hi = proportion_confint(count, nobs, alpha=1 - LEVEL, method="wilson")
    return [float(lo), float(hi)]


def psi_matrix(pos, neg):
    """Mann-Whitney kernel for every (abnormal, normal) pair: 1, 1/2 on a tie, or 0."""
    return (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])


def delong_slow(y, s):
    pos = s[y == 1]
    neg = s[y == 0]
    m, n = len(pos), len(neg)
    psi = psi_matrix(pos, neg)
    auc = psi.mean()
    v10 = psi.mean(axis=1)  # one structural component per positive
    v01 = psi.mean(axis=0)  # one per negative
    var = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    z = stats.norm.ppf(1 - (1 - LEVEL) / 2)
    se = math.sqrt(var)
    return {
        "auc": float(auc),
        "variance": float(var),
        "ci": [max(0.0, auc - z * se), min(1.0, auc + z * se)],
    }


def stratified_bootstrap(y, s, threshold, replicates, seed):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    aucs, f1s = [], []
    for _ in range(replicates):
        idx = np.concatenate(
            [rng.choice(pos, size=len(pos), replace=True), rng.choice(neg, size=len(neg), replace=True)]
        )
        yy, ss = y[idx], s[idx]
        aucs.append(psi_matrix(ss[yy == 1], ss[yy == 0]).mean())
        pred = (ss >= threshold).astype(int)
        tp = int(((pred == 1) & (yy == 1)).sum())
        fp = int(((pred == 1) & (yy == 0)).sum())
        fn = int(((pred == 0) & (yy == 1)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn))
    q = [100 * (1 - LEVEL) / 2, 100 * (1 - (1 - LEVEL) / 2)]
    return {
        "replicates": replicates,
        "auc_ci": [float(v) for v in np.percentile(aucs, q)],
        "f1_ci": [float(v) for v in np.percentile(f1s, q)],
    }


def case(name, y, s, threshold, bootstrap=False):
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    p, r, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=np.nan
    )
    _, spec, _, _ = precision_recall_fscore_support(
        y, pred, average="binary", pos_label=0, zero_division=np.nan
    )
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    assert math.isinf(thr[0])
    out = {
        "name": name,
        "y_true": [int(v) for v in y],
        "scores": [float(v) for v in s],
        "threshold": threshold,
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "accuracy": num(accuracy_score(y, pred)),
        "precision": num(p),
        "recall": num(r),
        "f1": num(f1),
        "specificity": num(spec),
        "wilson": {
            "accuracy": wilson(tp + tn, len(y)),
            "precision": wilson(tp, tp + fp),
            "recall": wilson(tp, tp + fn),
            "specificity": wilson(tn, tn + fp),
        },
        # roc_curve starts at (0, 0) with threshold +inf; JSON has no infinity, so the
        # thresholds are stored from the second point on.
        "roc": {
            "fpr": [float(v) for v in fpr],
            "tpr": [float(v) for v in tpr],
            "thresholds_after_first": [float(v) for v in thr[1:]],
        },
        "auc": float(roc_auc_score(y, s)),
        "delong": delong_slow(y, s),
    }
    if bootstrap:
        out["bootstrap"] = stratified_bootstrap(y, s, threshold, 20000, seed=20240601)
    return out


def paired_case(y, s_a, seed):
    """DeLong's test of two correlated AUCs, from the m x n kernel matrices of both models."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=int)
    s_a = np.asarray(s_a, dtype=float)
    s_b = np.round(np.clip(s_a + rng.normal(0.0, 0.15, size=len(s_a)), 0.0, 1.0), 2)
    psi_a = psi_matrix(s_a[y == 1], s_a[y == 0])
    psi_b = psi_matrix(s_b[y == 1], s_b[y == 0])
    m, n = psi_a.shape
    s10 = np.cov(np.vstack([psi_a.mean(axis=1), psi_b.mean(axis=1)]))
    s01 = np.cov(np.vstack([psi_a.mean(axis=0), psi_b.mean(axis=0)]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    diff = psi_b.mean() - psi_a.mean()
    z = diff / math.sqrt(var)
    q = stats.norm.ppf(1 - (1 - LEVEL) / 2)
    return {
        "y_true": [int(v) for v in y],
        "scores_a": [float(v) for v in s_a],
        "scores_b": [float(v) for v in s_b],
        "auc_a": float(roc_auc_score(y, s_a)),
        "auc_b": float(roc_auc_score(y, s_b)),
        "variance": float(var),
        "z": float(z),
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "ci": [float(diff - q * math.sqrt(var)), float(diff + q * math.sqrt(var))],
    }


def folds_case():
    """Three folds of out-of-fold predictions: per-fold AUC, their summary, and the pooled AUC."""
    rng = np.random.default_rng(7)
    folds = []
    for k in range(3):
        n_pos, n_neg = 8 + k, 12 - k
        pos = np.round(rng.beta(4, 2, size=n_pos), 2)
        neg = np.round(rng.beta(2, 4, size=n_neg), 2)
        y = np.concatenate([np.ones(n_pos, int), np.zeros(n_neg, int)])
        s = np.concatenate([pos, neg])
        folds.append((y, s))
    aucs = np.array([roc_auc_score(y, s) for y, s in folds])
    k = len(aucs)
    mean, sd = aucs.mean(), aucs.std(ddof=1)
    lo, hi = stats.t.interval(LEVEL, k - 1, loc=mean, scale=sd / math.sqrt(k))
    y_all = np.concatenate([y for y, _ in folds])
    s_all = np.concatenate([s for _, s in folds])
    return {
        "folds": [{"y_true": [int(v) for v in y], "scores": [float(v) for v in s]} for y, s in folds],
        "fold_auc": [float(v) for v in aucs],
        "auc_mean": float(mean),
        "auc_sd": float(sd),
        "auc_t_interval": [float(lo), float(hi)],
        "pooled_auc": float(roc_auc_score(y_all, s_all)),
        "pooled_accuracy_at_0_5": float(accuracy_score(y_all, (s_all >= 0.5).astype(int))),
    }


def main():
    rng = np.random.default_rng(12345)
    cases = [
        # The four-point example from scikit-learn's roc_curve documentation.
        case("four_points", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.5),
        # Ties within and across the classes, and scores equal to the threshold.
        case(
            "ties",
            [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1],
            [0.9, 0.9, 0.7, 0.5, 0.5, 0.5, 0.3, 0.3, 0.8, 0.1, 0.5, 0.2],
            0.5,
        ),
        # Perfect separation: AUC 1 and a DeLong variance of 0.
        case("perfect", [0, 0, 0, 1, 1], [0.05, 0.2, 0.45, 0.55, 0.99], 0.5),
        # Nothing predicted positive at this threshold: precision is undefined (null).
        case("no_predicted_positive", [0, 1, 0, 1, 1, 0], [0.1, 0.3, 0.2, 0.45, 0.4, 0.05], 0.5),
        # 60 cases, imbalanced, scores rounded to one decimal (many ties); another threshold.
        case(
            "rounded_n60",
            [1] * 22 + [0] * 38,
            list(np.round(np.concatenate([rng.beta(3, 2, 22), rng.beta(2, 3, 38)]), 1)),
            0.3,
        ),
        # 200 cases for the bootstrap comparison.
        case(
            "beta_n200",
            [1] * 80 + [0] * 120,
            list(np.round(np.concatenate([rng.beta(3, 2, 80), rng.beta(2, 3, 120)]), 2)),
            0.5,
            bootstrap=True,
        ),
    ]
    probs = [1e-12, 1e-4, 0.01, 0.02425, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-9]
    dfs = [1, 2, 3, 4, 5, 9, 10, 29, 100]
    out = {
        "generator": "make_reference.py",
        "versions": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "level": LEVEL,
        "cases": cases,
        "norm_ppf": [[p, float(stats.norm.ppf(p))] for p in probs],
        "t_ppf": [[p, df, float(stats.t.ppf(p, df))] for df in dfs for p in (0.9, 0.975, 0.995)],
        "folds": folds_case(),
        "paired": paired_case(cases[5]["y_true"], cases[5]["scores"], seed=99),
    }
    path = Path(__file__).with_name("reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
