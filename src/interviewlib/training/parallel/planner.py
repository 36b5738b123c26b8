r"""A 3D-parallel layout planner: memory per GPU, estimated step time, ranked layouts.

A layout is TP (inside a node) x PP (across nodes) x DP/ZeRO (over the rest). Memory reuses
:mod:`interviewlib.training.memory` (ZeRO model states, Korthikanti activations) per pipeline
stage; the step time is a roofline-style sum of assumed-efficiency terms:

.. math:: t = \underbrace{m\,t_c}_{\text{compute}} + \underbrace{m\,t_{tp}}_{\text{TP}}
          + \underbrace{\tfrac{p-1}{v}(t_c + t_{tp} + t_{p2p})}_{\text{bubble}} + (1-o)\,t_{dp},

with :math:`m` micro-batches per step, :math:`p` stages, :math:`v` virtual stages
(interleaving), and :math:`o` the overlapped share of the DP/ZeRO traffic. See question q08-15.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from ..._validation import check_option
from ..memory import TrainingMemory, activation_bytes_per_layer, model_state_bytes
from .layout import _RECOMPUTE, H100_SXM_80GB, QWEN25_72B, Hardware, ModelShape, ParallelLayout, _int, check_layout

__all__ = [
    "LayoutEstimate",
    "LayoutPlan",
    "layout_memory",
    "estimate_step_time",
    "estimate_layout",
    "enumerate_layouts",
    "plan_layouts",
]


def _stages(lay: ParallelLayout, model: ModelShape) -> list[tuple[int, bool, bool]]:
    """(layers, has_embedding, has_head) of the first and the last stage (the two extremes)."""
    n = math.ceil(model.n_layers / lay.pp)  # uneven splits: assume the first and last get the extra layer
    return [(n, True, True)] if lay.pp == 1 else [(n, True, False), (n, False, True)]


def _stage_params(model: ModelShape, n: int, emb: bool, head: bool) -> int:
    e = model.vocab_size * model.hidden
    return (
        n * model.layer_params
        + (e if emb else 0)
        + ((e if not model.tie_embeddings else 0) + model.hidden if head else 0)
    )


def _act_layer(lay, model, recompute):
    return activation_bytes_per_layer(
        lay.seq_len, lay.micro_batch, model.hidden, model.n_heads, ffn_hidden=model.ffn_hidden,
        n_kv_heads=model.n_kv_heads, mlp="swiglu", dropout=False, attention="flash", recompute=recompute,
        tensor_parallel=lay.tp, sequence_parallel=lay.tp > 1,
    )["total"]  # fmt: skip


def _memory(lay: ParallelLayout, model: ModelShape) -> TrainingMemory:
    s, b, h, v, t = lay.seq_len, lay.micro_batch, model.hidden, model.vocab_size, lay.tp
    rep = t if t > 1 else 1  # sequence parallelism splits the replicated regions too
    layer = _act_layer(lay, model, lay.recompute)
    buffer = _act_layer(lay, model, "none") if lay.recompute == "full" else 0.0
    p, vs = lay.pp, lay.virtual_stages
    worst = None
    for n, emb, head in _stages(lay, model):
        psi = _stage_params(model, n, emb, head)
        st = model_state_bytes(psi, zero_stage=lay.zero_stage, dp_size=lay.dp, tensor_parallel=t)
        # 1F1B: the first stage holds p micro-batches in flight (interleaving: x(1 + (p-1)/(p v))), the last one
        inflight = 1 if not emb or p == 1 else min(p, lay.grad_accum) * (1 + (p - 1) / (p * vs) if vs > 1 else 1)
        acts = inflight * (n * layer + (8 * s * b if emb else 0.0)) + buffer
        temps = 0.0
        if head:
            acts += 4 * s * b * h / rep + 4 * s * b * v / t  # final-norm and head inputs | fp32 log-probs
            temps += 4 * s * b * v / t  # fp32 gradient of the logits
        if lay.zero_stage == 3:
            temps += 2 * 2 * model.layer_params / t  # two gathered bf16 layers (current + prefetched)
        m = TrainingMemory(st["weights"], st["gradients"], st["optimizer_states"], acts, temps,
                           detail={"stage_params": float(psi), "layers": float(n)})  # fmt: skip
        if worst is None or m.total > worst.total:
            worst = m
    return worst


def layout_memory(layout: ParallelLayout, model: ModelShape = QWEN25_72B) -> TrainingMemory:
    """Peak bytes per GPU of the heavier of the first and last pipeline stage.

    Mixed-precision AdamW (16 B/param, ZeRO-sharded over ``dp``, divided by ``tp``),
    FlashAttention, no dropout, SwiGLU, GQA, sequence parallelism whenever ``tp > 1``.
    With ``pp == 1`` it equals :func:`~interviewlib.training.training_memory` (checked in
    the tests). See question q08-15.

    Examples
    --------
    >>> m = layout_memory(ParallelLayout(tp=8, pp=5, dp=25, grad_accum=20, seq_len=8192))
    >>> round(m.model_states / 1e9, 1), round(m.activations / 1e9, 1)
    (8.6, 27.8)
    """
    return _memory(check_layout(layout, model), model)


def _ring(bytes_, n, bw):
    """Seconds of one ring reduce-scatter or all-gather of ``bytes_`` over ``n`` ranks."""
    return 0.0 if n == 1 else (n - 1) / n * bytes_ / bw


def _time(lay: ParallelLayout, model: ModelShape, hw: Hardware) -> dict[str, float]:
    s, b, h, t, p, m = lay.seq_len, lay.micro_batch, model.hidden, lay.tp, lay.pp, lay.grad_accum
    tok = s * b
    nvl, ib = hw.intra_node_bandwidth * hw.comm_efficiency, hw.inter_node_bandwidth * hw.comm_efficiency
    flops_rate = t * hw.peak_flops * hw.compute_efficiency
    fwd_extra = {"none": 0.0, "selective": 1.0, "full": 1.0}[lay.recompute]
    t_c = t_tp = 0.0
    psi_max = 0
    for n, emb, head in _stages(lay, model):
        psi = _stage_params(model, n, emb, head)
        psi_max = max(psi_max, psi)
        dense = 2 * (psi - (model.vocab_size * h if emb else 0))  # embedding lookup has no matmul
        attn = 2 * h * s * n  # causal QK^T and AV per token, forward
        fwd = dense + attn
        recomputed = attn if lay.recompute == "selective" else (fwd if lay.recompute == "full" else 0.0)
        t_c = max(t_c, (3 * fwd + fwd_extra * recomputed) * tok / flops_rate)
        n_coll = 4 + (2 if lay.recompute == "full" else 0)  # AG+RS pairs per layer: fwd 2, bwd 2 (+2 recompute)
        t_tp = max(t_tp, n * n_coll * 2 * _ring(2 * tok * h, t, nvl))
    t_p2p = 0.0 if p == 1 else 2 * lay.virtual_stages * (2 * tok * h / t) / ib  # activation fwd, gradient bwd
    shard = psi_max / t  # parameters this GPU holds before ZeRO
    if lay.zero_stage in (0, 1):
        vol = 2 * _ring(2 * shard, lay.dp, ib)  # all-reduce, or reduce-scatter grads + all-gather params: once a step
    elif lay.zero_stage == 2:
        vol = (m + 1) * _ring(2 * shard, lay.dp, ib)  # sharded grads: reduce-scatter every micro-batch
    else:
        vol = m * 3 * _ring(2 * shard, lay.dp, ib)  # gather fwd, gather bwd, reduce-scatter: every micro-batch
    out = {
        "compute": m * t_c,
        "tp_comm": m * t_tp,
        "pp_bubble": (p - 1) / lay.virtual_stages * (t_c + t_tp + t_p2p) + (m * t_p2p if p > 1 else 0.0),
        "dp_comm": (1 - hw.dp_overlap) * vol,
    }
    out["total"] = sum(out.values())
    return out


def estimate_step_time(layout: ParallelLayout, model: ModelShape = QWEN25_72B,
                       hardware: Hardware = H100_SXM_80GB) -> dict[str, float]:  # fmt: skip
    r"""Seconds per optimizer step, by term: compute, TP, pipeline bubble (+p2p), exposed DP/ZeRO.

    Compute: :math:`(6\Psi_{stage} + 6 h s L_{stage})` FLOPs per token (matmuls, causal
    attention), plus one more forward of the attention core (selective) or of everything
    (full recomputation), at ``peak_flops * compute_efficiency``. TP: 4 all-gather /
    reduce-scatter pairs of :math:`2sbh` bytes per layer and micro-batch (6 with full
    recomputation) on NVLink. PP: the 1F1B bubble :math:`(p-1)/v` micro-batch times plus
    activation sends on InfiniBand. DP: ring reduce-scatter of bf16 gradients and all-gather
    of bf16 parameters once per step (ZeRO 0-1); ZeRO-2 keeps only a gradient shard, so it
    reduce-scatters every micro-batch; ZeRO-3 also gathers the weights for every forward and
    backward. ``dp_overlap`` of it is hidden. See question q08-15.

    Examples
    --------
    >>> t = estimate_step_time(ParallelLayout(tp=8, pp=5, dp=25, grad_accum=20))
    >>> sorted(t)
    ['compute', 'dp_comm', 'pp_bubble', 'total', 'tp_comm']
    """
    if not isinstance(hardware, Hardware):
        raise TypeError(f"hardware must be a Hardware; got {type(hardware).__name__}.")
    return _time(check_layout(layout, model, gpus_per_node=hardware.gpus_per_node), model, hardware)


@dataclass(frozen=True)
class LayoutEstimate:
    """A layout with its memory, step time, throughput and verdict (``reason`` is "" when it fits)."""

    layout: ParallelLayout
    fits: bool
    reason: str = ""
    memory: TrainingMemory | None = None
    step_time: dict[str, float] = field(default_factory=dict)
    tokens_per_second: float = 0.0
    mfu: float = 0.0


def _estimate(lay: ParallelLayout, model: ModelShape, hw: Hardware, world_size: int | None = None) -> LayoutEstimate:
    try:
        check_layout(lay, model, gpus_per_node=hw.gpus_per_node, world_size=world_size)
    except ValueError as exc:
        return LayoutEstimate(lay, False, str(exc).split(";")[0])
    mem = _memory(lay, model)
    limit = hw.memory_bytes * hw.usable_fraction
    if mem.total > limit:
        return LayoutEstimate(lay, False, f"out of memory: {mem.total / 1e9:.0f} GB > {limit / 1e9:.0f} GB", mem)
    t = _time(lay, model, hw)
    tokens = lay.global_batch * lay.seq_len
    model_flops = (6 * model.n_params + 6 * model.hidden * lay.seq_len * model.n_layers) * tokens
    mfu = model_flops / (lay.world_size * hw.peak_flops * t["total"])
    return LayoutEstimate(lay, True, "", mem, t, tokens / t["total"], mfu)


def estimate_layout(layout: ParallelLayout, model: ModelShape = QWEN25_72B,
                    hardware: Hardware = H100_SXM_80GB) -> LayoutEstimate:  # fmt: skip
    """Memory, step time and verdict of one layout; invalid layouts come back with ``fits=False`` and the reason.

    Examples
    --------
    >>> est = estimate_layout(ParallelLayout(tp=8, pp=1, dp=125, zero_stage=0, grad_accum=4))
    >>> est.fits, est.reason
    (False, 'out of memory: 174 GB > 72 GB')
    """
    if not isinstance(layout, ParallelLayout):
        raise TypeError(f"layout must be a ParallelLayout; got {type(layout).__name__}.")
    if not isinstance(hardware, Hardware) or not isinstance(model, ModelShape):
        raise TypeError("model must be a ModelShape and hardware a Hardware.")
    return _estimate(layout, model, hardware)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def enumerate_layouts(world_size: int, *, global_batch: int, seq_len: int = 8192, gpus_per_node: int = 8,
                      zero_stages=(1, 2, 3), micro_batches=(1, 2), recompute=_RECOMPUTE,
                      virtual_stages=(1, 2)) -> list[ParallelLayout]:  # fmt: skip
    """Every (tp, pp, dp) with tp*pp*dp = world_size, tp <= gpus_per_node, crossed with the options.

    ``grad_accum`` is ``max(1, global_batch // (dp * micro_batch))``; where that does not give
    ``global_batch`` exactly the layout is kept so that the planner can say why it fails.

    Examples
    --------
    >>> sorted({(l.tp, l.pp, l.dp) for l in enumerate_layouts(16, global_batch=16, gpus_per_node=2)})[:3]
    [(1, 1, 16), (1, 2, 8), (1, 4, 4)]
    """
    w = _int(world_size, "world_size")
    gb, s = _int(global_batch, "global_batch"), _int(seq_len, "seq_len")
    g = _int(gpus_per_node, "gpus_per_node")
    for name, opts in (
        ("zero_stages", zero_stages),
        ("micro_batches", micro_batches),
        ("virtual_stages", virtual_stages),
    ):
        if isinstance(opts, (str, bytes)) or not hasattr(opts, "__iter__") or not list(opts):
            raise TypeError(f"{name} must be a non-empty sequence of ints; got {opts!r}.")
    rec = [check_option(r, "recompute", _RECOMPUTE) for r in ([recompute] if isinstance(recompute, str) else recompute)]
    out = []
    for tp in (d for d in _divisors(w) if d <= g):
        for pp in _divisors(w // tp):
            dp = w // (tp * pp)
            for mb in micro_batches:
                ga = max(1, gb // (dp * _int(mb, "micro_batch")))
                for v in virtual_stages:
                    if v > 1 and pp == 1:
                        continue
                    for z in zero_stages:
                        for r in rec:
                            out.append(ParallelLayout(tp, pp, dp, z, mb, ga, s, r, v))
    return out


@dataclass(frozen=True)
class LayoutPlan:
    """Fitting layouts ranked by estimated step time, and the rejected ones with their reasons."""

    world_size: int
    fitting: list[LayoutEstimate]
    rejected: list[LayoutEstimate]

    @property
    def best(self) -> LayoutEstimate | None:
        return self.fitting[0] if self.fitting else None

    def reasons(self) -> Counter:
        """How many layouts each kind of constraint rejected (the text before the first ``(``/``:``)."""
        return Counter(r.reason.split("(")[0].split(":")[0].strip() for r in self.rejected)


def plan_layouts(world_size: int, *, global_batch: int, seq_len: int = 8192, model: ModelShape = QWEN25_72B,
                 hardware: Hardware = H100_SXM_80GB, **options) -> LayoutPlan:  # fmt: skip
    """Enumerate, reject what breaks a constraint or does not fit, rank the rest by step time.

    Parameters
    ----------
    world_size : int
        GPUs used by the job (not necessarily all the cluster has: keep spares).
    global_batch, seq_len : int
        Sequences per optimizer step (held fixed, so step times are comparable) and their length.
    model, hardware
        :class:`ModelShape` and :class:`Hardware` (assumed efficiencies live there).
    **options
        ``zero_stages``, ``micro_batches``, ``recompute``, ``virtual_stages`` of :func:`enumerate_layouts`.

    Examples
    --------
    >>> plan = plan_layouts(1000, global_batch=512)
    >>> len(plan.fitting), plan.reasons().most_common(1)[0][0]
    (0, 'global_batch must be a multiple of dp * micro_batch')
    >>> plan = plan_layouts(1024, global_batch=512)
    >>> str(plan.best.layout)
    'TP8 PP1 DP128 ZeRO-1 mb1x4 none'
    """
    if not isinstance(hardware, Hardware) or not isinstance(model, ModelShape):
        raise TypeError("model must be a ModelShape and hardware a Hardware.")
    fitting, rejected = [], []
    for lay in enumerate_layouts(world_size, global_batch=global_batch, seq_len=seq_len,
                                 gpus_per_node=hardware.gpus_per_node, **options):  # fmt: skip
        if lay.global_batch != global_batch:
            est = LayoutEstimate(
                lay, False, f"global_batch must be a multiple of dp * micro_batch (= {lay.dp * lay.micro_batch})"
            )
        else:
            est = _estimate(lay, model, hardware, world_size)
        (fitting if est.fits else rejected).append(est)
    fitting.sort(key=lambda e: (e.step_time["total"], e.memory.total))  # ties: the one with more headroom
    return LayoutPlan(int(world_size), fitting, rejected)
