#!/usr/bin/env python3
"""scikit-learn reference for mias-train's logistic regression (crates/mias-train/src/logistic.rs).

Writes logistic_reference.json beside this script:

  train_x  200 x 8 float32 values (stored as the exact float64 of each float32), with one
           constant column (index 7) and columns of very different means and spreads;
  train_y  0/1 labels, imbalanced (about a third positive), from a noisy linear rule;
  sample_weight  positive weights for the weighted case;
  test_x   50 x 8 rows drawn from a shifted and rescaled distribution, so standardising them
           with their own statistics instead of the training rows' would change every score.

For each case, a Pipeline(StandardScaler(), LogisticRegression(C, class_weight, solver='lbfgs',
tol=1e-12, max_iter=100000)) is fitted on the training rows only; the fixture records the
scaler's mean_ and scale_, the classifier's coef_ (on standardised features) and intercept_,
and the pipeline's decision_function and predict_proba[:, 1] on the training and test rows.
sklearn minimises C * sum_i s_i * loss_i + 0.5 * ||w||^2 (intercept not penalised), with s_i
the sample weight times the class weight ('balanced': n / (2 * n_class)). As a check on the
reference itself, each case is also solved with solver='newton-cholesky' and the two
solutions must agree to 1e-7 (relative to the largest coefficient).

Run by hand: python3 make_logistic_reference.py  (needs numpy and scikit-learn; the output is
committed). Made with scikit-learn 1.9.1 and numpy 2.4.6.
"""

import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
N, D, N_TEST = 200, 8, 50


def data():
    rng = np.random.default_rng(20240512)
    means = np.array([0.0, 5.0, -3.0, 100.0, 0.5, 0.0, 2.0, 3.0])
    spreads = np.array([1.0, 0.1, 4.0, 20.0, 0.5, 1.0, 3.0, 0.0])
    z = rng.standard_normal((N, D))
    x = (means + spreads * z).astype(np.float32)
    beta = np.array([1.5, -1.0, 0.8, 0.0, 2.0, -0.5, 0.3, 0.0])
    logit = z @ beta - 0.9 + 0.8 * rng.standard_normal(N)
    y = (logit > 0).astype(np.int64)
    w = rng.uniform(0.2, 3.0, N).astype(np.float32)
    zt = rng.standard_normal((N_TEST, D))
    xt = (means + 2.0 + 1.7 * spreads * zt).astype(np.float32)
    xt[:, 7] = 3.0
    return x, y, w, xt


CASES = [
    {"name": "balanced_c1", "C": 1.0, "class_weight": "balanced", "weighted": False},
    {"name": "balanced_weighted_c0.05", "C": 0.05, "class_weight": "balanced", "weighted": True},
    {"name": "unweighted_c10", "C": 10.0, "class_weight": None, "weighted": False},
]


def fit(x, y, w, case, solver):
    clf = LogisticRegression(
        C=case["C"],
        class_weight=case["class_weight"],
        solver=solver,
        tol=1e-12,
        max_iter=100000,
    )
    pipe = make_pipeline(StandardScaler(), clf)
    kwargs = {"logisticregression__sample_weight": w.astype(np.float64)} if case["weighted"] else {}
    pipe.fit(x.astype(np.float64), y, **kwargs)
    return pipe


def main():
    x, y, w, xt = data()
    out = {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "n": N,
        "d": D,
        "train_x": [float(v) for v in x.ravel()],
        "train_y": [int(v) for v in y],
        "sample_weight": [float(v) for v in w],
        "test_x": [float(v) for v in xt.ravel()],
        "cases": [],
    }
    for case in CASES:
        pipe = fit(x, y, w, case, "lbfgs")
        check = fit(x, y, w, case, "newton-cholesky")
        scaler, clf = pipe[0], pipe[1]
        coef = clf.coef_.ravel()
        other = np.concatenate([check[1].coef_.ravel(), check[1].intercept_])
        mine = np.concatenate([coef, clf.intercept_])
        gap = np.abs(mine - other).max() / np.abs(mine).max()
        assert gap < 1e-7, (case["name"], gap)
        out["cases"].append(
            {
                "name": case["name"],
                "C": case["C"],
                "balanced": case["class_weight"] == "balanced",
                "weighted": case["weighted"],
                "mean": scaler.mean_.tolist(),
                "scale": scaler.scale_.tolist(),
                "coef": coef.tolist(),
                "intercept": float(clf.intercept_[0]),
                "train_decision": pipe.decision_function(x.astype(np.float64)).tolist(),
                "test_decision": pipe.decision_function(xt.astype(np.float64)).tolist(),
                "test_proba": pipe.predict_proba(xt.astype(np.float64))[:, 1].tolist(),
                "lbfgs_vs_newton_gap": float(gap),
            }
        )
        print(case["name"], "positives", int(y.sum()), "coef", np.round(coef, 4), "gap", gap)
    with open(os.path.join(HERE, "logistic_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
