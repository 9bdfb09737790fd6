#!/usr/bin/env python3
"""Make the timm parity fixtures for the mias-backbones ports.

README: python3.11 -m venv .venv && .venv/bin/pip install torch timm safetensors numpy
        && .venv/bin/python crates/mias-backbones/tests/data/make_timm_reference.py
        (run by hand from the workspace root, 1-3 minutes on 2 cores; CI never runs it;
        add --sensitivity to print how far plausible porting mistakes move the features
        instead of writing the fixtures)

For each timm model (vgg16, legacy_xception, mobilenetv2_100, nasnetalarge) this script
fills every parameter and buffer with deterministic pseudo-random values from a formula that
the Rust tests (tests/it/timm_weights.rs) reimplement bit for bit, runs timm in eval mode on
a batch of 2 inputs made by the same formula at the model's native size, and writes:

  timm_manifest.json          every state_dict key with its shape, per model (no values), so
                              the Rust side builds each tensor without Python
  timm_reference.safetensors  `<model>.features` f32 [2, D]: timm's forward_features, then the
                              mean over H and W (no head), plus probes of the formula; the
                              header metadata records the versions and the input recipe;
                              `<model>.<tag>.features`: the VARIANTS below (other input sides,
                              and FLAVOR.md's keras flavor built from timm modules)
  timm_dense_reference.safetensors
                              the DENSE maps below (one image [1, 3, S, S] of the same input
                              formula): for each map [C, h, w], `<model>.<tag>.<layer>.channel_mean`
                              f32 [C] (its mean over h and w) and `<model>.<tag>.<layer>.sample`
                              f32 [K], K = min(1024, C*h*w): the row-major element
                              (i * 7919) mod (C*h*w) for i in 0..K (the full maps would weigh
                              megabytes); the header metadata `dense` gives every map's shape

The formula (all arithmetic on unsigned 64-bit integers wraps):
  seed(name)  = FNV-1a 64 of the UTF-8 bytes of the tensor name
  h(name, i)  = splitmix64 finaliser of seed(name) + (i + 1) * 0x9E3779B97F4A7C15, where i is
                the row-major element index
  v(name, i)  = 2 * (h >> 40) / 2^24 - 1, in [-1, 1), exact in f64
  value       = f32(center + half_width * v), computed in f64 then rounded once to f32
with (center, half_width) chosen by the tensor's key suffix and rank:
  weight, rank 4 with shape[1] == 1 (depthwise conv [C, 1, kh, kw]):
                                              (0, sqrt(3 / fan_in)), fan_in = kh * kw
                                              (unit gain: a pointwise conv follows with no ReLU)
  any other weight of rank >= 2 (conv OIHW or linear OI):
                                              (0, sqrt(6 / fan_in)), fan_in = prod(shape[1:])
                                              (He-uniform: plain ReLU chains keep their scale;
                                              residual sums let the pooled features grow to
                                              ~5 for vgg16/mobilenetv2, ~1e3 for xception/nasnet)
  weight, rank 1 (BatchNorm gamma):           (1, 0.2)
  bias (conv, linear or BatchNorm beta):      (0, 0.1)
  running_mean:                               (0, 0.1)
  running_var:                                (1, 0.25)
  num_batches_tracked:                        left as is (not used in eval; not in the manifest)
  the input `pixel_values` [2, 3, S, S]:      (0, 1)
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np
import safetensors
import safetensors.numpy
import timm
import torch

HERE = pathlib.Path(__file__).resolve().parent

# (timm name, native input side, feature dimension)
MODELS = [
    ("vgg16", 224, 512),
    ("legacy_xception", 299, 2048),
    ("mobilenetv2_100", 224, 1280),
    ("nasnetalarge", 331, 4032),
]
BATCH = 2
INPUT_NAME = "pixel_values"

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def unit_values(name: str, n: int) -> np.ndarray:
    """v(name, i) for i in 0..n as f64 in [-1, 1)."""
    seed = np.uint64(fnv1a64(name))
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = seed + i * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(40)).astype(np.float64)
    return top * (2.0 / float(1 << 24)) - 1.0


def rule(name: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(center, half_width) of a tensor, from its key suffix and shape."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "weight" and len(shape) == 4 and shape[1] == 1:
        fan_in = math.prod(shape[1:])
        return 0.0, math.sqrt(3.0 / fan_in)
    if leaf == "weight" and len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return 0.0, math.sqrt(6.0 / fan_in)
    if leaf == "weight" and len(shape) == 1:
        return 1.0, 0.2
    if leaf == "bias":
        return 0.0, 0.1
    if leaf == "running_mean":
        return 0.0, 0.1
    if leaf == "running_var":
        return 1.0, 0.25
    raise ValueError(f"no rule for tensor {name!r} of shape {shape}")


def make_tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
    center, half = rule(name, shape) if name != INPUT_NAME else (0.0, 1.0)
    n = math.prod(shape)
    vals = center + half * unit_values(name, n)
    return vals.astype(np.float32).reshape(shape)


def fill(model: torch.nn.Module) -> list[dict]:
    """Overwrite every float parameter and buffer; return the manifest entries."""
    entries = []
    sd = model.state_dict()
    with torch.no_grad():
        for key, t in sd.items():
            if key.endswith("num_batches_tracked"):
                continue
            assert t.dtype == torch.float32, (key, t.dtype)
            shape = tuple(t.shape)
            t.copy_(torch.from_numpy(make_tensor(key, shape)))
            entries.append({"key": key, "shape": list(shape)})
    return entries


def probe(name: str, shape: tuple[int, ...]) -> dict:
    """A few values and the f64 sum of one tensor, for the Rust formula's own test."""
    t = make_tensor(name, shape)
    return {
        "key": name,
        "shape": list(shape),
        "first": [float(x) for x in t.reshape(-1)[:4]],
        "sum": float(t.astype(np.float64).sum()),
    }


