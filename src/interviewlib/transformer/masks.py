r"""Attention masks: causal, padding and the classic sparse patterns.

Every mask is a bool tensor with ``True`` = "query i may attend to key j" (the
convention of ``torch.nn.functional.scaled_dot_product_attention``; note that
``nn.MultiheadAttention``'s ``key_padding_mask`` and ``nn.Transformer*``'s bool masks use the
opposite convention, True = blocked). Square masks have shape ``(n, n)`` (queries x keys).

Each docstring states the number of kept pairs in closed form; the density is that number
divided by ``n**2``. See questions q07-02 and q07-03.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_int

__all__ = [
    "causal_mask",
    "padding_mask",
    "attention_mask",
    "sliding_window_mask",
    "dilated_mask",
    "strided_mask",
    "fixed_mask",
    "longformer_mask",
    "block_sparse_mask",
    "bigbird_mask",
    "lsh_mask",
    "mask_density",
]


def _ij(n: int, s: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    s = n if s is None else s
    i = torch.arange(n).unsqueeze(1)  # (n, 1) query index
    j = torch.arange(s).unsqueeze(0)  # (1, s) key index
    return i, j


def causal_mask(t: int, s: int | None = None) -> torch.Tensor:
    r"""Lower-triangular keep-mask: query ``i`` sees keys ``j <= i + (s - t)``.

    Parameters
    ----------
    t : int
        Number of queries (>= 1).
    s : int, optional
        Number of keys (>= t, default t). With ``s > t`` the mask is aligned to the
        bottom-right corner: the ``t`` queries are the *last* ``t`` positions, as in
        KV-cache decoding.

    Returns
    -------
    torch.Tensor of bool, shape (t, s)

    Raises
    ------
    ValueError
        If ``t < 1`` or ``s < t``.

    Notes
    -----
    Kept pairs (square case): :math:`n(n+1)/2`, density :math:`(n+1)/(2n)`.
    ``torch``'s ``is_causal=True`` uses ``tril(diagonal=0)`` (top-left aligned); the two
    agree when ``t == s``. See question q07-03.

    Examples
    --------
    >>> causal_mask(3).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    >>> causal_mask(1, 3).int().tolist()
    [[1, 1, 1]]
    """
    t = check_int(t, "t", low=1)
    s = t if s is None else check_int(s, "s", low=1)
    if s < t:
        raise ValueError(f"s must be >= t (keys include the queries' own positions); got t={t}, s={s}.")
    i, j = _ij(t, s)
    return j <= i + (s - t)  # (t, s)


def padding_mask(lengths: Sequence[int] | torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    r"""Key mask from sequence lengths: ``True`` on real tokens, ``False`` on padding.

    Parameters
    ----------
    lengths : sequence of int or 1-D integer tensor, shape (B,)
        Number of real tokens of each sequence (right padding), each in ``[0, max_len]``.
    max_len : int, optional
        Padded length S (default ``max(lengths)``).

    Returns
    -------
    torch.Tensor of bool, shape (B, S)

    Raises
    ------
    TypeError
        If ``lengths`` is not a sequence of integers or a tensor (e.g. ``None``, a string).
    ValueError
        If ``lengths`` is empty, not 1-D, ragged, not integer, negative or longer than
        ``max_len``.

    Notes
    -----
    Kept keys: :math:`\sum_b L_b`. See question q07-03.

    Examples
    --------
    >>> padding_mask([3, 1], 4).int().tolist()
    [[1, 1, 1, 0], [1, 0, 0, 0]]
    """
    if lengths is None or isinstance(lengths, (str, bytes)):
        raise TypeError(
            f"lengths must be a sequence of ints or a 1-D integer tensor (B,); got {type(lengths).__name__}."
        )
    try:
        lengths = torch.as_tensor(lengths)
    except ValueError as exc:  # ragged nesting
        raise ValueError(f"lengths must be a flat sequence of ints (B,); got {lengths!r} ({exc}).") from exc
    except (TypeError, RuntimeError) as exc:  # entries torch cannot convert (None, str, objects)
        raise TypeError(f"lengths must be a sequence of ints (B,); got {lengths!r} ({exc}).") from exc
    if lengths.ndim != 1 or lengths.numel() == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence (B,); got shape {tuple(lengths.shape)}.")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers; got dtype {lengths.dtype}.")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0; got {lengths.tolist()}.")
    longest = int(lengths.max())
    max_len = longest if max_len is None else check_int(max_len, "max_len", low=1)
    if longest > max_len:
        raise ValueError(f"lengths must be <= max_len={max_len}; got max length {longest}.")
    return torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)


def attention_mask(
    key_mask: torch.Tensor,
    *,
    t: int | None = None,
    causal: bool = False,
) -> torch.Tensor:
    r"""Broadcastable (B, 1, T, S) keep-mask from a key-padding mask, optionally causal.

    Parameters
    ----------
    key_mask : torch.Tensor of bool, shape (B, S)
        ``True`` on real keys (e.g. from :func:`padding_mask`).
    t : int, optional
        Number of queries (default S: self-attention).
    causal : bool
        Also apply :func:`causal_mask` (logical AND).

    Returns
    -------
    torch.Tensor of bool, shape (B, 1, T, S)
        Broadcasts over heads.

    Raises
    ------
    ValueError
        If ``key_mask`` is not a 2-D bool tensor.

    Notes
    -----
    Padded *query* rows are not blocked: their outputs are junk but finite, and the loss
    must ignore them (mask the loss too). A query row is fully blocked only if its
    sequence has no real key at all (length 0) or, with ``causal``, when left padding
    leaves a query with only padded keys before it. See question q07-03.

    Examples
    --------
    >>> m = attention_mask(padding_mask([2, 3], 3), causal=True)
    >>> tuple(m.shape), m[0, 0].int().tolist()
    ((2, 1, 3, 3), [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    """
    if not isinstance(key_mask, torch.Tensor) or key_mask.dtype != torch.bool or key_mask.ndim != 2:
        got = f"{key_mask.dtype}, shape {tuple(key_mask.shape)}" if isinstance(key_mask, torch.Tensor) else type(key_mask).__name__
        raise ValueError(f"key_mask must be a 2-D bool tensor (B, S), True = real token; got {got}.")
    s = key_mask.shape[1]
    t = s if t is None else check_int(t, "t", low=1)
    mask = key_mask[:, None, None, :].expand(-1, 1, t, -1)  # (B, 1, T, S)
    if causal:
        mask = mask & causal_mask(t, s).to(key_mask.device)  # (B, 1, T, S)
    return mask


def sliding_window_mask(n: int, window: int, *, causal: bool = True) -> torch.Tensor:
    r"""Local (sliding-window) attention.

    Parameters
    ----------
    n : int
        Sequence length.
    window : int
        Causal: each query sees its last ``window`` positions, itself included
        (``0 <= i - j < window``). Bidirectional: ``|i - j| <= window`` (``2 window + 1`` keys).
    causal : bool
        Causal (decoder, Mistral-style) or symmetric band (encoder).

    Returns
    -------
    torch.Tensor of bool, shape (n, n)

    Raises
    ------
    ValueError
        If ``n < 1`` or ``window < 1`` (causal) / ``window < 0`` (bidirectional).

    Notes
    -----
    Kept pairs, with :math:`w \le n`: causal :math:`nw - w(w-1)/2`; bidirectional with
    half-width :math:`h \le n - 1`: :math:`n(2h+1) - h(h+1)`. Cost :math:`O(nw)`; a
    token reaches distance :math:`L w` only after :math:`L` layers.
    See question q07-02.

    Examples
    --------
    >>> sliding_window_mask(4, 2).int().tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    n = check_int(n, "n", low=1)
    window = check_int(window, "window", low=1 if causal else 0)
    i, j = _ij(n)
    d = i - j  # (n, n)
    return ((d >= 0) & (d < window)) if causal else (d.abs() <= window)


def dilated_mask(n: int, window: int, dilation: int) -> torch.Tensor:
    r"""Causal dilated sliding window: keys ``j = i - m * dilation`` for ``m = 0..window-1``.

    Parameters
    ----------
    n : int
        Sequence length.
    window : int
        Keys per query (>= 1), the query itself included.
    dilation : int
        Gap between kept keys (>= 1; 1 is the plain sliding window).

    Returns
    -------
    torch.Tensor of bool, shape (n, n)

    Raises
    ------
    ValueError
        If an argument is < 1.

    Notes
    -----
    Kept pairs: :math:`\sum_{i=0}^{n-1} \min(w, \lfloor i/\delta \rfloor + 1)`; the
    receptive field is :math:`(w-1)\delta + 1` at the same cost as a window of
    :math:`w` (Longformer uses dilation on some heads). See question q07-02.

    Examples
    --------
    >>> dilated_mask(5, 2, 2).int().tolist()[4]
    [0, 0, 1, 0, 1]
    """
    n = check_int(n, "n", low=1)
    window = check_int(window, "window", low=1)
    dilation = check_int(dilation, "dilation", low=1)
    i, j = _ij(n)
    d = i - j  # (n, n)
    return (d >= 0) & (d % dilation == 0) & (d < window * dilation)


def strided_mask(n: int, stride: int) -> torch.Tensor:
    r"""Sparse Transformer *strided* pattern (union of its two heads), causal.

    Head 1 sees the previous ``stride`` positions (``0 <= i - j < stride``), head 2 every
    ``stride``-th position (``(i - j) mod stride == 0``); Child et al. (2019) choose
    ``stride`` close to :math:`\sqrt{n}`.

    Parameters
    ----------
    n : int
        Sequence length.
    stride : int
        Stride ``l`` (>= 1).

    Returns
    -------
    torch.Tensor of bool, shape (n, n)

    Raises
    ------
    ValueError
        If an argument is < 1.

    Notes
    -----
    Kept pairs: :math:`\sum_{i} [\min(i+1, l) + \lfloor i/l \rfloor]`, i.e.
    :math:`O(n\sqrt{n})` for :math:`l \approx \sqrt{n}`. The paper writes head 1 as
    :math:`\{\max(0, i-l), \dots, i\}`; the extra key :math:`i-l` is in head 2 anyway, so
    the union is the same. See question q07-02.

    References
    ----------
    .. [1] Child et al., "Generating Long Sequences with Sparse Transformers", 2019,
       arXiv:1904.10509.

    Examples
    --------
    >>> strided_mask(7, 3).int().tolist()[6]
    [1, 0, 0, 1, 1, 1, 1]
    """
    n = check_int(n, "n", low=1)
    stride = check_int(stride, "stride", low=1)
    i, j = _ij(n)
    d = i - j  # (n, n)
    return (d >= 0) & ((d < stride) | (d % stride == 0))


def fixed_mask(n: int, stride: int, c: int = 1) -> torch.Tensor:
    r"""Sparse Transformer *fixed* pattern (union of its two heads), causal.

    Head 1 sees its own block of length ``stride`` (``i // l == j // l``); head 2 sees the
    last ``c`` "summary" positions of every block (``j mod l >= l - c``).

    Parameters
    ----------
    n : int
        Sequence length.
    stride : int
        Block length ``l`` (>= 1).
    c : int
        Summary positions per block, ``1 <= c <= stride``.

    Returns
    -------
    torch.Tensor of bool, shape (n, n)

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    Kept pairs when :math:`l` divides :math:`n`:
    :math:`\sum_i [(i \bmod l) + 1 + c\lfloor i/l \rfloor]` (summary keys inside the own
    block are already in head 1). See question q07-02.

    References
    ----------
    .. [1] Child et al., "Generating Long Sequences with Sparse Transformers", 2019,
       arXiv:1904.10509.

    Examples
    --------
    >>> fixed_mask(6, 3).int().tolist()[4]
    [0, 0, 1, 1, 1, 0]
    """
    n = check_int(n, "n", low=1)
    stride = check_int(stride, "stride", low=1)
    c = check_int(c, "c", low=1)
    if c > stride:
        raise ValueError(f"c must be <= stride={stride}; got {c}.")
    i, j = _ij(n)
    same_block = (i // stride) == (j // stride)  # (n, n)
    summary = (j % stride) >= stride - c  # (1, n)
    return (j <= i) & (same_block | summary)


def longformer_mask(n: int, window: int, global_idx: Sequence[int] = ()) -> torch.Tensor:
    r"""Longformer: symmetric sliding window plus global tokens (bidirectional).

    Parameters
    ----------
    n : int
        Sequence length.
    window : int
        Even window size ``w``: each token sees ``w/2`` tokens on each side and itself.
    global_idx : sequence of int
        Positions with global attention (e.g. ``[CLS]``, question tokens): they attend to
        every position and every position attends to them.

    Returns
    -------
    torch.Tensor of bool, shape (n, n), symmetric

    Raises
    ------
    ValueError
        If ``window`` is odd or negative, or a global index is out of range.

    Notes
    -----
    With :math:`h = w/2` and :math:`g` global tokens placed first, kept pairs are
    :math:`n^2 - (n-g)^2 + (n-g)(2h+1) - h(h+1)` (for :math:`h \le n-g-1`).
    Cost :math:`O(n(w + g))`. See question q07-02.

    References
    ----------
    .. [1] Beltagy, Peters and Cohan, "Longformer: The Long-Document Transformer", 2020,
       arXiv:2004.05150.

    Examples
    --------
    >>> m = longformer_mask(5, 2, [0])
    >>> m[0].all().item(), m[:, 0].all().item(), m[4].int().tolist()
    (True, True, [1, 0, 0, 1, 1])
    """
    n = check_int(n, "n", low=1)
    window = check_int(window, "window", low=0)
    if window % 2:
        raise ValueError(f"window must be even (w/2 tokens on each side); got {window}.")
    g = torch.as_tensor(list(global_idx), dtype=torch.long)
    if g.numel() and (g.min() < 0 or g.max() >= n):
        raise ValueError(f"global_idx must lie in [0, {n - 1}]; got {g.tolist()}.")
    mask = sliding_window_mask(n, window // 2, causal=False)  # (n, n)
    is_global = torch.zeros(n, dtype=torch.bool)  # (n,)
    is_global[g] = True
    return mask | is_global.unsqueeze(0) | is_global.unsqueeze(1)


def block_sparse_mask(layout: torch.Tensor, block: int) -> torch.Tensor:
    r"""Expand a block layout to a token mask (each kept block is a dense tile).

    Parameters
    ----------
    layout : torch.Tensor of bool, shape (nb_q, nb_k)
        Which (query block, key block) tiles are computed.
    block : int
        Block size b.

    Returns
    -------
    torch.Tensor of bool, shape (nb_q * b, nb_k * b)

    Raises
    ------
    ValueError
        If ``layout`` is not a 2-D bool tensor or ``block < 1``.

    Notes
    -----
    Kept pairs: :math:`b^2 \times` (number of kept tiles). Tiles map to dense GPU matmuls,
    which is why practical sparse kernels (Sparse Transformer, BigBird, NSA, MoBA) are
    block-sparse. See question q07-02.

    Examples
    --------
    >>> block_sparse_mask(torch.tensor([[True, False], [True, True]]), 2).int().tolist()[1]
    [1, 1, 0, 0]
    """
    if not isinstance(layout, torch.Tensor) or layout.dtype != torch.bool or layout.ndim != 2:
        got = f"{layout.dtype}, shape {tuple(layout.shape)}" if isinstance(layout, torch.Tensor) else type(layout).__name__
        raise ValueError(f"layout must be a 2-D bool tensor (nb_q, nb_k); got {got}.")
    block = check_int(block, "block", low=1)
    return layout.repeat_interleave(block, dim=0).repeat_interleave(block, dim=1)  # (nb_q*b, nb_k*b)


def bigbird_mask(
    n_blocks: int,
    block: int,
    *,
    n_global: int = 1,
    n_random: int = 1,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""BigBird (ITC) block pattern: global + 3-block sliding window + random blocks.

    Parameters
    ----------
    n_blocks : int
        Number of blocks; the sequence length is ``n_blocks * block``.
    block : int
        Block size b.
    n_global : int
        The first ``n_global`` blocks are global (full rows and columns).
    n_random : int
        Random key blocks per non-global query block, drawn without replacement among
        the blocks not already kept; needs ``n_random <= n_blocks - n_global - 3``.
    generator : torch.Generator, int or None
        Source of randomness (an int seeds a new generator).

    Returns
    -------
    torch.Tensor of bool, shape (n_blocks * block, n_blocks * block)

    Raises
    ------
    ValueError
        If the numbers of blocks do not fit.

    Notes
    -----
    With :math:`m = n_b - g` non-global blocks, the kept tiles number
    :math:`n_b^2 - m^2 + (3m - 2) + r m`, times :math:`b^2` pairs: linear in :math:`n`
    for fixed :math:`b, g, r`. The random edges make the attention graph expander-like
    (short paths between any two tokens); the paper's universal-approximation and
    Turing-completeness results rest on the :math:`O(1)` global tokens (a star graph).
    See question q07-02.

    References
    ----------
    .. [1] Zaheer et al., "Big Bird: Transformers for Longer Sequences", 2020,
       arXiv:2007.14062.

    Examples
    --------
    >>> m = bigbird_mask(6, 2, n_global=1, n_random=1, generator=0)
    >>> tuple(m.shape), int(m.sum()) == 4 * (36 - 25 + 13 + 5)
    ((12, 12), True)
    """
    n_blocks = check_int(n_blocks, "n_blocks", low=1)
    block = check_int(block, "block", low=1)
    n_global = check_int(n_global, "n_global", low=0)
    n_random = check_int(n_random, "n_random", low=0)
    m = n_blocks - n_global
    if m < 3:
        raise ValueError(f"n_blocks - n_global must be >= 3 for a 3-block window; got {m}.")
    if n_random > m - 3:
        raise ValueError(f"n_random must be <= n_blocks - n_global - 3 = {m - 3}; got {n_random}.")
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, int or None; got {type(generator).__name__}.")
    bi, bj = _ij(n_blocks)
    is_global = torch.arange(n_blocks) < n_global  # (nb,)
    layout = ((bi - bj).abs() <= 1) | is_global.unsqueeze(0) | is_global.unsqueeze(1)  # (nb, nb)
    if n_random:
        scores = torch.rand(n_blocks, n_blocks, generator=generator)  # (nb, nb)
        scores = scores.masked_fill(layout, -1.0)  # never re-pick a kept tile
        pick = scores.topk(n_random, dim=1).indices  # (nb, r)
        rand = torch.zeros(n_blocks, n_blocks, dtype=torch.bool).scatter(1, pick, True)  # (nb, nb)
        layout = layout | (rand & ~is_global.unsqueeze(1))  # global rows are already full
    return block_sparse_mask(layout, block)


def lsh_mask(
    x: torch.Tensor,
    n_buckets: int,
    *,
    causal: bool = False,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    r"""Reformer-style LSH attention mask: keep pairs whose shared query/key hash agrees.

    Parameters
    ----------
    x : torch.Tensor, shape (..., n, d)
        Shared query/key vectors (Reformer ties Q and K).
    n_buckets : int
        Even number of buckets; the hash is :math:`\arg\max [xR; -xR]` with a random
        Gaussian :math:`R` of shape ``(d, n_buckets/2)`` (angular LSH).
    causal : bool
        Also require ``j <= i``.
    generator : torch.Generator, int or None
        Randomness for ``R``.

    Returns
    -------
    torch.Tensor of bool, shape (..., n, n)

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 dimensions or ``n_buckets`` is odd or < 2.

    Notes
    -----
    Expected kept pairs :math:`\approx n^2 / n_{\text{buckets}}` when buckets are
    balanced; content-dependent. The real Reformer also sorts by bucket, attends within
    fixed-size chunks, uses several hash rounds and masks self-attention unless no other
    key is available; this mask is the idealised "same bucket" set. See question q07-02.

    References
    ----------
    .. [1] Kitaev, Kaiser and Levskaya, "Reformer: The Efficient Transformer", 2020,
       arXiv:2001.04451.

    Examples
    --------
    >>> x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    >>> m = lsh_mask(x, 4, generator=0)
    >>> bool(m.diagonal().all()), bool((m == m.T).all())
    (True, True)
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or not x.is_floating_point():
        got = f"shape {tuple(x.shape)}, {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a floating tensor of shape (..., n, d); got {got}.")
    n_buckets = check_int(n_buckets, "n_buckets", low=2)
    if n_buckets % 2:
        raise ValueError(f"n_buckets must be even; got {n_buckets}.")
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    R = torch.randn(x.shape[-1], n_buckets // 2, generator=generator, dtype=x.dtype)  # (d, nb/2)
    proj = x @ R  # (..., n, nb/2)
    bucket = torch.cat([proj, -proj], dim=-1).argmax(dim=-1)  # (..., n)
    mask = bucket.unsqueeze(-1) == bucket.unsqueeze(-2)  # (..., n, n)
    if causal:
        mask = mask & causal_mask(x.shape[-2])
    return mask


def mask_density(mask: torch.Tensor) -> float:
    r"""Fraction of kept (query, key) pairs.

    Parameters
    ----------
    mask : torch.Tensor of bool, shape (..., T, S)

    Returns
    -------
    float
        ``mask.sum() / mask.numel()``: the share of the dense score matrix computed.

    Raises
    ------
    ValueError
        If ``mask`` is not a non-empty bool tensor.

    Examples
    --------
    >>> mask_density(causal_mask(4))
    0.625
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.numel() == 0:
        raise ValueError("mask must be a non-empty bool tensor.")
    return mask.sum().item() / mask.numel()
