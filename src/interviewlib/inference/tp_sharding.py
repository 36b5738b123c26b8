r"""Tensor-parallel attention: which heads live on which rank, and the Megatron column/row split.

Megatron-LM (Shoeybi et al. 2019) splits attention by heads: q/k/v are column-parallel (rank
``r`` keeps the output rows of its heads), attention runs locally per head, and the output
projection is row-parallel (rank ``r`` keeps the input columns of its heads), so the ranks'
partial outputs add up to the full output with one all-reduce. vLLM 0.33.0 uses the same split
and requires ``n_heads % tp_size == 0``; when ``tp_size > n_kv_heads`` it replicates each KV head
on ``tp_size / n_kv_heads`` ranks. ``plan_attention_shards`` reproduces that rule and two ways
around it (dummy-head padding, uneven splits); ``shard_attention`` cuts a
:class:`~interviewlib.transformer.gqa.GroupedQueryAttention` accordingly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..transformer import GroupedQueryAttention
from ..transformer._checks import check_int

__all__ = [
    "RankShard",
    "ShardPlan",
    "distributed_attention_forward",
    "plan_attention_shards",
    "shard_attention",
    "tensor_parallel_attention",
    "valid_tp_sizes",
]

STRATEGIES = ("vllm", "pad", "uneven")


@dataclass(frozen=True)
class RankShard:
    """Heads held by one tensor-parallel rank; ``-1`` marks a zero-weight dummy head (padding).

    ``rank`` is an int >= 0; ``q_heads`` and ``kv_heads`` are non-empty tuples of head indices
    (int >= -1), the query heads a whole number of GQA groups of the KV heads.
    """

    rank: int
    q_heads: tuple[int, ...]
    kv_heads: tuple[int, ...]

    def __post_init__(self) -> None:
        check_int(self.rank, "rank")
        for name in ("q_heads", "kv_heads"):
            heads = getattr(self, name)
            if not isinstance(heads, tuple) or not all(isinstance(j, int) and not isinstance(j, bool) for j in heads):
                raise TypeError(
                    f"{name} must be a tuple of int head indices; got {type(heads).__name__} {heads!r:.60}."
                )
            if not heads or min(heads) < -1:
                raise ValueError(f"{name} must hold at least one head index >= -1 (-1 = dummy); got {heads!r:.60}.")
        if len(self.q_heads) % len(self.kv_heads):
            raise ValueError(
                f"q_heads must be whole GQA groups: {len(self.q_heads)} query heads for {len(self.kv_heads)} KV heads."
            )


@dataclass(frozen=True)
class ShardPlan:
    """Per-rank head assignment of one attention layer (see :func:`plan_attention_shards`).

    Validated on construction, since :func:`shard_attention` takes it as input: head counts as
    in :func:`plan_attention_shards`, a known ``strategy``, and one :class:`RankShard` per rank,
    in rank order, whose head indices lie below ``n_heads`` / ``n_kv_heads``.
    """

    n_heads: int
    n_kv_heads: int
    tp_size: int
    strategy: str
    ranks: tuple[RankShard, ...]

    def __post_init__(self) -> None:
        h, h_kv = _check_heads(self.n_heads, self.n_kv_heads)
        tp = check_int(self.tp_size, "tp_size", low=1)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}; got {self.strategy!r}.")
        if not isinstance(self.ranks, tuple) or not all(isinstance(r, RankShard) for r in self.ranks):
            raise TypeError(f"ranks must be a tuple of RankShard; got {type(self.ranks).__name__}.")
        if [r.rank for r in self.ranks] != list(range(tp)):
            raise ValueError(
                f"ranks must be RankShard 0 .. {tp - 1} in order (one per rank); "
                f"got ranks {[r.rank for r in self.ranks]}."
            )
        for r in self.ranks:
            if max(r.q_heads) >= h or max(r.kv_heads) >= h_kv:
                raise ValueError(
                    f"ranks[{r.rank}] holds head indices outside n_heads={h}, n_kv_heads={h_kv}: "
                    f"q_heads={r.q_heads}, kv_heads={r.kv_heads}."
                )

    @property
    def padded_heads(self) -> int:
        """Query-head slots over all ranks, dummies included (``n_heads`` unless padded)."""
        return sum(len(r.q_heads) for r in self.ranks)

    @property
    def kv_copies(self) -> int:
        """KV-head slots over all ranks: replicas and dummies count, so KV-cache memory scales with it."""
        return sum(len(r.kv_heads) for r in self.ranks)

    @property
    def max_q_heads(self) -> int:
        """Query heads on the busiest rank: every rank waits for it at the all-reduce."""
        return max(len(r.q_heads) for r in self.ranks)

    @property
    def imbalance(self) -> float:
        """``max_q_heads / (n_heads / tp_size)``: 1.0 is a perfect split of the real work."""
        return self.max_q_heads * self.tp_size / self.n_heads


def valid_tp_sizes(n_heads: int, n_kv_heads: int, *, max_tp: int | None = None) -> tuple[int, ...]:
    r"""Tensor-parallel sizes up to ``max_tp`` (default ``n_heads``) that vLLM 0.33.0 accepts.

    Parameters
    ----------
    n_heads, n_kv_heads : int
        Query and key/value heads (``n_kv_heads`` divides ``n_heads``).
    max_tp : int, optional
        Largest size to try.

    Returns
    -------
    tuple of int
        Every ``p`` with ``n_heads % p == 0`` and (``n_kv_heads % p == 0`` or ``p % n_kv_heads == 0``).

    Notes
    -----
    See question q09-05.

    Examples
    --------
    >>> valid_tp_sizes(28, 4)  # Qwen2.5-7B: 28 query heads, 4 KV heads
    (1, 2, 4, 28)
    """
    n_heads, n_kv_heads = _check_heads(n_heads, n_kv_heads)
    max_tp = n_heads if max_tp is None else check_int(max_tp, "max_tp", low=1)
    return tuple(tp for tp in range(1, max_tp + 1) if _vllm_refusal(n_heads, n_kv_heads, tp) is None)


def plan_attention_shards(n_heads: int, n_kv_heads: int, tp_size: int, *, strategy: str = "vllm") -> ShardPlan:
    r"""Assign query and KV heads to ``tp_size`` ranks.

    Parameters
    ----------
    n_heads, n_kv_heads : int
        Query and key/value heads; ``n_kv_heads`` must divide ``n_heads`` (MHA: equal, MQA: 1).
    tp_size : int
        Tensor-parallel ranks.
    strategy : {"vllm", "pad", "uneven"}
        ``"vllm"``: vLLM's rule. Rank ``r`` gets query heads ``[r H/p, (r+1) H/p)``; KV heads are
        partitioned the same way when ``p <= H_kv`` and replicated (rank ``r`` holds KV head
        ``r // (p / H_kv)``) when ``p > H_kv``. ``"pad"``: add zero-weight dummy heads until the
        vLLM rule holds, padding KV heads as little as possible first (they cost KV cache), then
        the query heads of each group. ``"uneven"``: no dummies; whole KV groups are dealt out
        as evenly as possible, and when ``p > H_kv`` each KV head's ranks split its group.

    Returns
    -------
    ShardPlan
        ``ranks[r].q_heads`` / ``kv_heads`` are original head indices in local order (query head
        ``j`` uses KV head ``j // (H / H_kv)``); ``-1`` is a dummy. When the vLLM rule already
        holds, all three strategies return the same assignment.

    Raises
    ------
    ValueError
        ``strategy="vllm"`` where vLLM refuses (quoting its condition), ``"uneven"`` with more
        ranks than query heads, an unknown strategy, or ``n_kv_heads`` not dividing ``n_heads``.

    Notes
    -----
    vLLM checks ``n_heads % tp_size`` in ``ModelConfig.verify_with_parallel_config`` and the KV
    condition (``n_kv_heads % tp_size == 0`` or ``tp_size % n_kv_heads == 0``) in
    ``QKVParallelLinear``. Padding costs ``padded_heads / n_heads - 1`` extra attention FLOPs and
    q/o weights; uneven splits make shapes differ per rank and leave the busiest rank setting the
    pace (``imbalance``). See question q09-05.

    References
    ----------
    .. [1] Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using
       Model Parallelism", 2019, arXiv:1909.08053.

    Examples
    --------
    >>> plan = plan_attention_shards(32, 8, 16)  # Llama-3-8B on 16 GPUs: KV heads replicated
    >>> plan.ranks[3]
    RankShard(rank=3, q_heads=(6, 7), kv_heads=(1,))
    >>> plan_attention_shards(40, 8, 16, strategy="pad").padded_heads
    48
    """
    n_heads, n_kv_heads = _check_heads(n_heads, n_kv_heads)
    tp = check_int(tp_size, "tp_size", low=1)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}.")
    refusal = _vllm_refusal(n_heads, n_kv_heads, tp)
    if refusal is None:  # all strategies coincide with vLLM's
        ranks = _contiguous(list(range(n_heads)), list(range(n_kv_heads)), tp)
    elif strategy == "vllm":
        raise ValueError(
            f"strategy='vllm': vLLM 0.33.0 refuses n_heads={n_heads}, n_kv_heads={n_kv_heads}, tp_size={tp}: {refusal} "
            f"Accepted tp_size values up to {tp}: {valid_tp_sizes(n_heads, n_kv_heads, max_tp=tp)}; "
            "or use strategy='pad' / 'uneven'."
        )
    elif strategy == "pad":
        ranks = _padded(n_heads, n_kv_heads, tp)
    else:
        if tp > n_heads:
            raise ValueError(f"strategy='uneven' needs tp_size <= n_heads, or a rank holds no head; got {tp} > {n_heads}.")
        ranks = _uneven(n_heads, n_kv_heads, tp)
    return ShardPlan(n_heads, n_kv_heads, tp, strategy, ranks)


def shard_attention(attn: GroupedQueryAttention, plan: ShardPlan) -> list[GroupedQueryAttention]:
    r"""Cut ``attn`` into one module per rank: q/k/v column-parallel by heads, ``o_proj`` row-parallel.

    Parameters
    ----------
    attn : GroupedQueryAttention
        The full module (not modified; the shards own copies of its weights).
    plan : ShardPlan
        From :func:`plan_attention_shards` with ``attn``'s head counts.

    Returns
    -------
    list of GroupedQueryAttention
        ``tp_size`` modules. Rank ``r``'s keeps the q rows of ``plan.ranks[r].q_heads``, the k/v
        rows (and biases) of its KV heads, and the ``o_proj`` columns of its query heads; dummy
        heads get zero weights, so they add nothing.

    Raises
    ------
    TypeError, ValueError
        On a wrong type or a plan made for other head counts.

    Notes
    -----
    The outputs of the shards sum to ``attn``'s output (:func:`tensor_parallel_attention`).
    See question q09-05.

    Examples
    --------
    >>> attn = GroupedQueryAttention(16, n_heads=4, n_kv_heads=2)
    >>> [s.q_proj.weight.shape[0] for s in shard_attention(attn, plan_attention_shards(4, 2, 2))]
    [8, 8]
    """
    if not isinstance(attn, GroupedQueryAttention):
        raise TypeError(f"attn must be a GroupedQueryAttention; got {type(attn).__name__}.")
    if not isinstance(plan, ShardPlan):
        raise TypeError(f"plan must be a ShardPlan; got {type(plan).__name__}.")
    if (plan.n_heads, plan.n_kv_heads) != (attn.n_heads, attn.n_kv_heads):
        raise ValueError(
            f"plan is for n_heads={plan.n_heads}, n_kv_heads={plan.n_kv_heads}; "
            f"attn has n_heads={attn.n_heads}, n_kv_heads={attn.n_kv_heads}."
        )
    d, dh, has_bias = attn.q_proj.in_features, attn.head_dim, attn.q_proj.bias is not None
    wq = attn.q_proj.weight.detach().view(attn.n_heads, dh, d)  # (H, d_h, d)
    wk = attn.k_proj.weight.detach().view(attn.n_kv_heads, dh, d)  # (H_kv, d_h, d)
    wv = attn.v_proj.weight.detach().view(attn.n_kv_heads, dh, d)
    wo = attn.o_proj.weight.detach().view(d, attn.n_heads, dh).transpose(0, 1)  # (H, d, d_h)
    shards = []
    for rs in plan.ranks:
        m = GroupedQueryAttention(d, n_heads=len(rs.q_heads), n_kv_heads=len(rs.kv_heads), head_dim=dh, bias=has_bias)
        m = m.to(device=wq.device, dtype=wq.dtype)
        with torch.no_grad():
            m.q_proj.weight.copy_(_take_heads(wq, rs.q_heads).reshape(-1, d))  # column-parallel
            m.k_proj.weight.copy_(_take_heads(wk, rs.kv_heads).reshape(-1, d))
            m.v_proj.weight.copy_(_take_heads(wv, rs.kv_heads).reshape(-1, d))
            m.o_proj.weight.copy_(_take_heads(wo, rs.q_heads).permute(1, 0, 2).reshape(d, -1))  # row-parallel
            if has_bias:
                for name, heads, n in (("q_proj", rs.q_heads, attn.n_heads), ("k_proj", rs.kv_heads, attn.n_kv_heads),
                                       ("v_proj", rs.kv_heads, attn.n_kv_heads)):
                    b = getattr(attn, name).bias.detach().view(n, dh)  # (heads, d_h)
                    getattr(m, name).bias.copy_(_take_heads(b, heads).reshape(-1))
        shards.append(m)
    return shards


def tensor_parallel_attention(
    shards: list[GroupedQueryAttention],
    x: torch.Tensor,
    rope: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Run every rank's shard on the same ``x`` in one process and sum the outputs: the all-reduce.

    Parameters
    ----------
    shards : list of GroupedQueryAttention
        From :func:`shard_attention`.
    x : torch.Tensor, shape (B, T, d_model)
        The input every rank sees.
    rope : (cos, sin) or None
        RoPE tables for the ``T`` positions.
    mask : torch.Tensor, optional, bool, broadcastable to (B, 1, T, T)
        Extra restriction on top of causality; True = attend.

    Returns
    -------
    torch.Tensor, shape (B, T, d_model)

    Notes
    -----
    Rank ``r`` returns the row-parallel partial product :math:`O_r W_{O,r}^\top`; the sum over
    ranks is :math:`O W_O^\top` because :math:`W_O` is split along the concatenated head axis.
    See question q09-05.

    Examples
    --------
    >>> attn = GroupedQueryAttention(12, n_heads=3, n_kv_heads=3).double()
    >>> x = torch.randn(1, 5, 12, dtype=torch.float64)
    >>> shards = shard_attention(attn, plan_attention_shards(3, 3, 2, strategy="uneven"))
    >>> torch.allclose(tensor_parallel_attention(shards, x, None), attn(x, None))
    True
    """
    if not isinstance(shards, (list, tuple)):
        raise TypeError(
            f"shards must be a non-empty list of GroupedQueryAttention modules (from shard_attention); "
            f"got {type(shards).__name__}."
        )
    if not shards:
        raise ValueError("shards must be a non-empty list of GroupedQueryAttention modules (from shard_attention).")
    for i, s in enumerate(shards):
        if not isinstance(s, GroupedQueryAttention):
            raise TypeError(f"shards[{i}] must be a GroupedQueryAttention; got {type(s).__name__}.")
    return torch.stack([s(x, rope, mask=mask) for s in shards]).sum(dim=0)  # (B, T, d)


def distributed_attention_forward(
    shard: GroupedQueryAttention,
    x: torch.Tensor,
    rope: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    mask: torch.Tensor | None = None,
    group=None,
) -> torch.Tensor:
    r"""This rank's shard, then ``torch.distributed.all_reduce(SUM)`` over ``group``.

    Parameters
    ----------
    shard : GroupedQueryAttention
        This rank's module from :func:`shard_attention`.
    x : torch.Tensor, shape (B, T, d_model)
        The same input on every rank.
    rope, mask
        As in :func:`tensor_parallel_attention`.
    group : torch.distributed.ProcessGroup, optional
        The tensor-parallel group (default: the world).

    Returns
    -------
    torch.Tensor, shape (B, T, d_model)
        The full attention output, on every rank.

    Raises
    ------
    RuntimeError
        If no process group is initialised.

    Notes
    -----
    The all-reduce is what vLLM's ``RowParallelLinear`` does after ``o_proj``. Run under
    ``torch.distributed`` (e.g. gloo on CPU); see the tests. See question q09-05.
    """
    import torch.distributed as dist

    if not isinstance(shard, GroupedQueryAttention):
        raise TypeError(f"shard must be a GroupedQueryAttention; got {type(shard).__name__}.")
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "torch.distributed is not initialised; call init_process_group first, "
            "or use tensor_parallel_attention to simulate the ranks in one process."
        )
    out = shard(x, rope, mask=mask)  # (B, T, d): this rank's partial sum
    dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out


# -- private core ---------------------------------------------------------------------------------


def _check_heads(n_heads, n_kv_heads) -> tuple[int, int]:
    n_heads, n_kv_heads = check_int(n_heads, "n_heads", low=1), check_int(n_kv_heads, "n_kv_heads", low=1)
    if n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads must divide n_heads (whole GQA groups); got n_heads={n_heads}, n_kv_heads={n_kv_heads}.")
    return n_heads, n_kv_heads


def _vllm_refusal(h: int, h_kv: int, tp: int) -> str | None:
    """vLLM 0.33.0's two conditions; None when both hold."""
    if h % tp:
        return f"'Total number of attention heads ({h}) must be divisible by tensor parallel size ({tp}).'"
    if (tp >= h_kv and tp % h_kv) or (tp < h_kv and h_kv % tp):
        return (f"QKVParallelLinear needs n_kv_heads % tp_size == 0 (partition) or tp_size % n_kv_heads == 0 "
                f"(replicate); {h_kv} and {tp} are neither.")
    return None


def _contiguous(q: list[int], kv: list[int], tp: int) -> tuple[RankShard, ...]:
    """vLLM's layout of (possibly padded) head lists: equal contiguous q slices, KV partitioned or replicated."""
    nq = len(q) // tp
    if len(kv) >= tp:
        nkv = len(kv) // tp
        return tuple(RankShard(r, tuple(q[r * nq : (r + 1) * nq]), tuple(kv[r * nkv : (r + 1) * nkv])) for r in range(tp))
    replicas = tp // len(kv)
    return tuple(RankShard(r, tuple(q[r * nq : (r + 1) * nq]), (kv[r // replicas],)) for r in range(tp))


def _padded(h: int, h_kv: int, tp: int) -> tuple[RankShard, ...]:
    g = h // h_kv
    if h_kv <= tp:  # smallest divisor of tp that is >= h_kv: replication stays possible
        kv_p = min(k for k in range(h_kv, tp + 1) if tp % k == 0)
    else:  # smallest multiple of tp
        kv_p = -(-h_kv // tp) * tp
    step = tp // math.gcd(tp, kv_p)  # kv_p * g_p must be a multiple of tp
    g_p = -(-g // step) * step
    q = [k * g + i if (k < h_kv and i < g) else -1 for k in range(kv_p) for i in range(g_p)]
    kv = [k if k < h_kv else -1 for k in range(kv_p)]
    return _contiguous(q, kv, tp)


def _split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous pieces whose sizes differ by at most one (larger first)."""
    base, extra = divmod(n, parts)
    edges = [0]
    for p in range(parts):
        edges.append(edges[-1] + base + (p < extra))
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _uneven(h: int, h_kv: int, tp: int) -> tuple[RankShard, ...]:
    g = h // h_kv
    if h_kv >= tp:  # deal whole KV groups out
        return tuple(
            RankShard(r, tuple(j for k in ks for j in range(k * g, (k + 1) * g)), tuple(ks))
            for r, ks in enumerate(_split(h_kv, tp))
        )
    ranks = []  # fewer KV heads than ranks: each KV head's ranks split its group of g query heads
    for k, rs in enumerate(_split(tp, h_kv)):
        for r, qs in zip(rs, _split(g, len(rs))):
            ranks.append(RankShard(r, tuple(k * g + i for i in qs), (k,)))
    return tuple(ranks)


def _take_heads(w: torch.Tensor, heads: tuple[int, ...]) -> torch.Tensor:
    """Rows ``w[heads]`` along dim 0, with a zero row wherever ``heads`` has -1 (a dummy head)."""
    padded = torch.cat([w, torch.zeros_like(w[:1])])  # (n + 1, ...): the last row is the dummy
    idx = torch.tensor([len(w) if j < 0 else j for j in heads], dtype=torch.long, device=w.device)
    return padded[idx]
