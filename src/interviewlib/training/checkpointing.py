r"""Count the bytes autograd saves for backward; wrap blocks in activation checkpoints.

:class:`SavedTensorCounter` installs ``torch.autograd.graph.saved_tensors_hooks`` and
records every tensor an operation saves for its backward, counting each underlying
storage once (``x``, ``x.view(...)`` and ``x.t()`` share one buffer). That number is the
activation memory of the forward pass, which is what the closed forms of questions q08-05
and q08-10 predict. :func:`checkpoint_blocks` wraps chosen blocks (or segments of
consecutive blocks) in ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``:
only each segment's input is saved, the rest is recomputed during backward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..transformer._checks import check_int, check_tensor
from ..transformer.attention import scaled_dot_product_attention
from ..transformer.mha import MultiHeadAttention, merge_key_mask

__all__ = [
    "SavedTensorCounter",
    "SavedTensor",
    "Checkpointed",
    "checkpoint_blocks",
    "sqrt_segment_size",
    "MemoryEfficientAttention",
]


@dataclass(frozen=True)
class SavedTensor:
    """One tensor packed by autograd: its view and the storage behind it."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    device: str
    storage_nbytes: int  # bytes of the whole buffer (what stays alive)
    storage_key: int  # identity of the buffer while it is alive
    excluded: bool  # belongs to an excluded tensor (e.g. a parameter)


