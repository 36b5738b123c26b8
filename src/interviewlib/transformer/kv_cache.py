r"""A preallocated key/value cache for incremental decoding, and its size formula.

During decoding a causal model only needs the new token's query; the keys and values of
every earlier token are the same as when they were first computed, so each layer stores
them once and appends one position per step. The cache here is "static": one buffer of
``max_len`` positions per layer and per cached tensor, filled left to right (the layout of
Hugging Face's ``StaticCache``); chapter 9 replaces it with paged blocks.

Any attention variant can use it: GQA stores ``(k, v)`` of shape ``(B, H_kv, T, d_head)``,
MLA stores its latent ``c_kv`` and the shared RoPE key, each ``(B, 1, T, d)``.
"""

from __future__ import annotations

import torch

from ._checks import check_int, check_tensor

__all__ = ["KVCache", "kv_cache_bytes"]


class KVCache:
    r"""Per-layer preallocated buffers with a shared fill length.

    Parameters
    ----------
    n_layers : int
        Number of attention layers that will write to the cache.
    max_len : int
        Capacity in positions (prompt plus generated tokens).

    Attributes
    ----------
    length : int
        Positions already stored (the same for every layer once a forward pass is done).
    batch_size : int or None
        Fixed by the first write; later writes must agree.

    Notes
    -----
    A layer calls :meth:`update` with the new positions' tensors, shape ``(B, ..., T_new, d)``,
    and gets back views of everything stored so far, ``(B, ..., length + T_new, d)``. The model
    calls :meth:`advance` once per forward pass, after all layers have written. Memory is
    :math:`2 L H_{kv} d_{head}` elements per token for GQA (see :func:`kv_cache_bytes`).
    See question q08-02.

    Examples
    --------
    >>> cache = KVCache(n_layers=1, max_len=8)
    >>> k, v = cache.update(0, torch.ones(2, 1, 3, 4), torch.zeros(2, 1, 3, 4))
    >>> cache.advance(3)
    >>> k, v = cache.update(0, torch.ones(2, 1, 1, 4), torch.zeros(2, 1, 1, 4))
    >>> tuple(k.shape), cache.length
    ((2, 1, 4, 4), 3)
    """

    def __init__(self, *, n_layers: int, max_len: int) -> None:
        self.n_layers = check_int(n_layers, "n_layers", low=1)
        self.max_len = check_int(max_len, "max_len", low=1)
        self.length = 0
        self.batch_size: int | None = None
        self._buffers: list[tuple[torch.Tensor, ...] | None] = [None] * self.n_layers

    def update(self, layer_idx: int, *new: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Store ``new`` tensors (B, ..., T_new, d) at positions ``length..length+T_new-1``.

        Returns every stored position of this layer, ``(B, ..., length + T_new, d)`` each.

        Raises
        ------
        ValueError
            On a bad layer index, a batch size that differs from the first write, shapes or
            dtypes that differ from this layer's earlier writes, or more than ``max_len``
            positions. A write that raises leaves the cache unchanged.

        Notes
        -----
        The stored tensors are detached: a cache is for inference, gradients do not flow
        through cached keys and values.
        """
        layer_idx = check_int(layer_idx, "layer_idx")
        if layer_idx >= self.n_layers:
            raise ValueError(f"layer_idx must be < n_layers={self.n_layers}; got {layer_idx}.")
        if not new:
            raise ValueError("update needs at least one tensor to cache; got none.")
        for i, t in enumerate(new):
            check_tensor(t, f"new[{i}]")
            if t.ndim < 3:
                raise ValueError(f"new[{i}] must be (B, ..., T_new, d); got shape {tuple(t.shape)}.")
        b, t_new = new[0].shape[0], new[0].shape[-2]
        if any(t.shape[0] != b or t.shape[-2] != t_new for t in new):
            raise ValueError(f"tensors to cache must agree on B and T_new; got {[tuple(t.shape) for t in new]}.")
        if self.batch_size is not None and b != self.batch_size:
            raise ValueError(
                f"this cache holds a batch of {self.batch_size} sequences; got a batch of {b}. "
                "Use a new KVCache (or reset()) for a different batch."
            )
        end = self.length + t_new
        if end > self.max_len:
            raise ValueError(
                f"KV cache is full: max_len={self.max_len}, already {self.length} positions, got {t_new} more."
            )
        bufs = self._buffers[layer_idx]
        if bufs is None:
            bufs = tuple(t.new_zeros(*t.shape[:-2], self.max_len, t.shape[-1]) for t in new)
            self._buffers[layer_idx] = bufs
        elif len(bufs) != len(new) or any(
            buf.shape[:-2] != t.shape[:-2] or buf.shape[-1] != t.shape[-1] or buf.dtype != t.dtype
            for buf, t in zip(bufs, new)
        ):
            raise ValueError(
                f"layer {layer_idx} was cached with other shapes or dtypes "
                f"{[(tuple(buf.shape), buf.dtype) for buf in bufs]}; got {[(tuple(t.shape), t.dtype) for t in new]}."
            )
        self.batch_size = b  # fixed only once the write is known to be valid
        for buf, t in zip(bufs, new):
            buf[..., self.length : end, :] = t.detach()  # write the new positions in place
        return tuple(buf[..., :end, :] for buf in bufs)

    def advance(self, t_new: int) -> None:
        """Declare that ``t_new`` more positions are now stored in every layer."""
        t_new = check_int(t_new, "t_new", low=0)
        if self.length + t_new > self.max_len:
            raise ValueError(f"cannot advance past max_len={self.max_len}; length {self.length} + {t_new}.")
        self.length += t_new

    def reset(self) -> None:
        """Forget every stored position and the batch size (the buffers are released)."""
        self.length = 0
        self.batch_size = None
        self._buffers = [None] * self.n_layers

    def nbytes(self) -> int:
        """Bytes allocated by the buffers (capacity, not fill)."""
        return sum(t.numel() * t.element_size() for bufs in self._buffers if bufs for t in bufs)


def kv_cache_bytes(
    *, n_layers: int, n_kv_heads: int, head_dim: int, seq_len: int, batch: int = 1, bytes_per_element: int = 2
) -> int:
    r"""Bytes of a GQA/MHA/MQA KV cache: :math:`2 \cdot L \cdot H_{kv} \cdot d_{head} \cdot T \cdot B \cdot b`.

    Parameters
    ----------
    n_layers, n_kv_heads, head_dim : int
        Model shape (``n_kv_heads = n_heads`` for MHA, 1 for MQA).
    seq_len, batch : int
        Cached positions per sequence and number of sequences.
    bytes_per_element : int
        2 for fp16/bf16, 1 for fp8/int8 caches, 4 for fp32.

    Returns
    -------
    int
        Total bytes; the factor 2 is one tensor for K and one for V.

    Notes
    -----
    See questions q08-02 and q08-08.

    Examples
    --------
    >>> kv_cache_bytes(n_layers=32, n_kv_heads=8, head_dim=128, seq_len=1)  # Llama-3-8B, bf16
    131072
    """
    args = dict(n_layers=n_layers, n_kv_heads=n_kv_heads, head_dim=head_dim, seq_len=seq_len, batch=batch)
    vals = {k: check_int(v, k, low=1) for k, v in args.items()}
    b = check_int(bytes_per_element, "bytes_per_element", low=1)
    return 2 * vals["n_layers"] * vals["n_kv_heads"] * vals["head_dim"] * vals["seq_len"] * vals["batch"] * b
