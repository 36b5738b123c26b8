"""Chapter 7 benchmarks: own attention vs torch's SDPA, and FLOP formulas vs FlopCounterMode.

Run: python benchmarks/run.py transformer
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from harness import Result, compare
from torch.utils.flop_counter import FlopCounterMode

from interviewlib.transformer import EncoderLayer, layer_flops, scaled_dot_product_attention


def _max_err(a, b):
    return float((a - b).abs().max())


def run() -> list[Result]:
    torch.manual_seed(0)
    results = []
    B, H, dh = 2, 8, 64
    for n in (128, 256, 512, 1024):
        q, k, v = (torch.randn(B, H, n, dh) for _ in range(3))
        results.append(
            compare(
                "attention (causal) vs F.scaled_dot_product_attention",
                f"B={B} H={H} n={n} d_head={dh}",
                lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v, is_causal=True),
                lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                error=_max_err,
                repeats=5,
                target=None,
            )
        )
    # FLOP counter: ours (closed form) vs torch's FlopCounterMode on a real layer; error = |difference|.
    for n, d, h in ((64, 64, 4), (256, 128, 8), (768, 128, 8)):
        layer = EncoderLayer(d, h, 4 * d)
        x = torch.randn(2, n, d)

        def measured(layer=layer, x=x):
            with torch.no_grad(), FlopCounterMode(display=False) as fc:
                layer(x)
            return fc.get_total_flops()

        results.append(
            compare(
                "layer_flops vs FlopCounterMode (forward layer)",
                f"B=2 n={n} d={d} (crossover n*={6 * d})",
                lambda n=n, d=d: layer_flops(n, d, batch=2)["total"],
                measured,
                error=lambda a, b: abs(a - b),
                repeats=3,
            )
        )
    return results
