"""Levers 2 and 3 (issue 19 section 2, tried after the Rust port): the cell classifier's output
per region as women features, and a second round with harder negatives. Everything below was
declared before the first real-data run of this file.

Cell classifier (the Rust lesion method's cells): VGG16 conv5_3 at 512 px (32 x 32 cells of
32 px over the film turned chest wall left; the cached maps of extract.py), a breast cell has
mask fraction >= 0.5; a cell is positive when it is a breast cell of an abnormal film whose
centre (r*32 + 15.5, c*32 + 15.5) lies within max(radius, 32) px of a lesion centre of Info.txt
(column mirrored for right films); negatives are the breast cells of normal women's films; the
other cells of abnormal films are not used. Features standardised on the fit's cells, L2
logistic regression, C = 0.01 fixed, class_weight = "balanced" (lbfgs).
  Cost: every fit uses all positive cells and at most NEG_CELLS = 8,000 negative cells drawn
  uniformly without replacement from the normal training films' breast cells (numpy
  default_rng(seed * 1000 + fold * 10 + part), recorded below).
  Round 2 (lever 3, "harder negatives"): the round-1 model scores every breast cell of the
  normal films of the same training women; the HARD_PER_FILM = 10 highest-scoring cells of each
  normal training film are added to the round-1 negatives (duplicates dropped), and the model is
  refitted with the same C.

No in-sample optimism: the cell logits of the outer TRAINING women (from which the women model
learns) come from 4-fold cross-fitting over those women (StratifiedKFold(4, shuffle,
random_state = 100 * seed + fold) on the woman label): each part is scored by a cell model fitted
on the other three parts. The outer TEST women are scored by a cell model fitted on all the
outer training women. (Scored by a model that saw their own lesion cells, training abnormal
women would look more abnormal than unseen ones, the bias the permutation control caught in the
normative statistics.)

Women features, for each of 4 region settings (R {6, 8} x registration {bbox, row}, regions.py's
region of each conv5_3 cell): per region the mean and the max of the cell logits over its breast
cells; per woman, per region |left - right| of the mean, |left - right| of the max, the max over
both breasts of the mean, the max over both breasts of the max (4 R^2 features); a region empty in
a film gives NaN, replaced by the training women's column mean. Women model: standardised, L2
LR, C = 0.01, balanced. Film score = woman logit + side logit, side = L2 LR (C = 0.01, balanced)
on the film's per-region mean/max logits minus those of her other film (as nested.side_score).

Families (no selection among candidates, so no inner CV):
  6 `cellclf`:          mean over the 4 region settings of sigmoid(logit) (round-1 cell model);
  7 `cellclf+f3`:       mean of family 6's score and family 3's (ensemble_raw72 of
                        lever_znorm.py, same seed and labels: run lever_znorm.py first);
  8 `hardneg`:          family 6 with the round-2 cell model;
  9 `hardneg+f3`:       mean of family 8's score and family 3's.
Also written (a diagnostic, not a family): the cell AUC of each cell model on the outer test
films' labelled cells (positives vs normal women's breast cells).

  OMP_NUM_THREADS=1 nice -n 10 python3 lever_cellclf.py --seed 42 [--permute]
"""
import argparse
import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

import nested
from common import CACHE, film_name, read_info
from lever_znorm import OUT, sigmoid, write_family
from regions import mask_of, region_index

N_W, N_F = nested.N_WOMEN, nested.N_FILMS
G, S = 32, 32  # conv5_3 grid at 512 px, cell side in 1024-px pixels
C_CELL, C_WOMEN = 0.01, 0.01
NEG_CELLS, HARD_PER_FILM = 8000, 10
SETTINGS = [(R, reg) for R in (6, 8) for reg in ("bbox", "row")]


def load_cells():
    """Per film: breast-cell features [n, 512] float32, positive flags [n] (lesion disc), region
    ids {(R, reg): [n]}. Film f (0-based) even = right breast, mirrored."""
    _, discs, _ = read_info()
    centre = np.arange(G) * S + (S - 1) / 2.0
    cy, cx = np.meshgrid(centre, centre, indexing="ij")
    feats, pos, rid = [], [], []
    for f in range(N_F):
        m, frac = mask_of(f + 1)
        breast = (frac[G] >= 0.5).ravel()
        x = np.load(os.path.join(CACHE, "maps512", film_name(f + 1) + ".npz"))["c5"]
        feats.append(x.reshape(512, G * G).T[breast].astype(np.float32))
        inside = np.zeros((G, G), bool)
        for row, col, r in discs[f]:
            if f % 2 == 0:
                col = 1023 - col  # right film, mirrored chest wall left
            inside |= (cy - row) ** 2 + (cx - col) ** 2 <= max(r, S) ** 2
        pos.append(inside.ravel()[breast])
        rid.append({s: region_index(m, G, s[0], s[1]).ravel()[breast] for s in SETTINGS})
    return feats, pos, rid