def run_features(model: torch.nn.Module, side: int) -> np.ndarray:
    x = torch.from_numpy(make_tensor(INPUT_NAME, (BATCH, 3, side, side)))
    with torch.no_grad():
        return model.forward_features(x).mean(dim=(2, 3)).numpy()


def relerr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def sensitivity() -> None:
    """Show that the fixtures catch the mistakes a port is likely to make.

    Each variant is a plausible porting error; its relative error against the true model
    must be far above the 1e-4 tolerance of the Rust tests.
    """
    torch.set_num_threads(2)
    for name, side, kwargs, what in [
        ("nasnetalarge", 331, {"pad_type": ""}, "symmetric padding instead of 'same'"),
        ("legacy_xception", 299, {}, "BatchNorm eps 1e-3 instead of 1e-5"),
        ("mobilenetv2_100", 224, {"pad_type": "same"}, "TF-SAME instead of symmetric"),
        ("vgg16", 224, {}, "one conv bias dropped"),
    ]:
        ref = timm.create_model(name, pretrained=False).eval()
        fill(ref)
        if name == "nasnetalarge":
            alt = timm.models.nasnet.NASNetALarge(**kwargs).eval()
        else:
            alt = timm.create_model(name, pretrained=False, **kwargs).eval()
        fill(alt)
        if name == "legacy_xception":
            for m in alt.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eps = 1e-3
        if name == "vgg16":
            with torch.no_grad():
                alt.features[26].bias.zero_()
        err = relerr(run_features(alt, side), run_features(ref, side))
        print(f"{name}: {what}: relerr {err:.3g}", file=sys.stderr)


# Further references from the same formula weights, each stored as `<model>.<tag>.features`:
# other input sides (the ports must work at any size), and the "keras" flavor of FLAVOR.md
# built from timm's own modules, an independent reference for the ports' keras flavor.
# (timm name, tag, side, how to make the model)
def keras_xception() -> torch.nn.Module:
    """legacy_xception as Keras runs it: BatchNorm eps 1e-3, TF-SAME (-inf) 3x3/2 max pools."""
    model = timm.create_model("legacy_xception", pretrained=False)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
        if isinstance(m, torch.nn.Sequential):
            for i, sub in enumerate(m):
                if isinstance(sub, torch.nn.MaxPool2d):
                    m[i] = timm.layers.pool2d_same.MaxPool2dSame(3, 2)
    return model


def keras_mobilenetv2() -> torch.nn.Module:
    """mobilenetv2_100 as the Keras/Coral weights need it: TF-SAME on the stride-2 3x3 convs."""
    return timm.create_model("mobilenetv2_100", pretrained=False, pad_type="same")


