"""Women-level detection on Mini-MIAS: regional asymmetry + each breast's own deviation from
normal breasts, a women-level logistic regression, every choice made by inner grouped CV on the
women AUC. Run after extract.py and regions.py:

  nice python3 nested.py --seed 42 [--permute] [--out DIR]

Outputs (DIR, default docs/results/explore): nested_<tag>.csv (per woman), films_<tag>.csv,
summary rows appended to summary.csv, chosen configurations to choices_<tag>.csv.
"""
import argparse
import itertools
import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from scipy.stats import rankdata
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from common import CACHE, N_FILMS, read_info

N_WOMEN = N_FILMS // 2
C_GRID = (0.01, 0.1)
INNER_FOLDS = 4
BOOT = 2000

# The candidate set of the nested selection, declared before any real-data figure was seen.
LAYERS = ("c4", "c5", "c4+c5")
GRIDS = (6, 8)
REGS = ("bbox", "row")
NORMS = ("none",)
FSETS = ("asym", "asym+own", "zasym+own")
CANDIDATES = list(itertools.product(LAYERS, GRIDS, REGS, NORMS, FSETS, C_GRID))


def load_regions():
    return dict(np.load(os.path.join(CACHE, "regions.npz")))


def roc_auc_score(y, s):
    """Mann-Whitney AUC (ties count one half); equals sklearn's roc_auc_score."""
    y = np.asarray(y)
    r = rankdata(s)
    n1 = int(y.sum())
    n0 = len(y) - n1
    return (r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def region_array(regions, layer, R, reg, norm):
    if layer == "c4+c5":
        return np.concatenate([regions[f"c4_R{R}_{reg}_{norm}"], regions[f"c5_R{R}_{reg}_{norm}"]], axis=2)
    return regions[f"{layer}_R{R}_{reg}_{norm}"]


class Normative:
    """Per region and channel, the mean and sd of the region means of the normal training
    women's breasts; z of every film's region against them (sd floored at 1e-3). A normal
    training woman's own films are scored against the statistics of the OTHER normal training
    women (leave one woman out): scored in-sample, the normal training women look more normal
    than unseen normal women do, which biases the model (the permutation control showed it:
    women AUC 0.41-0.44 before this correction)."""

    def fit(self, X, normal_films):
        self.normal_films = np.asarray(normal_films)
        A = X[self.normal_films]
        ok = ~np.isnan(A)
        A0 = np.where(ok, A, 0.0)
        self.n, self.s1, self.s2 = ok.sum(0), A0.sum(0), (A0 ** 2).sum(0)
        self.mu, self.sd = self._stats(self.n, self.s1, self.s2)
        return self

    @staticmethod
    def _stats(n, s1, s2):
        with np.errstate(all="ignore"):
            mu = s1 / n
            sd = np.sqrt(np.maximum(s2 / n - mu ** 2, 0.0))
        return mu, np.maximum(np.nan_to_num(sd), 1e-3)

    def z(self, X):
        Z = (X - self.mu) / self.sd
        films = set(self.normal_films.tolist())
        for f in self.normal_films:
            if f % 2 == 1:
                continue  # handled with its woman's right film
            pair = [g for g in (f, f + 1) if g in films]
            B = X[pair]
            ok = ~np.isnan(B)
            B0 = np.where(ok, B, 0.0)
            mu, sd = self._stats(self.n - ok.sum(0), self.s1 - B0.sum(0), self.s2 - (B0 ** 2).sum(0))
            Z[pair] = (B - mu) / sd
        return Z


def nanmax_regions(A):
    """Max over axis 1 ignoring NaN; 0 where every region is NaN."""
    m = np.where(np.isnan(A), -np.inf, A).max(axis=1)
    return np.where(np.isfinite(m), m, 0.0)


def own_feats(Z):
    """Per film: per channel the max over regions of |z| (C), and the max over regions of the
    mean over channels of z^2 (1)."""
    with np.errstate(all="ignore"):
        m = np.nanmean(Z ** 2, axis=2)
    return np.concatenate([nanmax_regions(np.abs(Z)), nanmax_regions(m[:, :, None])], axis=1)


def woman_blocks(X, train_films, normal_films):
    """Feature blocks of every woman for one region array X; the normative mean/sd learnt from
    the normal training women's films only."""
    Z = Normative().fit(X, normal_films).z(X)
    own = own_feats(Z)  # per film [322, C+1]
    return {
        "asym": nanmax_regions(np.abs(X[0::2] - X[1::2])),
        "own": np.maximum(own[0::2], own[1::2]),
        "asymz": nanmax_regions(np.abs(Z[0::2] - Z[1::2])),
    }, own


FSET_BLOCKS = {"asym": ("asym",), "asym+own": ("asym", "own"), "zasym+own": ("asymz", "own")}


def fit_predict(F, y, train_w, test_w, C):
    sc = StandardScaler().fit(F[train_w])
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    lr.fit(sc.transform(F[train_w]), y[train_w])
    return lr.decision_function(sc.transform(F[test_w]))


def films_of(women):
    women = np.asarray(women)
    return np.sort(np.concatenate([2 * women, 2 * women + 1]))


def candidate_scores(regions, yw, yf, tr, te, films=True):
    """For every candidate: women scores of te (trained on tr) and, when films, film scores of
    te's films (woman score + side score)."""
    out = {}
    trf, tef = films_of(tr), films_of(te)
    normal = films_of(tr[yw[tr] == 0])
    for layer, R, reg, norm in itertools.product(LAYERS, GRIDS, REGS, NORMS):
        X = region_array(regions, layer, R, reg, norm)
        blocks, own = woman_blocks(X, trf, normal)
        side = side_score(own, yf, trf, tef) if films else None
        for fset in FSETS:
            F = np.concatenate([blocks[b] for b in FSET_BLOCKS[fset]], axis=1)
            for C in C_GRID:
                s = fit_predict(F, yw, tr, te, C)
                out[(layer, R, reg, norm, fset, C)] = (s, np.repeat(s, 2) + side if films else None)
    return out


def inner_select(regions, yw, yf, train_w, seed, scorer=None):
    """Inner grouped CV inside train_w: pooled inner out-of-fold women AUC per candidate."""
    skf = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    scores = {c: np.zeros(N_WOMEN) for c in CANDIDATES}
    for a, b in skf.split(train_w, yw[train_w]):
        tr, va = train_w[a], train_w[b]
        for c, (s, _) in (scorer or candidate_scores)(regions, yw, yf, tr, va, films=False).items():
            scores[c][va] = s
    aucs = {c: roc_auc_score(yw[train_w], s[train_w]) for c, s in scores.items()}
    order = list(aucs)
    best = max(order, key=lambda c: (aucs[c], -order.index(c)))
    return best, aucs


def side_score(own, yf, train_f, test_f):
    """Which breast: a film-level LR (C = 0.01, balanced) on own[f] - own[other film]."""
    other = np.arange(N_FILMS) ^ 1
    D = own - own[other]
    sc = StandardScaler().fit(D[train_f])
    lr = LogisticRegression(C=0.01, class_weight="balanced", max_iter=2000)
    lr.fit(sc.transform(D[train_f]), yf[train_f])
    return lr.decision_function(sc.transform(D[test_f]))


def auc_three(yf, sf, yw, sw):
    normal_women = np.repeat(yw == 0, 2)
    pop = (yf == 1) | normal_women
    return (roc_auc_score(yf, sf), roc_auc_score(yf[pop], sf[pop]), roc_auc_score(yw, sw))


def bootstrap_three(yf, sf, yw, sw, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < BOOT:
        w = rng.integers(0, N_WOMEN, N_WOMEN)
        f = np.concatenate([2 * w, 2 * w + 1])
        if len(set(yw[w])) < 2 or len(set(yf[f])) < 2:
            continue
        normal = np.concatenate([yw[w] == 0, yw[w] == 0])  # f lists right films, then left
        pop = (yf[f] == 1) | normal
        out.append((roc_auc_score(yf[f], sf[f]), roc_auc_score(yf[f][pop], sf[f][pop]),
                    roc_auc_score(yw[w], sw[w])))
    out = np.array(out)
    return np.percentile(out, 2.5, axis=0), np.percentile(out, 97.5, axis=0)


def labels(permute_seed=None):
    abnormal, _, _ = read_info()
    yf = abnormal.copy()
    if permute_seed is not None:
        perm = np.random.default_rng(permute_seed).permutation(N_WOMEN)
        yf = yf.reshape(N_WOMEN, 2)[perm].reshape(-1)
    yw = yf.reshape(N_WOMEN, 2).max(axis=1)
    return yf, yw


def main(family=None):
    """family: None (this file's candidates) or (candidates, scorer, tag suffix)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--permute", action="store_true")
    ap.add_argument("--norm", default="none", choices=("none", "z"),
                    help="cell normalisation before the region means (z: an ablation)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../docs/results/explore"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    global NORMS, CANDIDATES
    NORMS = (args.norm,)
    CANDIDATES = list(itertools.product(LAYERS, GRIDS, REGS, NORMS, FSETS, C_GRID))
    tag = f"seed{args.seed}" + ("_permuted" if args.permute else "") + ("_znorm" if args.norm == "z" else "")
    scorer = candidate_scores
    if family is not None:
        CANDIDATES, scorer, suffix = family
        tag += suffix
    yf, yw = labels(args.seed + 1000 if args.permute else None)
    regions = load_regions()
    outer = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    sw, sf, fold_of = np.zeros(N_WOMEN), np.zeros(N_FILMS), np.zeros(N_WOMEN, int)
    choices = []
    t0 = time.time()
    every = {c: (np.zeros(N_WOMEN), np.zeros(N_FILMS)) for c in CANDIDATES}
    inner_rows = []
    for k, (tr, te) in enumerate(outer.split(np.zeros(N_WOMEN), yw)):
        tef = films_of(te)
        for c, (s, f) in scorer(regions, yw, yf, tr, te).items():
            every[c][0][te] = s
            every[c][1][tef] = f
        best, aucs = inner_select(regions, yw, yf, tr, args.seed * 100 + k, scorer)
        sw[te] = every[best][0][te]
        sf[tef] = every[best][1][tef]
        fold_of[te] = k
        choices.append((k, *best, aucs[best]))
        inner_rows += [(k, c, a) for c, a in aucs.items()]
        print(f"fold {k}: chose {best} inner women AUC {aucs[best]:.3f} "
              f"({time.time() - t0:.0f}s)", flush=True)
    with open(os.path.join(args.out, f"variants_{tag}.csv"), "w") as fh:
        fh.write("layer,grid,registration,norm,features,C,films_auc,films_vs_normal_women_auc,"
                 "women_auc,mean_inner_women_auc\n")
        for c in CANDIDATES:
            a3 = auc_three(yf, every[c][1], yw, every[c][0])
            inner = np.mean([a for (_, cc, a) in inner_rows if cc == c])
            fh.write(",".join(str(v) for v in c) + "," + ",".join(f"{v:.4f}" for v in a3)
                     + f",{inner:.4f}\n")
    point = auc_three(yf, sf, yw, sw)
    lo, hi = bootstrap_three(yf, sf, yw, sw, args.seed)
    with open(os.path.join(args.out, f"women_{tag}.csv"), "w") as fh:
        fh.write("woman,label,score,fold\n")
        for w in range(N_WOMEN):
            fh.write(f"{w + 1},{yw[w]},{sw[w]:.6f},{fold_of[w]}\n")
    with open(os.path.join(args.out, f"films_{tag}.csv"), "w") as fh:
        fh.write("image,woman,label,score\n")
        for f in range(N_FILMS):
            fh.write(f"mdb{f + 1:03d},{f // 2 + 1},{yf[f]},{sf[f]:.6f}\n")
    with open(os.path.join(args.out, f"choices_{tag}.csv"), "w") as fh:
        fh.write("fold,layer,grid,registration,norm,features,C,inner_women_auc\n")
        for c in choices:
            fh.write(",".join(str(v) for v in c[:-1]) + f",{c[-1]:.4f}\n")
    summ = os.path.join(args.out, "nested_summary.csv")
    new = not os.path.exists(summ)
    with open(summ, "a") as fh:
        if new:
            fh.write("run,population,auc,ci_low,ci_high,candidates\n")
        for j, pop in enumerate(("films", "films_vs_normal_women", "women")):
            fh.write(f"{tag},{pop},{point[j]:.4f},{lo[j]:.4f},{hi[j]:.4f},{len(CANDIDATES)}\n")
    for j, pop in enumerate(("films", "films_vs_normal_women", "women")):
        print(f"{tag} {pop}: AUC {point[j]:.3f} [{lo[j]:.3f}, {hi[j]:.3f}]")


if __name__ == "__main__":
    main()
