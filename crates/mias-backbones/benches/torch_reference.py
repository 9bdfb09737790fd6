"""Times timm's forward_features + global average pool for the four backbones on this machine,
with torch.set_num_threads(2), batch 1 and 8, native sizes, random weights (timm's own init);
then VGG16's dense map of one whole image at 512 and 1024 px (`features[:30]`: up to conv5_3 and
its ReLU, before the last max pool; the counterpart of `DenseLayer::Last`), batch 1.
Run by hand or by `cargo xtask bench` (not in CI) next to `cargo bench -p mias-backbones` to get
the candle/PyTorch ratios:

    python crates/mias-backbones/benches/torch_reference.py [--json OUT.json] [vgg16 vgg16_dense512 ...]
    python crates/mias-backbones/benches/torch_reference.py --rss vgg16
    python crates/mias-backbones/benches/torch_reference.py --rss-dense vgg16 1024

Prints one line per case: name, median seconds per batch, images per second; with --json also
writes {"seconds_per_batch": {name: {batch: median seconds}}, "torch", "timm", "threads"}.
MIAS_BENCH_ONLY=vgg16,xception limits the backbones when none are named; MIAS_TORCH_THREADS
overrides the 2 threads.
With --rss NAME: one model, two batch-8 forward passes, then prints `vmhwm_kib N` (the process's
peak resident set size from /proc/self/status). With --rss-dense vgg16 SIDE: the same for two
batch-1 dense maps at SIDE px.
"""

import json
import os
import statistics
import sys
import time

import timm
import torch

MODELS = {
    "vgg16": ("vgg16", 224),
    "xception": ("legacy_xception", 299),
    "mobilenetv2": ("mobilenetv2_100", 224),
    "nasnetlarge": ("nasnetalarge", 331),
}
# Dense maps: name -> (backbone, side); VGG16's conv5_3 + ReLU is `features[:30]`.
DENSE = {
    "vgg16_dense512": ("vgg16", 512),
    "vgg16_dense1024": ("vgg16", 1024),
}
THREADS = int(os.environ.get("MIAS_TORCH_THREADS", "2"))


def dense_forward(model):
    """The forward of a dense map: VGG16 up to conv5_3's ReLU."""
    trunk = model.features[:30]
    return lambda x: trunk(x)


def vmhwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def rss(name):
    arch, side = MODELS[name]
    model = timm.create_model(arch, pretrained=False).eval()
    x = torch.randn(8, 3, side, side)
    with torch.inference_mode():
        for _ in range(2):
            model.forward_features(x).mean((2, 3))
    print(f"vmhwm_kib {vmhwm_kib()}")


def rss_dense(name, side):
    arch, _ = MODELS[name]
    if name != "vgg16":
        raise SystemExit(f"--rss-dense: only vgg16 has a dense counterpart here, not {name}")
    forward = dense_forward(timm.create_model(arch, pretrained=False).eval())
    x = torch.randn(1, 3, side, side)
    with torch.inference_mode():
        for _ in range(2):
            forward(x)
    print(f"vmhwm_kib {vmhwm_kib()}")


def time_it(forward, x, budget):
    """Median seconds of `forward(x)` after one warm-up: at least 3 runs, up to `budget` seconds
    or 30 runs."""
    with torch.inference_mode():
        forward(x)  # warm-up
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 30):
            t0 = time.perf_counter()
            forward(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    args = sys.argv[1:]
    if args[:1] == ["--rss"]:
        rss(args[1])
        return
    if args[:1] == ["--rss-dense"]:
        rss_dense(args[1], int(args[2]))
        return
    out_path = None
    if args[:1] == ["--json"]:
        out_path, args = args[1], args[2:]
    only = os.environ.get("MIAS_BENCH_ONLY")
    if args:
        names = args
    else:
        wanted = only.split(",") if only else list(MODELS)
        names = [n for n in MODELS if n in wanted]
        names += [n for n, (backbone, _) in DENSE.items() if backbone in wanted]
    unknown = [n for n in names if n not in MODELS and n not in DENSE]
    if unknown:
        raise SystemExit(f"unknown bench names {unknown}: expected {list(MODELS) + list(DENSE)}")
    results = {}
    for name in names:
        if name in DENSE:
            backbone, side = DENSE[name]
            forward = dense_forward(timm.create_model(MODELS[backbone][0], pretrained=False).eval())
            cases = [(1, side, forward, 10.0 if side <= 512 else 30.0)]
        else:
            arch, side = MODELS[name]
            model = timm.create_model(arch, pretrained=False).eval()
            pooled = lambda x, model=model: model.forward_features(x).mean((2, 3))
            cases = [(1, side, pooled, 5.0), (8, side, pooled, 15.0)]
        for batch, side, forward, budget in cases:
            med, n = time_it(forward, torch.randn(batch, 3, side, side), budget)
            results.setdefault(name, {})[str(batch)] = med
            print(f"torch_cpu_{name}_b{batch}: {med * 1e3:.1f} ms/batch, {batch / med:.2f} img/s, n={n}")
    if out_path:
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(
                {
                    "seconds_per_batch": results,
                    "torch": torch.__version__,
                    "timm": timm.__version__,
                    "threads": THREADS,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