class SavedTensorCounter:
    r"""Context manager that measures the activation memory autograd keeps for backward.

    Parameters
    ----------
    exclude : iterable of torch.Tensor, optional
        Tensors whose storages are not counted, typically ``model.parameters()``: a
        ``Linear`` saves its weight for the input gradient, but that buffer exists anyway.

    Attributes
    ----------
    records : list of SavedTensor
        Every pack, in order (a storage saved twice appears twice).
    nbytes : int
        Bytes of the distinct non-excluded storages saved so far.
    excluded_nbytes : int
        Bytes of the distinct excluded storages that were saved.

    Notes
    -----
    A saved tensor keeps its whole storage alive, so the count uses
    ``untyped_storage().nbytes()``, not ``numel() * element_size()`` of the view, and two
    views of one buffer count once. Only the innermost ``saved_tensors_hooks`` see a
    tensor: inside a non-reentrant checkpoint the checkpoint's own hooks take over, so
    this counter sees what the checkpoint keeps (its inputs) and not what it discards.
    While the context is open the counter holds a reference to every saved storage, so no
    buffer address can be reused and counted as new (a backward run inside the context
    therefore frees its activations only at exit). Works on the ``meta`` device, which
    lets one count a full-size layer without allocating it. See questions q08-05, q08-06
    and q08-10.

    Examples
    --------
    >>> lin = nn.Linear(4, 3)
    >>> x = torch.randn(2, 4, requires_grad=True)
    >>> with SavedTensorCounter(exclude=lin.parameters()) as c:
    ...     y = torch.relu(lin(x))
    >>> c.nbytes == x.numel() * 4 + y.numel() * 4   # Linear keeps x, ReLU keeps its output
    True
    """

    def __init__(self, *, exclude: Iterable[torch.Tensor] = ()) -> None:
        if isinstance(exclude, (torch.Tensor, str, bytes)) or not hasattr(exclude, "__iter__"):
            raise TypeError(f"exclude must be an iterable of tensors; got {type(exclude).__name__}.")
        excl = list(exclude)
        for i, t in enumerate(excl):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"exclude[{i}] must be a torch.Tensor; got {type(t).__name__}.")
        self._exclude = {t.untyped_storage()._cdata for t in excl}
        self.records: list[SavedTensor] = []
        self._alive: dict[int, torch.UntypedStorage] = {}
        self._hooks: Any = None
        self._used = False

    def __enter__(self) -> SavedTensorCounter:
        if self._hooks is not None:
            raise RuntimeError("SavedTensorCounter is already active; use a new instance for nesting.")
        if self._used:
            raise RuntimeError("SavedTensorCounter was already used (freed buffers may be reused); create a new one.")
        self._used = True
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)
        self._hooks = None
        self._alive.clear()

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage._cdata  # address of the StorageImpl: shared by all views of one buffer
        self._alive.setdefault(key, storage)
        self.records.append(
            SavedTensor(tuple(t.shape), t.dtype, t.device.type, storage.nbytes(), key, key in self._exclude)
        )
        return t

    @staticmethod
    def _unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    def _unique(self, excluded: bool) -> dict[int, int]:
        return {r.storage_key: r.storage_nbytes for r in self.records if r.excluded == excluded}

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct saved storages that are not excluded."""
        return sum(self._unique(False).values())

    @property
    def excluded_nbytes(self) -> int:
        """Bytes of the distinct saved storages that belong to excluded tensors."""
        return sum(self._unique(True).values())

    def nbytes_by_dtype(self) -> dict[torch.dtype, int]:
        """Counted (non-excluded) bytes split by dtype of the saved storage."""
        out: dict[torch.dtype, int] = {}
        seen: set[int] = set()
        for r in self.records:
            if not r.excluded and r.storage_key not in seen:
                seen.add(r.storage_key)
                out[r.dtype] = out.get(r.dtype, 0) + r.storage_nbytes
        return out


class Checkpointed(nn.Module):
    r"""Run ``module`` (or several modules in sequence) under a non-reentrant checkpoint.

    Parameters
    ----------
    *modules : nn.Module
        One block, or several applied in order ``x = m(x, **kwargs)`` (a segment).
    early_stop : bool
        Passed to ``checkpoint``: stop the recomputation once every saved tensor that
        backward needs exists again (PyTorch's default, True), which skips the segment's
        trailing operations whose inputs are all that backward needs (e.g. the last
        ``Linear``); False recomputes the whole segment.

    Notes
    -----
    Forward saves only the segment's input; backward recomputes the segment, so it costs
    at most one extra forward of the segment. ``use_reentrant=False`` is PyTorch's
    recommended variant: it supports keyword arguments, works when the input does not
    require grad, and gives gradients identical to the unwrapped module as long as the
    recomputation is deterministic (the RNG state is restored for dropout). Parameter
    names gain a ``segment.`` prefix. See question q08-06.

    References
    ----------
    .. [1] Chen, Xu, Zhang and Guestrin, "Training Deep Nets with Sublinear Memory Cost",
       2016, arXiv:1604.06174.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
    >>> x = torch.randn(3, 4, requires_grad=True)
    >>> torch.equal(Checkpointed(mlp)(x), mlp(x))
    True
    """

    def __init__(self, *modules: nn.Module, early_stop: bool = True) -> None:
        super().__init__()
        if not modules:
            raise ValueError("Checkpointed needs at least one module; got none.")
        for i, m in enumerate(modules):
            if not isinstance(m, nn.Module):
                raise TypeError(f"modules[{i}] must be an nn.Module; got {type(m).__name__}.")
        if not isinstance(early_stop, bool):
            raise TypeError(f"early_stop must be a bool; got {type(early_stop).__name__}.")
        self.segment = nn.ModuleList(modules)
        self.early_stop = early_stop

    def _run(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        for m in self.segment:
            x = m(x, *args, **kwargs)
        return x

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Apply the segment to ``x`` (extra arguments go to every module), checkpointed."""
        return checkpoint(self._run, x, *args, use_reentrant=False, early_stop=self.early_stop, **kwargs)


def sqrt_segment_size(n_blocks: int) -> int:
    r"""Segment length :math:`k = \lceil\sqrt{n}\rceil` of Chen et al.'s :math:`O(\sqrt n)` schedule.

    Parameters
    ----------
    n_blocks : int
        Number of blocks :math:`n \ge 1`.

    Returns
    -------
    int
        :math:`k`, giving :math:`\lceil n/k\rceil \approx \sqrt n` segments.

    Notes
    -----
    Storing the input of each of the :math:`n/k` segments and recomputing one segment
    (:math:`k` blocks) at a time during backward keeps :math:`n/k + k` block activations
    alive, minimised at :math:`k = \sqrt n` (:math:`2\sqrt n`), for one extra forward pass
    (Chen et al. 2016). See question q08-06.

    Examples
    --------
    >>> [sqrt_segment_size(n) for n in (1, 4, 10, 16)]
    [1, 2, 4, 4]
    """
    n = check_int(n_blocks, "n_blocks", low=1)
    return math.isqrt(n - 1) + 1


def checkpoint_blocks(
    blocks: Sequence[nn.Module],
    *,
    segment_size: int | str = 1,
    which: Iterable[int] | None = None,
    early_stop: bool = True,
) -> nn.ModuleList:
    r"""Group consecutive blocks into segments and checkpoint the chosen segments.

    Parameters
    ----------
    blocks : sequence of nn.Module
        For example ``model.blocks`` (an ``nn.ModuleList``); each block maps
        ``x -> block(x, **kwargs)`` to a tensor of the same role.
    segment_size : int or "sqrt"
        Blocks per segment (1 = checkpoint every block separately, "full" recomputation
        in Korthikanti et al.'s terms); ``"sqrt"`` uses :func:`sqrt_segment_size`.
    which : iterable of int, optional
        Indices of the segments to checkpoint (default all). Segments not listed are
        kept as their plain blocks; ``range(0, n_segments, k)`` checkpoints every k-th.
    early_stop : bool
        See :class:`Checkpointed`.

    Returns
    -------
    nn.ModuleList
        New list to assign back (``model.blocks = checkpoint_blocks(model.blocks)``):
        :class:`Checkpointed` segments and unwrapped blocks, sharing the original modules
        (no parameter is copied). The input ``blocks`` is not modified.

    Raises
    ------
    TypeError
        If a block is not an ``nn.Module`` or ``segment_size`` has the wrong type.
    ValueError
        If ``blocks`` is empty, ``segment_size < 1`` or a segment index is out of range.

    Notes
    -----
    With :math:`n` blocks and segments of :math:`k`, forward keeps the inputs of the
    checkpointed segments; backward recomputes each one, adding its forward FLOPs once
    (about :math:`1/3` of a forward+backward when everything is checkpointed). See
    question q08-06.

    Examples
    --------
    >>> blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(5))
    >>> [type(b).__name__ for b in checkpoint_blocks(blocks, segment_size=2, which=[0, 2])]
    ['Checkpointed', 'Linear', 'Linear', 'Checkpointed']
    """
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise TypeError(f"blocks must be a sequence of nn.Module (e.g. model.blocks); got {type(blocks).__name__}.")
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks must contain at least one module; got an empty sequence.")
    for i, b in enumerate(blocks):
        if not isinstance(b, nn.Module):
            raise TypeError(f"blocks[{i}] must be an nn.Module; got {type(b).__name__}.")
    if isinstance(segment_size, str):
        if segment_size != "sqrt":
            raise ValueError(f"segment_size must be a positive int or 'sqrt'; got {segment_size!r}.")
        k = sqrt_segment_size(len(blocks))
    else:
        k = check_int(segment_size, "segment_size", low=1)
    segments = [blocks[i : i + k] for i in range(0, len(blocks), k)]
    if which is None:
        chosen = set(range(len(segments)))
    else:
        chosen = {check_int(j, "which[...]") for j in which}
        bad = sorted(j for j in chosen if j >= len(segments))
        if bad:
            raise ValueError(f"which must index the {len(segments)} segments (0..{len(segments) - 1}); got {bad}.")
    out = nn.ModuleList()
    for j, seg in enumerate(segments):
        if j in chosen:
            out.append(Checkpointed(*seg, early_stop=early_stop))
        else:
            out.extend(seg)
    return out


class MemoryEfficientAttention(nn.Module):
    r"""Self-attention with the weights of a ``MultiHeadAttention`` that keeps less for backward.

    Parameters
    ----------
    mha : interviewlib.transformer.MultiHeadAttention
        Supplies the Q/K/V/output projections (shared, not copied).
    core : {"recompute", "fused"}
        ``recompute``: Korthikanti et al.'s *selective* recomputation, the attention core
        :math:`\mathrm{softmax}(QK^\top/\sqrt{d})V` runs under a checkpoint, so only its
        inputs Q, K, V are stored and the :math:`(B, H, T, T)` scores are recomputed in
        backward. ``fused``: ``torch.nn.functional.scaled_dot_product_attention``, whose
        flash kernel (on CPU and GPU) keeps Q, K, V, the output and a
        :math:`(B, H, T)` fp32 logsumexp instead of the scores.

    Notes
    -----
    Same outputs and gradients as ``mha`` (up to floating-point rounding for ``fused``).
    Which kernel ``scaled_dot_product_attention`` picks, and so what it stores, depends
    on device, dtype and mask; the counts of question q08-05 are for CPU, torch 2.13,
    causal attention without a mask. See questions q08-05 and q08-06.

    References
    ----------
    .. [1] Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
       Models", 2022, arXiv:2205.05198 (Section 5).
    .. [2] Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with
       IO-Awareness", NeurIPS 2022, arXiv:2205.14135.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> mha = MultiHeadAttention(8, 2)
    >>> x = torch.randn(2, 5, 8)
    >>> ref = mha(x, is_causal=True)
    >>> all(torch.allclose(MemoryEfficientAttention(mha, core=c)(x, is_causal=True), ref, atol=1e-6)
    ...     for c in ("recompute", "fused"))
    True
    """

    def __init__(self, mha: MultiHeadAttention, *, core: str = "recompute") -> None:
        super().__init__()
        if not isinstance(mha, MultiHeadAttention):
            raise TypeError(f"mha must be an interviewlib MultiHeadAttention; got {type(mha).__name__}.")
        if core not in ("recompute", "fused"):
            raise ValueError(f"core must be 'recompute' or 'fused'; got {core!r}.")
        self.mha = mha
        self.core = core

    def forward(
        self,
        query: torch.Tensor,
        *,
        attn_mask: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Self-attention over ``query`` (B, T, d_model); masks as in ``MultiHeadAttention``."""
        m = self.mha
        check_tensor(query, "query", ndim=3, layout="(B, T, d_model)")
        if query.shape[-1] != m.d_model:
            raise ValueError(f"query must have last dimension d_model={m.d_model}; got shape {tuple(query.shape)}.")
        B, T, _ = query.shape
        mask = merge_key_mask(attn_mask, key_mask, B, T)  # self-attention: S = T
        q = m._split(m.q_proj(query))  # (B, H, T, d_head)
        k = m._split(m.k_proj(query))  # (B, H, T, d_head)
        v = m._split(m.v_proj(query))  # (B, H, T, d_head)
        if self.core == "recompute":
            out = checkpoint(scaled_dot_product_attention, q, k, v, mask, is_causal=is_causal, use_reentrant=False)
        else:
            if mask is not None and is_causal:
                keep = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # (T, T)
                mask = mask & keep if mask.dtype == torch.bool else mask.masked_fill(~keep, float("-inf"))
                is_causal = False
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        out = out.transpose(1, 2).reshape(B, T, m.d_model)  # (B, T, d_model)
        return m.out_proj(out)  # (B, T, d_model)