def fit_cells(feats, pos, yf, yw, women, rng, hard):
    """Round-1 (and when hard, round-2) cell models fitted on the given training women."""
    fl = nested.films_of(women)
    P = np.concatenate([feats[f][pos[f]] for f in fl if yf[f] == 1])
    normal = [f for f in fl if yw[f // 2] == 0]
    Nall = np.concatenate([feats[f] for f in normal])
    take = np.sort(rng.choice(len(Nall), min(NEG_CELLS, len(Nall)), replace=False))
    N = Nall[take]
    models = [_fit(P, N)]
    if hard:
        sc, lr = models[0]
        s = lr.decision_function(sc.transform(Nall))
        start = np.cumsum([0] + [len(feats[f]) for f in normal])
        top = np.concatenate([start[i] + np.argsort(-s[start[i]:start[i + 1]])[:HARD_PER_FILM]
                              for i in range(len(normal))])
        extra = np.setdiff1d(top, take)
        models.append(_fit(P, np.concatenate([N, Nall[extra]])))
    return models, len(P), len(N)


def _fit(P, N):
    X = np.concatenate([P, N])
    y = np.concatenate([np.ones(len(P), int), np.zeros(len(N), int)])
    sc = StandardScaler().fit(X)
    lr = LogisticRegression(C=C_CELL, class_weight="balanced", max_iter=3000)
    lr.fit(sc.transform(X), y)
    return sc, lr


def film_region_stats(logits, rid, R, reg):
    """[2 R^2]: per region mean then max of the cell logits (NaN where empty)."""
    ids = rid[(R, reg)]
    mean = np.full(R * R, np.nan)
    mx = np.full(R * R, np.nan)
    for r in np.unique(ids):
        v = logits[ids == r]
        mean[r], mx[r] = v.mean(), v.max()
    return np.concatenate([mean, mx])


def women_features(stats):
    """stats [322, 2R^2] -> women [161, 4R^2]: |L-R| of mean and max, max over breasts."""
    a, b = stats[0::2], stats[1::2]
    with np.errstate(invalid="ignore"):
        return np.concatenate([np.abs(a - b), np.fmax(a, b)], axis=1)


def impute(F, train):
    mu = np.nanmean(F[train], axis=0)
    mu = np.where(np.isnan(mu), 0.0, mu)
    return np.where(np.isnan(F), mu, F)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--permute", action="store_true")
    ap.add_argument("--perm-seed", type=int, default=None,
                    help="permutation seed (default seed + 1000); for a null distribution")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ps = args.seed + 1000 if args.perm_seed is None else args.perm_seed
    tag = f"seed{args.seed}" + ("_permuted" if args.permute else "") + \
        (str(args.perm_seed) if args.permute and args.perm_seed is not None else "")
    yf, yw = nested.labels(ps if args.permute else None)
    t0 = time.time()
    feats, pos, rid = load_cells()
    if args.permute:
        # Permuted labels: a woman takes another woman's film labels; her cells carry no lesion
        # disc of her own, so positives are the cells of abnormal-labelled films inside the
        # discs of the film whose label they took (the same permutation, applied to the discs).
        perm = np.random.default_rng(ps).permutation(N_W)
        src = np.stack([2 * perm, 2 * perm + 1], axis=1).reshape(-1)
        pos = [_transfer(pos, rid, feats, f, src[f]) for f in range(N_F)]
    print(f"cells loaded: {sum(len(x) for x in feats)} breast cells, "
          f"{sum(int(p.sum()) for p in pos)} positive ({time.time() - t0:.0f}s)", flush=True)
    rounds = ("cellclf", "hardneg")
    sw = {r: np.zeros(N_W) for r in rounds}
    sf = {r: np.zeros(N_F) for r in rounds}
    fold_of = np.zeros(N_W, int)
    diag = []
    outer = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    for k, (tr, te) in enumerate(outer.split(np.zeros(N_W), yw)):
        trf, tef = nested.films_of(tr), nested.films_of(te)
        fold_of[te] = k
        logits = {r: [None] * N_F for r in rounds}
        rng = np.random.default_rng(args.seed * 1000 + k * 10)
        models, n_p, n_n = fit_cells(feats, pos, yf, yw, tr, rng, hard=True)
        for ri, r in enumerate(rounds):
            sc, lr = models[ri]
            for f in tef:
                logits[r][f] = lr.decision_function(sc.transform(feats[f]))
            # diagnostic: cell AUC on the test films' labelled cells
            lab = [(logits[r][f][pos[f]], 1) for f in tef if yf[f] == 1] + \
                  [(logits[r][f], 0) for f in tef if yw[f // 2] == 0]
            s = np.concatenate([v for v, _ in lab])
            y = np.concatenate([np.full(len(v), c) for v, c in lab])
            diag.append((k, r, n_p, n_n, nested.roc_auc_score(y, s)))
        inner = StratifiedKFold(4, shuffle=True, random_state=100 * args.seed + k)
        for j, (a, b) in enumerate(inner.split(tr, yw[tr])):
            rng = np.random.default_rng(args.seed * 1000 + k * 10 + j + 1)
            models, _, _ = fit_cells(feats, pos, yf, yw, tr[a], rng, hard=True)
            for ri, r in enumerate(rounds):
                sc, lr = models[ri]
                for f in nested.films_of(tr[b]):
                    logits[r][f] = lr.decision_function(sc.transform(feats[f]))
        for r in rounds:
            ws, fs = [], []
            for R, reg in SETTINGS:
                stats = np.full((N_F, 2 * R * R), np.nan)
                for f in np.concatenate([trf, tef]):
                    stats[f] = film_region_stats(logits[r][f], rid[f], R, reg)
                F = impute(women_features(stats), tr)
                s = nested.fit_predict(F, yw, tr, te, C_WOMEN)
                side = nested.side_score(impute(stats, trf), yf, trf, tef)
                ws.append(sigmoid(s))
                fs.append(sigmoid(np.repeat(s, 2) + side))
            sw[r][te] = np.mean(ws, axis=0)
            sf[r][tef] = np.mean(fs, axis=0)
        print(f"fold {k} done ({time.time() - t0:.0f}s): " +
              ", ".join(f"{d[1]} cell AUC {d[4]:.3f}" for d in diag[-2:]), flush=True)
    with open(os.path.join(args.out, f"cells_{tag}.csv"), "w") as fh:
        fh.write("fold,round,positive_cells,negative_cells_round1,test_cell_auc\n")
        for d in diag:
            fh.write(f"{d[0]},{d[1]},{d[2]},{d[3]},{d[4]:.4f}\n")
    f3w = _read_scores(os.path.join(args.out, f"women_ensemble_raw72_{tag}.csv"), N_W, yw)
    f3f = _read_scores(os.path.join(args.out, f"films_ensemble_raw72_{tag}.csv"), N_F, yf)
    for r in rounds:
        write_family(args.out, r, tag, args.seed, yf, sf[r], yw, sw[r], len(SETTINGS), fold_of)
        write_family(args.out, r + "+f3", tag, args.seed, yf, (sf[r] + f3f) / 2, yw,
                     (sw[r] + f3w) / 2, len(SETTINGS) + 72, fold_of)


def _transfer(pos, rid, feats, f, g):
    """Permutation control: film f takes film g's label and lesion disc. The disc is carried in
    1024-px coordinates, so it is re-rasterised on f's own grid."""
    _, discs, _ = read_info()  # cheap (one small text file)
    m, frac = mask_of(f + 1)
    breast = (frac[G] >= 0.5).ravel()
    centre = np.arange(G) * S + (S - 1) / 2.0
    cy, cx = np.meshgrid(centre, centre, indexing="ij")
    inside = np.zeros((G, G), bool)
    for row, col, r in discs[g]:
        if g % 2 == 0:
            col = 1023 - col  # g's coordinates in g's oriented frame (chest wall left)
        inside |= (cy - row) ** 2 + (cx - col) ** 2 <= max(r, S) ** 2
    return inside.ravel()[breast]


def _read_scores(path, n, labels):
    a = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding=None)
    if len(a) != n or not np.array_equal(np.asarray(a["label"], int), labels):
        raise SystemExit(f"{path}: does not match this run's labels (run lever_znorm.py first)")
    return np.asarray(a["score"], float)


if __name__ == "__main__":
    main()
