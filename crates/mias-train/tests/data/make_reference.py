#!/usr/bin/env python3
"""Independent numpy reference for mias-train's head, loss and Keras-style Adam.

Writes reference.json beside this script: a small head (6 inputs, hidden 8-5-4, 2
outputs) with fixed initial weights, a small training and validation set, and for three
scenarios the expected per-step losses, epoch statistics and final weights, all computed
here in float64 with a forward and backward pass written out in numpy:

  full_batch   lr 5e-5 (the paper's), one batch of all 12 samples, 3 steps, no dropout
  masked       lr 1e-2, batches of 5 (5, 5, 2), 2 epochs, dropout 0.5 with the fixed
               masks stored in the fixture (entries 0 or 2)
  fit          lr 1e-2, batches of 5, 3 epochs, no shuffling, no dropout, validation set;
               the history as Keras's fit reports it (training loss and accuracy averaged
               over the epoch's batches weighted by batch size, validation at epoch end)

Adam here is written in the textbook form with the bias corrections folded into the step
size, as Keras documents it: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), w -= lr_t m / (sqrt(v) + eps).

Run by hand: python3 make_reference.py  (needs numpy; output is committed).
"""

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_DIM = 6
HIDDEN = [8, 5, 4]
SEED = 20240611


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def initial_weights(rng):
    dims = [INPUT_DIM] + HIDDEN + [2]
    params = []
    for i, (fi, fo) in enumerate(zip(dims[:-1], dims[1:])):
        limit = np.sqrt(6.0 / (fi + fo))
        params.append(f32(rng.uniform(-limit, limit, size=(fi, fo))))
        # Small non-zero biases so their gradients and updates are exercised.
        params.append(f32(rng.uniform(-0.1, 0.1, size=(fo,))))
    return params


def forward_backward(params, x, y, mask, min_margin):
    n = x.shape[0]
    layers = len(params) // 2
    inputs, pre = [], []
    h = x
    for i in range(layers - 1):
        z = h @ params[2 * i] + params[2 * i + 1]
        min_margin[0] = min(min_margin[0], np.min(np.abs(z)))
        a = np.maximum(z, 0.0)
        if i == layers - 2 and mask is not None:
            a = a * mask
        inputs.append(h)
        pre.append(z)
        h = a
    inputs.append(h)
    logits = h @ params[-2] + params[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    onehot = np.eye(2)[y]
    loss = -(onehot * logp).sum() / n
    correct = int((np.argmax(logits, axis=1) == y).sum())
    dz = (np.exp(logp) - onehot) / n
    grads = [None] * len(params)
    for i in reversed(range(layers)):
        grads[2 * i] = inputs[i].T @ dz
        grads[2 * i + 1] = dz.sum(axis=0)
        if i == 0:
            break
        dh = dz @ params[2 * i].T
        if i == layers - 1 and mask is not None:
            dh = dh * mask
        dz = dh * (pre[i - 1] > 0)
    return loss, correct, grads


def evaluate(params, x, y):
    loss, correct, _ = forward_backward(params, x, y, None, [np.inf])
    return loss, correct / len(y)


class Adam:
    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-7):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        out = []
        for j, (p, g) in enumerate(zip(params, grads)):
            self.m[j] = self.b1 * self.m[j] + (1 - self.b1) * g
            self.v[j] = self.b2 * self.v[j] + (1 - self.b2) * g * g
            out.append(p - lr_t * self.m[j] / (np.sqrt(self.v[j]) + self.eps))
        return out


def batches(n, size):
    return [np.arange(s, min(s + size, n)) for s in range(0, n, size)]


def run(params, x, y, lr, batch, epochs, masks=None, val=None, margin=None):
    adam = Adam(params, lr)
    steps, history = [], []
    k = 0
    for epoch in range(epochs):
        loss_sum, correct_sum = 0.0, 0
        for idx in batches(len(y), batch):
            mask = None if masks is None else masks[k]
            loss, correct, grads = forward_backward(params, x[idx], y[idx], mask, margin)
            params = adam.step(params, grads)
            steps.append({"loss": loss, "correct": correct, "len": len(idx)})
            loss_sum += loss * len(idx)
            correct_sum += correct
            k += 1
        entry = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / len(y),
            "train_accuracy": correct_sum / len(y),
        }
        if val is not None:
            vl, va = evaluate(params, *val)
            entry["val_loss"], entry["val_accuracy"] = vl, va
        history.append(entry)
    return params, steps, history


def names():
    out = []
    for i in range(len(HIDDEN) + 1):
        out += [f"dense_{i}.kernel", f"dense_{i}.bias"]
    return out


def as_json(params):
    return {
        k: {"shape": list(p.shape), "data": [float(v) for v in p.ravel()]}
        for k, p in zip(names(), params)
    }


def main():
    rng = np.random.default_rng(SEED)
    params = initial_weights(rng)
    x = f32(rng.normal(size=(12, INPUT_DIM)))
    y = np.array([0, 1] * 6)
    x_val = f32(rng.normal(size=(5, INPUT_DIM)))
    y_val = np.array([1, 0, 1, 1, 0])
    # Three steps per epoch of batches 5, 5, 2 over 2 epochs: six masks.
    sizes = [len(b) for b in batches(12, 5)] * 2
    masks = [f32(2.0 * (rng.uniform(size=(s, HIDDEN[-1])) >= 0.5)) for s in sizes]

    margin = [np.inf]
    scenarios = {}
    final, steps, _ = run(params, x, y, 5e-5, 12, 3, margin=margin)
    scenarios["full_batch"] = {
        "learning_rate": 5e-5, "batch_size": 12, "epochs": 3, "dropout": 0.0,
        "steps": steps, "final": as_json(final),
    }
    final, steps, _ = run(params, x, y, 1e-2, 5, 2, masks=masks, margin=margin)
    scenarios["masked"] = {
        "learning_rate": 1e-2, "batch_size": 5, "epochs": 2, "dropout": 0.5,
        "masks": [m.ravel().tolist() for m in masks],
        "steps": steps, "final": as_json(final),
    }
    final, steps, history = run(params, x, y, 1e-2, 5, 3, val=(x_val, y_val), margin=margin)
    scenarios["fit"] = {
        "learning_rate": 1e-2, "batch_size": 5, "epochs": 3, "dropout": 0.0,
        "steps": steps, "history": history, "final": as_json(final),
    }
    # A ReLU input this close to 0 could flip sign between float32 and float64.
    assert margin[0] > 1e-4, f"pre-activation margin {margin[0]} too small; change SEED"

    out = {
        "generator": "make_reference.py (numpy float64)",
        "input_dim": INPUT_DIM,
        "hidden": HIDDEN,
        "x": x.ravel().tolist(), "y": y.tolist(),
        "x_val": x_val.ravel().tolist(), "y_val": y_val.tolist(),
        "initial": as_json(params),
        "min_preactivation_margin": float(margin[0]),
        "scenarios": scenarios,
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote reference.json (min |pre-activation| {margin[0]:.2e})")


if __name__ == "__main__":
    main()
