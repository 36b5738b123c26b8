r"""FLOP and memory counts of a Transformer layer as a function of sequence length.

Conventions: one multiply-add = 2 FLOPs; only matrix multiplications are counted (the
softmax, LayerNorm, biases and activations add :math:`O(n^2 h + n d)` element-wise
operations, negligible next to the matmuls). Forward pass of one self-attention layer
over ``n`` tokens of width ``d`` with FFN width ``d_ff``. See question q07-01.
"""

from __future__ import annotations

from ._checks import check_int

__all__ = ["layer_flops", "crossover_seq_len", "attention_memory_bytes", "decode_step_flops"]


def _d_ff(d_model: int, d_ff: int | None) -> int:
    return 4 * d_model if d_ff is None else check_int(d_ff, "d_ff", low=1)


def layer_flops(n: int, d_model: int, *, d_ff: int | None = None, batch: int = 1) -> dict[str, int]:
    r"""Forward matmul FLOPs of one Transformer layer, by component.

    Parameters
    ----------
    n : int
        Sequence length (queries = keys = n).
    d_model : int
        Model width d (= heads x d_head; the count does not depend on the head split).
    d_ff : int, optional
        FFN hidden width (default 4d).
    batch : int
        Batch size B (every count is multiplied by it).

    Returns
    -------
    dict of str to int
        ``qkv`` :math:`6nd^2`, ``scores`` (:math:`QK^\top`) :math:`2n^2d`, ``attn_v``
        (weights times V) :math:`2n^2d`, ``out_proj`` :math:`2nd^2`, ``ffn``
        :math:`4nd\,d_{ff}`, and ``total``; all times B.

    Raises
    ------
    ValueError
        If a size is < 1.

    Notes
    -----
    With :math:`d_{ff} = 4d` the total is :math:`24nd^2 + 4n^2d`. A causal kernel that
    skips the masked half halves ``scores`` and ``attn_v``; plain dense attention (and
    this count) does not. Backward costs about twice the forward. See question q07-01.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762 (Table 1:
       self-attention costs :math:`O(n^2 d)` per layer).

    Examples
    --------
    >>> f = layer_flops(6, 4)
    >>> f["total"] == 24 * 6 * 4**2 + 4 * 6**2 * 4
    True
    """
    n = check_int(n, "n", low=1)
    d = check_int(d_model, "d_model", low=1)
    ff = _d_ff(d, d_ff)
    b = check_int(batch, "batch", low=1)
    out = {
        "qkv": 3 * 2 * n * d * d,
        "scores": 2 * n * n * d,
        "attn_v": 2 * n * n * d,
        "out_proj": 2 * n * d * d,
        "ffn": 2 * 2 * n * d * ff,
    }
    out = {k: b * v for k, v in out.items()}
    out["total"] = sum(out.values())
    return out


def crossover_seq_len(d_model: int, d_ff: int | None = None) -> int:
    r"""Sequence length at which the :math:`n^2` attention matmuls equal all the others.

    Parameters
    ----------
    d_model : int
        Model width d.
    d_ff : int, optional
        FFN hidden width (default 4d).

    Returns
    -------
    int
        :math:`n^* = 2d + d_{ff}` (``6 d`` for :math:`d_{ff} = 4d`).

    Notes
    -----
    Solve :math:`4n^2 d = 8nd^2 + 4nd\,d_{ff}` (scores + weights·V versus projections + FFN).
    For GPT-3-size :math:`d = 12288` this is :math:`n^* \approx 74\,\mathrm{k}` tokens.
    See question q07-01.

    Examples
    --------
    >>> crossover_seq_len(768)
    4608
    """
    d = check_int(d_model, "d_model", low=1)
    return 2 * d + _d_ff(d, d_ff)


def attention_memory_bytes(n: int, n_heads: int, *, batch: int = 1, bytes_per_element: int = 4) -> int:
    r"""Memory of the materialised attention weights ``(B, H, n, n)``.

    Parameters
    ----------
    n, n_heads : int
        Sequence length and number of heads.
    batch : int
        Batch size.
    bytes_per_element : int
        4 for float32, 2 for bf16/fp16.

    Returns
    -------
    int
        :math:`B H n^2` times the element size. FlashAttention never stores this matrix
        (it streams over key blocks), leaving :math:`O(nd)` activations.

    Examples
    --------
    >>> attention_memory_bytes(1024, 12, bytes_per_element=2) // 2**20
    24
    """
    n = check_int(n, "n", low=1)
    h = check_int(n_heads, "n_heads", low=1)
    b = check_int(batch, "batch", low=1)
    e = check_int(bytes_per_element, "bytes_per_element", low=1)
    return b * h * n * n * e


def decode_step_flops(t: int, d_model: int, *, d_ff: int | None = None) -> dict[str, int]:
    r"""Matmul FLOPs of one layer to generate one token with a KV cache of ``t`` tokens.

    Parameters
    ----------
    t : int
        Tokens already in the cache (the new token attends to ``t + 1`` keys).
    d_model : int
        Width d.
    d_ff : int, optional
        FFN width (default 4d).

    Returns
    -------
    dict of str to int
        ``dense`` :math:`8d^2 + 4d\,d_{ff}` (= :math:`24d^2`), ``attention``
        :math:`4(t+1)d`, ``total``; and ``kv_cache_elements`` :math:`2(t+1)d` read per step.

    Notes
    -----
    Without a cache, step t recomputes the whole prefix: :math:`O(t d^2 + t^2 d)` instead of
    :math:`O(d^2 + t d)`. Decoding is memory-bound: every step reads all weights and the
    whole cache. See question q07-01.

    Examples
    --------
    >>> decode_step_flops(0, 4)["total"] == 24 * 16 + 4 * 4
    True
    """
    t = check_int(t, "t", low=0)
    d = check_int(d_model, "d_model", low=1)
    ff = _d_ff(d, d_ff)
    dense = 2 * 4 * d * d + 2 * 2 * d * ff
    attention = 4 * (t + 1) * d
    return {"dense": dense, "attention": attention, "total": dense + attention, "kv_cache_elements": 2 * (t + 1) * d}