class ZeroPadMaxPool(torch.nn.Module):
    """Keras NASNet's strided max pool: ZeroPadding2D(correct_pad) + MaxPooling2D(3, 2, 'valid').

    correct_pad pads (k//2 - 1 + n % 2, k//2) per axis of length n, the TF-SAME amounts at
    stride 2, so timm's pad_same gives the same padding, here filled with zeros.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = timm.layers.padding.pad_same(x, [3, 3], [2, 2], value=0.0)
        return torch.nn.functional.max_pool2d(x, 3, 2)


def keras_nasnet() -> torch.nn.Module:
    """nasnetalarge as Keras builds it: reduction-cell max pools pad with zeros, not -inf."""
    model = timm.create_model("nasnetalarge", pretrained=False)
    swapped = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, timm.layers.pool2d_same.MaxPool2dSame):
                setattr(parent, child_name, ZeroPadMaxPool())
                swapped += 1
    assert swapped == 8, swapped  # comb_iter_1_left and comb_iter_4_right of 4 reduction cells
    return model


def plain(name: str):
    return lambda: timm.create_model(name, pretrained=False)


VARIANTS = [
    ("vgg16", "side160", 160, plain("vgg16")),
    ("legacy_xception", "side224", 224, plain("legacy_xception")),
    ("mobilenetv2_100", "side200", 200, plain("mobilenetv2_100")),
    ("nasnetalarge", "side224", 224, plain("nasnetalarge")),
    ("legacy_xception", "keras_flavor", 299, keras_xception),
    ("mobilenetv2_100", "keras_flavor", 224, keras_mobilenetv2),
    ("nasnetalarge", "keras_flavor", 331, keras_nasnet),
]


# Dense maps: the feature map of the whole image before any global pooling, at two depths, taken
# with forward hooks at the modules that timm's own `feature_info` names for those strides:
#   last            the deepest map (vgg16: conv5_3 + ReLU, stride 16, before the last pool;
#                   the others: forward_features, stride 32)
#   previous_stage  the last map at half that stride (vgg16: conv4_3 + ReLU, stride 8;
#                   legacy_xception: ReLU of the middle flow's output, 16; mobilenetv2_100:
#                   blocks.4, 16; nasnetalarge: ReLU of cell_11, 16)
# (timm name, tag, side, {layer: module name})
DENSE = [
    ("vgg16", "dense512", 512, {"last": "features.29", "previous_stage": "features.22"}),
    (
        "legacy_xception",
        "dense128",
        128,
        {"last": "act4", "previous_stage": "block12.rep.0"},
    ),
    ("mobilenetv2_100", "dense128", 128, {"last": "bn2", "previous_stage": "blocks.4"}),
    (
        "nasnetalarge",
        "dense128",
        128,
        {"last": "act", "previous_stage": "reduction_cell_1.conv_1x1.act"},
    ),
]
DENSE_SAMPLE_STEP = 7919
DENSE_SAMPLE_LEN = 1024


def dense_maps(model: torch.nn.Module, side: int, modules: dict[str, str]) -> dict[str, np.ndarray]:
    """The outputs [C, h, w] of the named modules for one formula image of `side`."""
    found: dict[str, torch.Tensor] = {}
    named = dict(model.named_modules())
    hooks = []
    for layer, module in modules.items():
        def hook(_m, _inputs, out, layer=layer):
            found[layer] = out.detach().clone()

        hooks.append(named[module].register_forward_hook(hook))
    x = torch.from_numpy(make_tensor(INPUT_NAME, (1, 3, side, side)))
    with torch.no_grad():
        model.forward_features(x)
    for h in hooks:
        h.remove()
    return {layer: found[layer][0].numpy().astype(np.float32) for layer in modules}


def dense_sample(m: np.ndarray) -> np.ndarray:
    flat = m.reshape(-1)
    k = min(DENSE_SAMPLE_LEN, flat.size)
    idx = (np.arange(k, dtype=np.int64) * DENSE_SAMPLE_STEP) % flat.size
    return flat[idx].copy()


def main() -> None:
    if "--sensitivity" in sys.argv:
        sensitivity()
        return
    torch.manual_seed(0)
    torch.set_num_threads(2)
    manifest = {
        "formula": "see make_timm_reference.py header",
        "batch": BATCH,
        "input_name": INPUT_NAME,
        "models": {},
    }
    tensors: dict[str, np.ndarray] = {}
    probes = []
    for name, side, dim in MODELS:
        model = timm.create_model(name, pretrained=False)
        model.eval()
        entries = fill(model)
        x_shape = (BATCH, 3, side, side)
        x = torch.from_numpy(make_tensor(INPUT_NAME, x_shape))
        with torch.no_grad():
            fmap = model.forward_features(x)
            feats = fmap.mean(dim=(2, 3))
        assert feats.shape == (BATCH, dim), (name, feats.shape)
        f = feats.numpy().astype(np.float32)
        tensors[f"{name}.features"] = f
        manifest["models"][name] = {
            "input_side": side,
            "feature_dim": dim,
            "final_map": list(fmap.shape[1:]),
            "tensors": entries,
        }
        weights = [e for e in entries if e["key"].endswith("weight")]
        for e in (weights[0], entries[len(entries) // 2], entries[-1]):
            probes.append(probe(e["key"], tuple(e["shape"])))
        print(
            f"{name}: input {x_shape}, map {tuple(fmap.shape)}, features mean "
            f"{f.mean():.4g} std {f.std():.4g} max|.| {np.abs(f).max():.4g}, "
            f"{len(entries)} tensors",
            file=sys.stderr,
        )
    probes.append(probe(INPUT_NAME, (BATCH, 3, 4, 5)))
    for name, tag, side, make in VARIANTS:
        model = make().eval()
        entries = fill(model)
        assert (
            entries == manifest["models"][name]["tensors"]
        ), f"{name}/{tag}: state_dict differs from the plain model's"
        f = run_features(model, side).astype(np.float32)
        tensors[f"{name}.{tag}.features"] = f
        manifest["models"][name].setdefault("variants", {})[tag] = {"input_side": side}
        print(f"{name}.{tag}: side {side}, features max|.| {np.abs(f).max():.4g}", file=sys.stderr)

    dense_tensors: dict[str, np.ndarray] = {}
    dense_meta: dict[str, dict] = {}
    for name, tag, side, modules in DENSE:
        model = timm.create_model(name, pretrained=False).eval()
        fill(model)
        for layer, m in dense_maps(model, side, modules).items():
            dense_tensors[f"{name}.{tag}.{layer}.channel_mean"] = m.mean(axis=(1, 2))
            dense_tensors[f"{name}.{tag}.{layer}.sample"] = dense_sample(m)
            entry = dense_meta.setdefault(name, {}).setdefault(tag, {"input_side": side})
            entry[layer] = list(m.shape)
            print(
                f"{name}.{tag}.{layer}: side {side}, map {m.shape}, max|.| {np.abs(m).max():.4g}",
                file=sys.stderr,
            )

    meta = {
        "torch": torch.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "batch": str(BATCH),
        "input": f"{INPUT_NAME} [2,3,S,S] from the formula with (center 0, half_width 1)",
        "features": "model.forward_features(x).mean(dim=(2,3)) in eval mode, float32",
        "probes": json.dumps(probes),
    }
    safetensors.numpy.save_file(tensors, HERE / "timm_reference.safetensors", metadata=meta)
    dense_meta_all = {
        k: v for k, v in meta.items() if k in ("torch", "timm", "numpy", "python")
    }
    dense_meta_all["input"] = f"{INPUT_NAME} [1,3,S,S] from the formula with (center 0, half_width 1)"
    dense_meta_all["maps"] = "outputs of the modules of DENSE (forward hooks), image 0, float32"
    dense_meta_all["sample"] = (
        f"element (i * {DENSE_SAMPLE_STEP}) mod (C*h*w) of the row-major map, "
        f"i < min({DENSE_SAMPLE_LEN}, C*h*w)"
    )
    dense_meta_all["dense"] = json.dumps(dense_meta)
    safetensors.numpy.save_file(
        dense_tensors, HERE / "timm_dense_reference.safetensors", metadata=dense_meta_all
    )
    with open(HERE / "timm_manifest.json", "w") as fh:
        json.dump(manifest, fh, separators=(",", ":"))
        fh.write("\n")
    print(json.dumps({k: v for k, v in meta.items() if k != "probes"}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
