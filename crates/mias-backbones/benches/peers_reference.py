"""Times the backbones on the fastest CPU inference engines beside ours, in one run, rounds interleaved:
ONNX Runtime (f32), OpenVINO (f32 and bf16), and mias itself (f32 and bf16, through
`bench_report time`), with 2 threads each.

    python crates/mias-backbones/benches/peers_reference.py --ours BENCH_REPORT_BINARY \
        [--rounds 3] [--json OUT.json] [CASE ...]

Cases: `vgg16_dense512` (conv5_3 + ReLU of one 512 px image, batch 1: the lesion method's dense
map; mias's `DenseLayer::Last`), `vgg16_dense1024`, and `BACKBONE_b1`, `BACKBONE_b8` (224 px,
globally average-pooled features, as timm's `forward_features(x).mean((2, 3))`) for BACKBONE
`vgg16`, `xception`, `mobilenetv2` and `nasnetlarge`. Default: every case when torch and timm
import, else the VGG16 ones.

VGG16 is written directly as an ONNX graph with `onnx.helper` (13 3x3 convolutions with
padding 1 and ReLU, 2x2 max pools; random He-normal weights from numpy seed 0), so neither
PyTorch nor timm is needed for it: `pip install onnx onnxruntime openvino numpy`. The other three
are timm's models (`legacy_xception`, `mobilenetv2_100`, `nasnetalarge`, the architectures mias
ports; random weights, torch seed 0), exported by `torch.onnx.export` (the TorchScript
exporter, opset 17) at a fixed batch: `pip install torch timm` as well. OpenVINO reads the
same ONNX file; its bf16 run sets `INFERENCE_PRECISION_HINT=bf16` and the script records the
precision OpenVINO reports back (it falls back to f32 on CPUs without bf16 support).

Each round times every engine on every case back to back (warm-up, then the median of
`--reps` runs); the figure reported is the median over rounds, so a burst of load on the shared
machine hits every column alike. The load average is recorded before and after. Prints one line
per engine and case; with --json writes {"seconds_per_batch": {engine: {case: s}}, "rounds":
{engine: {case: [s, ...]}}, "versions", "threads", "load_before", "load_after",
"openvino_bf16_precision"}.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import openvino as ov
from onnx import TensorProto, helper, numpy_helper

THREADS = int(os.environ.get("MIAS_BENCH_THREADS", "2"))
PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
# case -> (backbone, batch, side, dense)
CASES = {
    "vgg16_dense512": ("vgg16", 1, 512, True),
    "vgg16_dense1024": ("vgg16", 1, 1024, True),
}
# mias's name -> timm's model (None: written by hand, below)
TIMM = {"vgg16": None, "xception": "legacy_xception", "mobilenetv2": "mobilenetv2_100", "nasnetlarge": "nasnetalarge"}
for _name in TIMM:
    for _batch in (1, 8):
        CASES[f"{_name}_b{_batch}"] = (_name, _batch, 224, False)


def have_timm():
    try:
        import timm  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def timm_onnx(backbone, batch, side, path):
    """timm's `backbone` (random weights, torch seed 0), pooled features, exported at `batch`."""
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model(TIMM[backbone], pretrained=False).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.forward_features(x).mean((2, 3))

    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            torch.zeros(batch, 3, side, side),
            path,
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["y"],
        )


