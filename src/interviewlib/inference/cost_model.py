r"""A roofline cost model of one serving step: named GPUs, model shapes, KV transfer.

One engine step runs every scheduled token through the model once. Its time is bounded
below by the compute roof and by the memory roof (Williams, Waterman and Patterson 2009):

.. math::

    t_{\text{step}} = \max\Big(\frac{F}{\eta_F P},\ \frac{Q}{\eta_B B}\Big) + t_0,

with :math:`F` the step's FLOPs, :math:`Q` its HBM bytes, :math:`P` the dense BF16 peak,
:math:`B` the HBM bandwidth, :math:`\eta_F, \eta_B` the fractions of them a real kernel
reaches and :math:`t_0` a fixed per-step overhead (scheduling, kernel launches, sampling).

Specs are the vendor datasheets: H100 SXM 989 TFLOP/s dense BF16 (1,979 with 2:4 sparsity),
3.35 TB/s HBM3, 80 GB, NVLink 900 GB/s bidirectional; A100 80GB SXM 312 TFLOP/s dense BF16,
2,039 GB/s HBM2e, 80 GB, NVLink 600 GB/s. Llama-3.1-8B's shape is meta-llama/llama-models
``models/sku_list.py``: dim 4096, 32 layers, 32 heads, 8 KV heads, vocabulary 128,256,
``ffn_dim_multiplier`` 1.3, ``multiple_of`` 1024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..transformer._checks import check_int

__all__ = [
    "GPUSpec",
    "ModelShape",
    "StepCost",
    "H100_SXM",
    "A100_SXM_80GB",
    "LLAMA_3_1_8B",
    "step_cost",
    "step_time",
    "kv_transfer_time",
    "kv_capacity_tokens",
]

# Assumed achievable fractions of the roofs (not measurements; calibrate against a profile):
# large BF16 GEMMs typically sustain well under the dense peak, HBM streaming comes closer.
FLOP_EFFICIENCY = 0.6
BANDWIDTH_EFFICIENCY = 0.8
STEP_OVERHEAD_S = 5e-4  # scheduler + launch + sampling per step, assumed (CUDA graphs on)


def _positive(v: Any, name: str, *, allow_zero: bool = False, allow_inf: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(v).__name__} {v!r}.")
    v = float(v)
    ok = (v > 0 or (allow_zero and v == 0)) and (math.isfinite(v) or (allow_inf and v == math.inf))
    if not ok:
        raise ValueError(f"{name} must be {'>=' if allow_zero else '>'} 0 and finite; got {v}.")
    return v


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a label for tables and messages); got {type(name).__name__}.")


def _check_gpu(gpu: Any) -> None:
    if not isinstance(gpu, GPUSpec):
        raise TypeError(f"gpu must be a GPUSpec (e.g. H100_SXM); got {type(gpu).__name__}.")


def _check_model(model: Any) -> None:
    if not isinstance(model, ModelShape):
        raise TypeError(f"model must be a ModelShape (e.g. LLAMA_3_1_8B); got {type(model).__name__}.")


def _check_specs(gpu: Any, model: Any) -> None:
    """The ``gpu`` and ``model`` arguments of the cost functions and the simulators."""
    _check_gpu(gpu)
    _check_model(model)


@dataclass(frozen=True)
class GPUSpec:
    """Datasheet numbers of one accelerator (SI units: FLOP/s, bytes/s, bytes).

    Attributes
    ----------
    name : str
    peak_flops : float
        Dense BF16/FP16 tensor-core peak (no structured sparsity).
    mem_bandwidth : float
        HBM bandwidth.
    mem_bytes : float
        HBM capacity.
    link_bandwidth : float
        GPU-to-GPU interconnect (NVLink) bandwidth as the datasheet states it (both
        directions together); one direction carries half.

    Notes
    -----
    ``ridge_point`` = ``peak_flops / mem_bandwidth`` FLOP/byte: a kernel with lower
    arithmetic intensity is memory-bound. See questions q09-01 and q09-08.
    """

    name: str
    peak_flops: float
    mem_bandwidth: float
    mem_bytes: float
    link_bandwidth: float

    def __post_init__(self) -> None:
        _check_name(self.name)
        for f in ("peak_flops", "mem_bandwidth", "mem_bytes", "link_bandwidth"):
            _positive(getattr(self, f), f)

    @property
    def ridge_point(self) -> float:
        return self.peak_flops / self.mem_bandwidth


@dataclass(frozen=True)
class ModelShape:
    r"""What the cost model needs to know about a decoder: sizes and storage dtypes.

    Attributes
    ----------
    name : str
    n_params : int
        All parameters, embedding table included.
    n_layers, n_heads, n_kv_heads, head_dim : int
        Attention shape (GQA: ``n_kv_heads < n_heads``).
    embedding_params : int
        Parameters of the input embedding table: gathered by row, never multiplied, so they
        are excluded from FLOPs and from the weight bytes streamed per step.
    weight_bytes_per_param : float
        2 for BF16, 1 for FP8/INT8 weights, 0.5 for 4-bit (scales ignored).
    kv_bytes_per_elem : float
        2 for a BF16 KV cache, 1 for FP8.

    Notes
    -----
    ``kv_bytes_per_token`` = :math:`2 L H_{kv} d_{head} b` (K and V of every layer).
    Use ``dataclasses.replace`` to change the dtypes. See questions q09-01, q09-08.
    """

    name: str
    n_params: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    embedding_params: int = 0
    weight_bytes_per_param: float = 2.0
    kv_bytes_per_elem: float = 2.0

    def __post_init__(self) -> None:
        _check_name(self.name)
        for f in ("n_params", "n_layers", "n_heads", "n_kv_heads", "head_dim"):
            check_int(getattr(self, f), f, low=1)
        check_int(self.embedding_params, "embedding_params", low=0)
        if self.embedding_params >= self.n_params:
            raise ValueError(f"embedding_params must be < n_params = {self.n_params}; got {self.embedding_params}.")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads}).")
        _positive(self.weight_bytes_per_param, "weight_bytes_per_param")
        _positive(self.kv_bytes_per_elem, "kv_bytes_per_elem")

    @property
    def matmul_params(self) -> int:
        return self.n_params - self.embedding_params

    @property
    def weight_bytes(self) -> float:
        return self.matmul_params * self.weight_bytes_per_param

    @property
    def kv_bytes_per_token(self) -> float:
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim * self.kv_bytes_per_elem

    @classmethod
    def from_llama(
        cls, name: str, *, dim: int, n_layers: int, n_heads: int, n_kv_heads: int, vocab_size: int,
        ffn_dim_multiplier: float | None = None, multiple_of: int = 256, tie_embeddings: bool = False,
        **dtypes: float,
    ) -> ModelShape:  # fmt: skip
        r"""Count a Llama decoder's parameters from Meta's ``arch_args``.

        The SwiGLU width is Meta's rule: :math:`h = \lfloor 2 \cdot 4d / 3 \rfloor`, times
        ``ffn_dim_multiplier``, rounded up to a multiple of ``multiple_of`` (14,336 for
        Llama-3.1-8B). Per layer: :math:`Q, O` are :math:`d^2` each, :math:`K, V`
        :math:`d \cdot H_{kv} d_{head}` each, the MLP :math:`3dh`, two RMSNorm weights
        :math:`2d`; plus embedding, final norm and (untied) output head.

        Examples
        --------
        >>> LLAMA_3_1_8B.n_params, LLAMA_3_1_8B.kv_bytes_per_token
        (8030261248, 131072.0)
        """
        d, L = check_int(dim, "dim", low=1), check_int(n_layers, "n_layers", low=1)
        head_dim = d // check_int(n_heads, "n_heads", low=1)
        hidden = int(2 * 4 * d / 3)
        if ffn_dim_multiplier is not None:
            hidden = int(_positive(ffn_dim_multiplier, "ffn_dim_multiplier") * hidden)
        m = check_int(multiple_of, "multiple_of", low=1)
        hidden = m * ((hidden + m - 1) // m)
        kv = check_int(n_kv_heads, "n_kv_heads", low=1) * head_dim
        per_layer = 2 * d * d + 2 * d * kv + 3 * d * hidden + 2 * d
        embed = check_int(vocab_size, "vocab_size", low=1) * d
        total = L * per_layer + embed + d + (0 if tie_embeddings else embed)
        return cls(name, total, L, n_heads, n_kv_heads, head_dim, embedding_params=0 if tie_embeddings else embed,
                   **dtypes)  # fmt: skip


H100_SXM = GPUSpec("H100 SXM", peak_flops=989e12, mem_bandwidth=3.35e12, mem_bytes=80e9, link_bandwidth=900e9)
A100_SXM_80GB = GPUSpec("A100 80GB SXM", peak_flops=312e12, mem_bandwidth=2.039e12, mem_bytes=80e9,
                        link_bandwidth=600e9)  # fmt: skip
LLAMA_3_1_8B = ModelShape.from_llama(
    "Llama-3.1-8B", dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256,
    ffn_dim_multiplier=1.3, multiple_of=1024,
)  # fmt: skip


@dataclass(frozen=True)
class StepCost:
    """FLOPs, HBM bytes and the resulting times of one step (seconds)."""

    flops: float
    bytes: float
    compute_s: float
    memory_s: float
    time_s: float

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s else "memory"


def step_cost(
    gpu: GPUSpec, model: ModelShape, *, prefill_tokens: int, decode_seqs: int, kv_tokens_read: int,
    attention_pairs: int | None = None, flop_efficiency: float = FLOP_EFFICIENCY,
    bandwidth_efficiency: float = BANDWIDTH_EFFICIENCY, overhead_s: float = STEP_OVERHEAD_S,
) -> StepCost:  # fmt: skip
    r"""Roofline cost of one step that runs ``prefill_tokens + decode_seqs`` tokens.

    Parameters
    ----------
    gpu, model : GPUSpec, ModelShape
    prefill_tokens : int
        Prompt tokens computed this step (whole prompts or chunks).
    decode_seqs : int
        Sequences that decode one token this step.
    kv_tokens_read : int
        Cached K/V positions the step's attention reads, summed over sequences.
    attention_pairs : int, optional
        (query, key) pairs of the step's attention. Default ``kv_tokens_read``, exact for
        decode (one query per sequence); a chunk of :math:`c` tokens after :math:`p` cached
        ones has :math:`cp + c(c+1)/2`.
    flop_efficiency, bandwidth_efficiency : float in (0, 1]
        Fractions of the peaks reached (assumed defaults, see module constants).
    overhead_s : float
        Fixed time added to every step.

    Returns
    -------
    StepCost

    Raises
    ------
    TypeError, ValueError
        If ``gpu`` or ``model`` is not a :class:`GPUSpec` / :class:`ModelShape`, a count is
        not an int >= 0, or an efficiency is outside (0, 1].

    Notes
    -----
    With :math:`T` tokens, :math:`N` matmul parameters, :math:`b_w, b_{kv}` bytes per
    weight / per KV element, :math:`R` = ``kv_tokens_read``, :math:`A` = ``attention_pairs``:

    .. math::

        F = 2NT + 4 L H d_{head} A, \qquad Q = N b_w + (R + T)\, 2 L H_{kv} d_{head} b_{kv}.

    The weights are streamed from HBM once per step however many tokens share it (that is
    why batching decode is almost free until the compute roof), the KV cache is read once
    and the new K/V written once. Ignored: activations, the LM head running only on
    sampled positions (an overcount of at most :math:`V d / N` of the linear FLOPs in
    prefill, 6.5% for Llama-3.1-8B), imperfect overlap of compute and memory. With the
    default ``attention_pairs`` a prefill chunk's attention FLOPs are undercounted; for
    :math:`c \ll N/(L d)` (about 61k tokens for 8B) they are small against :math:`2Nc`.
    See questions q09-01 and q09-08.

    References
    ----------
    .. [1] Williams, Waterman and Patterson, "Roofline: an insightful visual performance
       model for multicore architectures", CACM 52(4), 2009, doi:10.1145/1498765.1498785.

    Examples
    --------
    >>> c = step_cost(H100_SXM, LLAMA_3_1_8B, prefill_tokens=0, decode_seqs=1, kv_tokens_read=1000)
    >>> c.bound, round(c.time_s * 1e3, 2)
    ('memory', 6.15)
    """
    _check_specs(gpu, model)
    p = check_int(prefill_tokens, "prefill_tokens", low=0)
    d = check_int(decode_seqs, "decode_seqs", low=0)
    r = check_int(kv_tokens_read, "kv_tokens_read", low=0)
    a = r if attention_pairs is None else check_int(attention_pairs, "attention_pairs", low=0)
    ef, eb = _positive(flop_efficiency, "flop_efficiency"), _positive(bandwidth_efficiency, "bandwidth_efficiency")
    if ef > 1 or eb > 1:
        raise ValueError(f"efficiencies must be in (0, 1]; got flop {ef}, bandwidth {eb}.")
    t0 = _positive(overhead_s, "overhead_s", allow_zero=True)
    return _step_cost(gpu, model, p + d, r, a, ef, eb, t0)


def _step_cost(gpu: GPUSpec, model: ModelShape, tokens: int, read: int, pairs: int, ef: float, eb: float,
               t0: float) -> StepCost:  # fmt: skip
    if tokens == 0:
        return StepCost(0.0, 0.0, 0.0, 0.0, 0.0)
    flops = 2.0 * model.matmul_params * tokens + 4.0 * model.n_layers * model.n_heads * model.head_dim * pairs
    nbytes = model.weight_bytes + (read + tokens) * model.kv_bytes_per_token
    compute, memory = flops / (ef * gpu.peak_flops), nbytes / (eb * gpu.mem_bandwidth)
    return StepCost(flops, nbytes, compute, memory, max(compute, memory) + t0)


def step_time(gpu: GPUSpec, model: ModelShape, *, prefill_tokens: int, decode_seqs: int, kv_tokens_read: int,
              **kwargs: Any) -> float:  # fmt: skip
    """Seconds of one step: ``step_cost(...).time_s`` (same arguments); 0 for an empty step.

    Examples
    --------
    >>> round(step_time(H100_SXM, LLAMA_3_1_8B, prefill_tokens=2048, decode_seqs=0, kv_tokens_read=2048) * 1e3, 1)
    52.3
    """
    return step_cost(gpu, model, prefill_tokens=prefill_tokens, decode_seqs=decode_seqs,
                     kv_tokens_read=kv_tokens_read, **kwargs).time_s  # fmt: skip


def kv_transfer_time(model: ModelShape, n_tokens: Any, *, bandwidth: float, latency_s: float = 0.0) -> Any:
    r"""Seconds to move ``n_tokens`` positions of KV cache over a link of ``bandwidth`` bytes/s.

    :math:`t = t_{lat} + n \cdot 2 L H_{kv} d_{head} b_{kv} / \text{bandwidth}`. ``n_tokens``
    may be an int or an integer array (then an array comes back); ``bandwidth=inf`` gives
    ``latency_s``. Use one direction's bandwidth (half an NVLink datasheet figure).
    See question q09-08.

    Examples
    --------
    >>> round(kv_transfer_time(LLAMA_3_1_8B, 2048, bandwidth=50e9) * 1e3, 2)  # 2k-token prompt, 400 Gb/s
    5.37
    """
    _check_model(model)
    bw = _positive(bandwidth, "bandwidth", allow_inf=True)
    lat = _positive(latency_s, "latency_s", allow_zero=True)
    try:
        n = np.asarray(n_tokens)
    except ValueError as exc:  # a ragged list
        raise ValueError(
            f"n_tokens must be a non-negative integer or integer array; got {n_tokens!r:.60} ({exc})."
        ) from exc
    if n.dtype.kind not in "iu" or (n.size and n.min() < 0):
        raise ValueError(f"n_tokens must be a non-negative integer or integer array; got {n_tokens!r}.")
    t = lat + n * model.kv_bytes_per_token / bw
    return float(t) if n.ndim == 0 else t


def kv_capacity_tokens(gpu: GPUSpec, model: ModelShape, *, memory_utilization: float = 0.9) -> int:
    """KV positions that fit after the weights in ``memory_utilization`` of HBM (activations ignored).

    Examples
    --------
    >>> kv_capacity_tokens(H100_SXM, LLAMA_3_1_8B)
    426784
    """
    _check_specs(gpu, model)
    u = _positive(memory_utilization, "memory_utilization")
    if u > 1:
        raise ValueError(f"memory_utilization must be in (0, 1]; got {u}.")
    free = u * gpu.mem_bytes - model.n_params * model.weight_bytes_per_param
    if free <= 0:
        raise ValueError(f"{model.name} weights do not fit in {u:.0%} of {gpu.name} memory.")
    return int(free // model.kv_bytes_per_token)
