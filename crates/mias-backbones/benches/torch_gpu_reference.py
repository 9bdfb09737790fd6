"""PyTorch eager counterpart of `benches/gpu.rs`: times timm's forward_features + global average
pool for the four backbones on the first CUDA device, batch 1, 8 and 32, native sizes, random
weights (timm's own init), float32. Run by hand on the GPU machine next to the gpu bench:

    python3 crates/mias-backbones/benches/torch_gpu_reference.py [--batches 1,8,32] [--tf32] [vgg16 ...]

Each timed call ends with torch.cuda.synchronize(). TF32 is off by default (cuDNN convolutions and
matrix products in full float32, as candle computes them); --tf32 allows it. Prints one line per
case, `torch_cuda_<name>_b<batch>: <ms> ms/batch, <img/s> img/s, n=<calls>` (the median call),
or one SKIPPED line and exit status 0 when torch sees no CUDA device.

The model table is the CPU script's (`torch_reference.py`, same folder), so both time the same
timm architectures.
"""

import argparse
import statistics
import time

import torch

from torch_reference import MODELS


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"backbones among {', '.join(MODELS)} (default: all)")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in convolutions and matmuls")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed calls per case")
    args = ap.parse_args()
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        ap.error(f"unknown backbone(s) {unknown}; known: {list(MODELS)}")
    if not torch.cuda.is_available():
        print("SKIPPED torch gpu reference: torch.cuda.is_available() is False")
        return
    import timm

    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.manual_seed(0)
    dev = torch.device("cuda", 0)
    print(f"# {torch.cuda.get_device_name(dev)}, torch {torch.__version__}, timm {timm.__version__}, tf32={args.tf32}")
    batches = [int(b) for b in args.batches.split(",")]
    for name in args.names or list(MODELS):
        arch, side = MODELS[name]
        model = timm.create_model(arch, pretrained=False).eval().to(dev)
        for batch in batches:
            x = torch.randn(batch, 3, side, side, device=dev)
            with torch.inference_mode():
                for _ in range(2):  # warm-up: kernel selection, allocator
                    model.forward_features(x).mean((2, 3))
                torch.cuda.synchronize()
                times = []
                start = time.perf_counter()
                while len(times) < 10 or (time.perf_counter() - start < args.budget and len(times) < 200):
                    t0 = time.perf_counter()
                    model.forward_features(x).mean((2, 3))
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"torch_cuda_{name}_b{batch}: {med * 1e3:.2f} ms/batch, {batch / med:.1f} img/s, n={len(times)}")
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