def vgg16_onnx(dense, path):
    """VGG16's trunk as ONNX: up to conv5_3 + ReLU (dense) or to pool5 then the global mean."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x, c = "x", 3
    plan = PLAN[:-1] if dense else PLAN
    for i, layer in enumerate(plan):
        if layer == "M":
            nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"p{i}"
            continue
        w = (rng.standard_normal((layer, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
        b = (rng.standard_normal(layer) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        x, c = f"r{i}", layer
    if not dense:
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
        nodes.append(helper.make_node("Flatten", ["gap"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [x], ["y"]))
    graph = helper.make_graph(
        nodes,
        "vgg16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "oh", "ow"] if dense else ["n", 512])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def median_time(run, reps):
    run()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="the bench_report binary (its `time` command); omit to time only the peers")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    timm_ok = have_timm()
    cases = a.cases or [c for c in CASES if timm_ok or CASES[c][0] == "vgg16"]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown cases {unknown}: expected {list(CASES)}")
    if not timm_ok and any(CASES[c][0] != "vgg16" for c in cases):
        raise SystemExit("the cases of xception, mobilenetv2 and nasnetlarge need torch and timm")
    tmp = tempfile.mkdtemp(prefix="mias-peers-")
    core = ov.Core()
    engines = {}  # engine -> case -> callable
    ov_bf16_precision = None
    graphs = {}  # ONNX file -> the cases it serves
    for case in cases:
        backbone, batch, side, dense = CASES[case]
        if backbone == "vgg16":
            path = os.path.join(tmp, f"vgg16_{'dense' if dense else 'pooled'}.onnx")
            if path not in graphs:
                vgg16_onnx(dense, path)
        else:
            path = os.path.join(tmp, f"{case}.onnx")
            timm_onnx(backbone, batch, side, path)
        graphs.setdefault(path, []).append(case)
    for path, served in graphs.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        model = core.read_model(path)
        compiled = {}
        for prec in ["f32", "bf16"]:
            compiled[prec] = core.compile_model(
                model,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": prec,
                    "INFERENCE_NUM_THREADS": str(THREADS),
                    "NUM_STREAMS": "1",
                    "PERFORMANCE_HINT": "LATENCY",
                },
            )
        ov_bf16_precision = str(compiled["bf16"].get_property("INFERENCE_PRECISION_HINT"))
        for case in served:
            _, batch, side, _ = CASES[case]
            x = np.random.default_rng(1).standard_normal((batch, 3, side, side)).astype(np.float32)
            engines.setdefault("onnxruntime", {})[case] = lambda s=sess, x=x: s.run(None, {"x": x})
            for prec, cm in compiled.items():
                req = cm.create_infer_request()
                engines.setdefault(f"openvino_{prec}", {})[case] = lambda r=req, x=x: r.infer({0: x})
    load_before = loadavg()
    rounds = {}
    for r in range(a.rounds):
        for case in cases:
            if a.ours:
                for prec in ["f32", "bf16"]:
                    out = subprocess.run(
                        [a.ours, "time", case, "--precision", prec, "--reps", str(a.reps)],
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{a.ours} time {case} --precision {prec}: {out.stderr.strip()}")
                    s = float(out.stdout.split("median_s ")[1].split()[0])
                    rounds.setdefault(f"mias_{prec}", {}).setdefault(case, []).append(s)
            for engine, by_case in engines.items():
                s = median_time(by_case[case], a.reps)
                rounds.setdefault(engine, {}).setdefault(case, []).append(s)
        print(f"round {r + 1}/{a.rounds} done, load {loadavg()}", file=sys.stderr)
    load_after = loadavg()
    medians = {e: {c: statistics.median(v) for c, v in by.items()} for e, by in rounds.items()}
    for e, by in medians.items():
        for c, s in by.items():
            print(f"{e} {c}: {s * 1e3:.1f} ms/batch (rounds: {', '.join(f'{v * 1e3:.0f}' for v in rounds[e][c])})")
    print(f"load average before {load_before}, after {load_after}; OpenVINO bf16 ran as {ov_bf16_precision}")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(
                {
                    "seconds_per_batch": medians,
                    "rounds": rounds,
                    "versions": {"onnxruntime": ort.__version__, "openvino": ov.__version__, "onnx": onnx.__version__},
                    "threads": THREADS,
                    "load_before": load_before,
                    "load_after": load_after,
                    "openvino_bf16_precision": ov_bf16_precision,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
