#!/usr/bin/env python3
"""Real-Keras reference for mias-train: the same head, data and initial weights as
reference.json (made by make_reference.py, which must run first), trained by Keras 3's
own `model.fit` with its own Adam, loss and accuracy metric.

Writes keras_reference.json beside this script with, for two runs, Keras's History and
the final weights:

  full_batch   Adam(learning_rate=5e-5), batch_size=12 (one batch), 3 epochs
  fit          Adam(learning_rate=1e-2), batch_size=5, 3 epochs, validation_data

both with shuffle=False and Dropout(0.0) (Keras's dropout masks come from its own RNG and
cannot be replayed; masked steps are covered by the numpy reference).

Run by hand: pip install keras "jax[cpu]"; python3 make_keras_reference.py
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with open(os.path.join(HERE, "reference.json")) as f:
        ref = json.load(f)
    d, hidden = ref["input_dim"], ref["hidden"]
    x = np.array(ref["x"], dtype=np.float32).reshape(-1, d)
    y = np.eye(2, dtype=np.float32)[ref["y"]]
    x_val = np.array(ref["x_val"], dtype=np.float32).reshape(-1, d)
    y_val = np.eye(2, dtype=np.float32)[ref["y_val"]]
    names = []
    for i in range(len(hidden) + 1):
        names += [f"dense_{i}.kernel", f"dense_{i}.bias"]
    initial = [
        np.array(ref["initial"][k]["data"], dtype=np.float32).reshape(ref["initial"][k]["shape"])
        for k in names
    ]

    runs = {}
    for name, lr, batch, val in [
        ("full_batch", 5e-5, 12, None),
        ("fit", 1e-2, 5, (x_val, y_val)),
    ]:
        layers = [keras.Input((d,))]
        layers += [keras.layers.Dense(w, activation="relu") for w in hidden]
        layers += [keras.layers.Dropout(0.0), keras.layers.Dense(2, activation="softmax")]
        model = keras.Sequential(layers)
        model.set_weights(initial)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=lr),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        h = model.fit(
            x, y, batch_size=batch, epochs=3, shuffle=False, validation_data=val, verbose=0
        ).history
        history = []
        for e in range(3):
            entry = {
                "epoch": e + 1,
                "train_loss": float(h["loss"][e]),
                "train_accuracy": float(h["accuracy"][e]),
            }
            if val is not None:
                entry["val_loss"] = float(h["val_loss"][e])
                entry["val_accuracy"] = float(h["val_accuracy"][e])
            history.append(entry)
        final = {
            k: {"shape": list(w.shape), "data": [float(v) for v in w.ravel()]}
            for k, w in zip(names, model.get_weights())
        }
        runs[name] = {
            "learning_rate": lr,
            "batch_size": batch,
            "epochs": 3,
            "history": history,
            "final": final,
        }

    out = {
        "generator": f"make_keras_reference.py (keras {keras.__version__}, "
        f"backend {keras.backend.backend()}, float32)",
        "runs": runs,
    }
    with open(os.path.join(HERE, "keras_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote keras_reference.json:", out["generator"])


if __name__ == "__main__":
    main()
