"""Writes tiny_state_dict.pth: a small PyTorch (zip format) state dict for the .pth-to-safetensors
conversion test of mias-backbones (tests/it/weights.rs). Run by hand:

    python crates/mias-backbones/tests/data/make_tiny_pth.py

Contents: `a.weight` f32 [2, 3] = [[0, 1, 2], [3, 4, 5]] / 4, `a.bias` f32 [2] = [-1, 0.5],
`bn.num_batches_tracked` i64 [] = 7. The expected values are written out in the Rust test.
"""

from collections import OrderedDict
from pathlib import Path

import torch

state = OrderedDict()
state["a.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
state["a.bias"] = torch.tensor([-1.0, 0.5], dtype=torch.float32)
state["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
torch.save(state, Path(__file__).with_name("tiny_state_dict.pth"))
