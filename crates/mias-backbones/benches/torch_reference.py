"""Times timm's forward_features + global average pool for the four backbones on this machine,
with torch.set_num_threads(2), batch 1 and 8, native sizes, random weights (timm's own init).
Run by hand or by `cargo xtask bench` (not in CI) next to `cargo bench -p mias-backbones` to get
the candle/PyTorch ratios:

    python crates/mias-backbones/benches/torch_reference.py [--json OUT.json] [vgg16 mobilenetv2 ...]
    python crates/mias-backbones/benches/torch_reference.py --rss vgg16

Prints one line per case: name, median seconds per batch, images per second; with --json also
writes {"seconds_per_batch": {name: {batch: median seconds}}, "torch", "timm", "threads"}.
MIAS_BENCH_ONLY=vgg16,xception limits the backbones when none are named; MIAS_TORCH_THREADS
overrides the 2 threads.
With --rss NAME: one model, two batch-8 forward passes, then prints `vmhwm_kib N` (the process's
peak resident set size from /proc/self/status).
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
THREADS = int(os.environ.get("MIAS_TORCH_THREADS", "2"))


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


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    args = sys.argv[1:]
    if args[:1] == ["--rss"]:
        rss(args[1])
        return
    out_path = None
    if args[:1] == ["--json"]:
        out_path, args = args[1], args[2:]
    only = os.environ.get("MIAS_BENCH_ONLY")
    names = args or ([n for n in only.split(",") if n in MODELS] if only else list(MODELS))
    results = {}
    for name in names:
        arch, side = MODELS[name]
        model = timm.create_model(arch, pretrained=False).eval()
        for batch in (1, 8):
            x = torch.randn(batch, 3, side, side)
            with torch.inference_mode():
                model.forward_features(x).mean((2, 3))  # warm-up
                times = []
                budget = 5.0 if batch == 1 else 15.0
                start = time.perf_counter()
                while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 30):
                    t0 = time.perf_counter()
                    model.forward_features(x).mean((2, 3))
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            results.setdefault(name, {})[str(batch)] = med
            print(f"torch_cpu_{name}_b{batch}: {med * 1e3:.1f} ms/batch, {batch / med:.2f} img/s, n={len(times)}")
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
