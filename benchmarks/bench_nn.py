"""Benchmarks for interviewlib.nn (chapter 6).

Our numpy forward+backward passes (float64, as the whole library) against PyTorch's
float32 CPU kernels at (4096, 4096), and five Newton-Schulz steps (float32) against the
exact polar factor from an SVD on a 1024 x 1024 matrix.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from harness import Result, compare

from interviewlib.nn import (
    cross_entropy,
    cross_entropy_grad,
    layernorm_backward,
    layernorm_forward,
    newton_schulz,
    polar_factor_svd,
    softmax,
    softmax_backward,
)

N = D = 4096


def _softmax_case(z, g) -> Result:
    zt, gt = torch.from_numpy(z.astype(np.float32)), torch.from_numpy(g.astype(np.float32))

    def ours():
        p = softmax(z)
        return softmax_backward(p, g)

    def ref():
        x = zt.clone().requires_grad_(True)
        torch.softmax(x, dim=1).backward(gt)
        return x.grad.numpy()

    return compare("softmax fwd+bwd (numpy f64 vs torch f32)", f"{N}x{D}", ours, ref, repeats=3, warmup=0)


def _cross_entropy_case(z, t) -> Result:
    zt, tt = torch.from_numpy(z.astype(np.float32)), torch.from_numpy(t)

    def ours():
        cross_entropy(z, t, label_smoothing=0.1)
        return cross_entropy_grad(z, t, label_smoothing=0.1)

    def ref():
        x = zt.clone().requires_grad_(True)
        F.cross_entropy(x, tt, label_smoothing=0.1).backward()
        return x.grad.numpy()

    return compare("cross-entropy fwd+bwd", f"{N}x{D}", ours, ref, repeats=3, warmup=0)


def _layernorm_case(x, g) -> Result:
    gamma, beta = np.ones(D), np.zeros(D)
    ln = torch.nn.LayerNorm(D)
    xt, gt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(g.astype(np.float32))

    def ours():
        _, cache = layernorm_forward(x, gamma, beta)
        return layernorm_backward(g, cache)[0]

    def ref():
        xx = xt.clone().requires_grad_(True)
        ln(xx).backward(gt)
        return xx.grad.numpy()

    return compare("LayerNorm fwd+bwd", f"{N}x{D}", ours, ref, repeats=3, warmup=0)


def _newton_schulz_case() -> Result:
    torch.manual_seed(0)
    G = torch.randn(1024, 1024)

    def spectral_error(a, b):
        return float(torch.linalg.matrix_norm(a - b, ord=2))

    return compare(
        "Newton-Schulz x5 (f32) vs SVD polar factor",
        "1024x1024",
        lambda: newton_schulz(G, 5, compute_dtype=None),
        lambda: polar_factor_svd(G),
        error=spectral_error,
        repeats=2,
        warmup=0,
        target=1.0,
    )


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(N, D))
    g = rng.normal(size=(N, D))
    t = rng.integers(0, D, size=N)
    return [_softmax_case(z, g), _cross_entropy_case(z, t), _layernorm_case(z, g), _newton_schulz_case()]
