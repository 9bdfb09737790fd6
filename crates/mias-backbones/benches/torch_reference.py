"""Times timm's forward_features + global average pool for the four backbones on this machine,
with torch.set_num_threads(2), batch 1 and 8, native sizes, random weights (timm's own init).
Run by hand (not in CI) next to `cargo bench -p mias-backbones` to get the candle/PyTorch ratios:

    python crates/mias-backbones/benches/torch_reference.py [vgg16 mobilenetv2 ...]

Prints one line per case: name, median seconds per batch, images per second.
"""

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


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    names = sys.argv[1:] or list(MODELS)
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
            print(f"torch_cpu_{name}_b{batch}: {med * 1e3:.1f} ms/batch, {batch / med:.2f} img/s, n={len(times)}")


if __name__ == "__main__":
    main()
