r"""RoPE's successors as frequency transforms: PI, NTK, dynamic NTK, YaRN, LongRoPE, Llama 3, M-RoPE, iRoPE.

Every context-extension method of question q08-04 keeps the rotation machinery of
:mod:`interviewlib.transformer.rope` and only changes the frequency vector
:math:`\theta_i` (and, for YaRN / LongRoPE, a scalar ``attention_scaling`` multiplied into cos and
sin). Each ``rope_*`` function therefore returns ``(inv_freq, attention_scaling)`` with
``inv_freq`` a float64 tensor of shape ``(d_rot // 2,)``, ready for
:class:`~interviewlib.transformer.rope.RotaryEmbedding`. They mirror the entries of
``transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS`` (transformers 5.23.0), which compute the
same quantities in float32.

M-RoPE (Qwen2-VL) changes the *positions* instead: every token gets a (temporal, height, width)
triple and each block of frequency pairs reads one of the three. iRoPE (Llama 4) drops RoPE from
every ``interval``-th layer (NoPE layers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..nn._torch_checks import check_positive
from ._checks import check_int, check_tensor
from .rope import rope_inv_freq

__all__ = [
    "rope_linear",
    "rope_ntk",
    "rope_dynamic_ntk",
    "rope_yarn",
    "rope_longrope",
    "rope_llama3",
    "rope_proportional",
    "hf_rope_parameters",
    "mrope_position_ids",
    "mrope_cos_sin",
    "irope_layer_types",
    "nope_attn_scale",
]


def _check_factor(factor: Any, name: str = "factor") -> float:
    factor = check_positive(factor, name)
    if factor < 1:
        raise ValueError(f"{name} must be >= 1 (the ratio new context / trained context); got {factor}.")
    return factor


def rope_linear(d_rot: int, *, base: float = 10000.0, factor: float) -> tuple[torch.Tensor, float]:
    r"""Position Interpolation (PI): :math:`\theta_i' = \theta_i / s`, i.e. positions ``m -> m / s``.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even).
    base : float
        RoPE base.
    factor : float
        Extension ratio :math:`s = L'/L \ge 1`.

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
    attention_scaling : float
        Always 1.

    Notes
    -----
    Every angle stays inside the range seen in training, but neighbouring tokens end up :math:`s`
    times closer in every dimension. Hugging Face ``rope_type="linear"``. See question q08-04.

    References
    ----------
    .. [1] Chen et al., "Extending Context Window of Large Language Models via Positional
       Interpolation", 2023, arXiv:2306.15595.

    Examples
    --------
    >>> rope_linear(4, base=100.0, factor=2.0)
    (tensor([0.5000, 0.0500], dtype=torch.float64), 1.0)
    """
    factor = _check_factor(factor)
    return rope_inv_freq(d_rot, base) / factor, 1.0  # (d_rot/2,)


def rope_ntk(d_rot: int, *, base: float = 10000.0, factor: float) -> tuple[torch.Tensor, float]:
    r"""NTK-aware scaling: keep the formula, enlarge the base to :math:`b' = b\, s^{d/(d-2)}`.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even, >= 4).
    base : float
        RoPE base :math:`b`.
    factor : float
        Extension ratio :math:`s \ge 1`.

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
        :math:`\theta_i' = \theta_i\, s^{-2i/(d-2)}`: pair 0 unchanged, the last pair divided by
        exactly :math:`s`.
    attention_scaling : float
        Always 1.

    Notes
    -----
    High frequencies are extrapolated, low ones interpolated; the pairs in between are slightly
    out of the trained range, which is why the factor is set above the target ratio in practice.
    "Larger base" models (Code Llama: :math:`10^6`; Llama 3: :math:`5\cdot 10^5`) are the same idea
    baked into (continued) training. Hugging Face has no static entry; ``rope_type="dynamic"`` with
    ``factor=1`` at ``seq_len = s L`` gives the same frequencies. See question q08-04.

    References
    ----------
    .. [1] bloc97, "NTK-Aware Scaled RoPE allows LLaMA models to have extended (8k+) context size
       without any fine-tuning and minimal perplexity degradation", r/LocalLLaMA, 2023.

    Examples
    --------
    >>> inv, _ = rope_ntk(8, base=10000.0, factor=4.0)
    >>> float(inv[-1] / rope_inv_freq(8)[-1])
    0.25
    """
    d_rot = check_int(d_rot, "d_rot", low=4)
    factor = _check_factor(factor)
    return rope_inv_freq(d_rot, float(base) * factor ** (d_rot / (d_rot - 2))), 1.0


def rope_dynamic_ntk(
    d_rot: int, *, base: float = 10000.0, factor: float, seq_len: int, max_position_embeddings: int
) -> tuple[torch.Tensor, float]:
    r"""Dynamic NTK: NTK-aware base recomputed from the current length (no change inside the trained length).

    .. math:: b' = b\,\Big(\frac{s\,\max(T, L)}{L} - (s - 1)\Big)^{d/(d-2)}

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even, >= 4).
    base : float
        RoPE base.
    factor : float
        :math:`s \ge 1`.
    seq_len : int
        Current sequence length :math:`T` (prompt plus generated tokens).
    max_position_embeddings : int
        Trained length :math:`L`.

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
    attention_scaling : float
        Always 1.

    Notes
    -----
    The frequencies change as the sequence grows, so keys cached with older frequencies no longer
    match; caching keys *before* rotation avoids the mismatch. Hugging Face ``rope_type="dynamic"``.
    See question q08-04.

    References
    ----------
    .. [1] emozilla, "Dynamically Scaled RoPE further increases performance of long context LLaMA
       with zero fine-tuning", r/LocalLLaMA, 2023.

    Examples
    --------
    >>> a, _ = rope_dynamic_ntk(8, factor=2.0, seq_len=100, max_position_embeddings=512)
    >>> bool(torch.equal(a, rope_inv_freq(8)))
    True
    """
    d_rot = check_int(d_rot, "d_rot", low=4)
    factor = _check_factor(factor)
    seq_len = check_int(seq_len, "seq_len", low=1)
    max_pos = check_int(max_position_embeddings, "max_position_embeddings", low=1)
    ratio = factor * max(seq_len, max_pos) / max_pos - (factor - 1)
    return rope_inv_freq(d_rot, float(base) * ratio ** (d_rot / (d_rot - 2))), 1.0


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_yarn(
    d_rot: int,
    *,
    base: float = 10000.0,
    factor: float,
    original_max_position_embeddings: int,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    attention_factor: float | None = None,
    mscale: float | None = None,
    mscale_all_dim: float | None = None,
    truncate: bool = True,
    ramp: str = "index",
) -> tuple[torch.Tensor, float]:
    r"""YaRN: NTK-by-parts interpolation (ramp by wavelength) plus an attention temperature.

    Pair :math:`i` makes :math:`r_i = L / \lambda_i = L\theta_i / 2\pi` turns over the trained
    length :math:`L`. Pairs with :math:`r_i > \beta` (fast) keep :math:`\theta_i`; pairs with
    :math:`r_i < \alpha` (slow) get :math:`\theta_i / s`; in between a linear ramp mixes the two.
    cos and sin are multiplied by :math:`\sqrt{1/t} = 0.1 \ln s + 1`.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even).
    base : float
        RoPE base.
    factor : float
        :math:`s \ge 1`.
    original_max_position_embeddings : int
        Trained length :math:`L`.
    beta_fast, beta_slow : float
        :math:`\beta` and :math:`\alpha` (32 and 1, the values for Llama in the paper).
    attention_factor : float, optional
        Overrides the temperature factor.
    mscale, mscale_all_dim : float, optional
        DeepSeek-style factor ``mscale(s, mscale) / mscale(s, mscale_all_dim)`` when both are given.
    truncate : bool
        Round the ramp ends to whole pair indices (floor / ceil), as the reference code does.
    ramp : {"index", "turns"}
        ``"index"``: the ramp is linear in the pair index between the pairs where
        :math:`r = \beta` and :math:`r = \alpha` (the official code and Hugging Face).
        ``"turns"``: linear in :math:`r` itself, :math:`\gamma = \text{clip}((r-\alpha)/(\beta-\alpha), 0, 1)`,
        the formula as printed in the paper.

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
    attention_scaling : float

    Raises
    ------
    ValueError
        If ``beta_fast <= beta_slow`` or ``ramp`` is unknown.

    Notes
    -----
    Hugging Face ``rope_type="yarn"``. ``ramp="turns"`` has no Hugging Face counterpart.
    See question q08-04.

    References
    ----------
    .. [1] Peng et al., "YaRN: Efficient Context Window Extension of Large Language Models", 2023,
       arXiv:2309.00071.

    Examples
    --------
    >>> inv, scale = rope_yarn(64, factor=8.0, original_max_position_embeddings=4096)
    >>> theta = rope_inv_freq(64)
    >>> bool(torch.equal(inv[:3], theta[:3])), bool(torch.allclose(inv[-3:], theta[-3:] / 8)), round(scale, 4)
    (True, True, 1.2079)
    """
    theta = rope_inv_freq(d_rot, base)  # (d_rot/2,)
    factor = _check_factor(factor)
    L = check_int(original_max_position_embeddings, "original_max_position_embeddings", low=1)
    beta_fast, beta_slow = check_positive(beta_fast, "beta_fast"), check_positive(beta_slow, "beta_slow")
    if beta_fast <= beta_slow:
        raise ValueError(f"beta_fast must be > beta_slow; got beta_fast={beta_fast}, beta_slow={beta_slow}.")
    if ramp == "index":
        # pair index where pair i makes exactly n turns over L: L theta_i / (2 pi) = n
        def at(n: float) -> float:
            return d_rot * math.log(L / (n * 2 * math.pi)) / (2 * math.log(base))

        lo, hi = at(beta_fast), at(beta_slow)
        if truncate:
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, d_rot - 1)
        if lo == hi:
            hi += 0.001  # avoid 0/0, as the reference code does
        i = torch.arange(d_rot // 2, dtype=torch.float64)  # (d_rot/2,)
        w_interp = ((i - lo) / (hi - lo)).clamp(0, 1)  # 0 = keep theta, 1 = theta / s
    elif ramp == "turns":
        turns = L * theta / (2 * math.pi)  # (d_rot/2,)
        w_interp = 1 - ((turns - beta_slow) / (beta_fast - beta_slow)).clamp(0, 1)
    else:
        raise ValueError(f'ramp must be "index" or "turns"; got {ramp!r}.')
    inv_freq = theta / factor * w_interp + theta * (1 - w_interp)  # (d_rot/2,)
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all_dim)
        else:
            attention_factor = _yarn_mscale(factor)
    return inv_freq, float(check_positive(attention_factor, "attention_factor"))


def rope_longrope(
    d_rot: int,
    *,
    base: float = 10000.0,
    short_factor: Sequence[float],
    long_factor: Sequence[float],
    original_max_position_embeddings: int,
    factor: float | None = None,
    max_position_embeddings: int | None = None,
    seq_len: int | None = None,
    attention_factor: float | None = None,
) -> tuple[torch.Tensor, float]:
    r"""LongRoPE: one searched rescale factor per pair, :math:`\theta_i' = \theta_i / \lambda_i`.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even).
    base : float
        RoPE base.
    short_factor, long_factor : sequence of float, length d_rot // 2
        :math:`\lambda_i` used when ``seq_len <= original_max_position_embeddings`` (or is None)
        and when it is longer.
    original_max_position_embeddings : int
        Trained length :math:`L`.
    factor : float, optional
        Extension ratio :math:`s`; defaults to ``max_position_embeddings / L``.
    max_position_embeddings : int, optional
        Extended length, used only when ``factor`` is None.
    seq_len : int, optional
        Current length; selects the short or the long factors.
    attention_factor : float, optional
        Overrides :math:`\sqrt{1 + \ln s / \ln L}` (1 when :math:`s \le 1`).

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
    attention_scaling : float

    Raises
    ------
    ValueError
        If a factor list has the wrong length or a non-positive entry, or neither ``factor`` nor
        ``max_position_embeddings`` is given.

    Notes
    -----
    The paper finds the :math:`\lambda_i` by evolutionary search (and also leaves the first few
    positions un-interpolated); Phi-3 ships two lists. The attention factor is the one of the
    Phi-3 / Hugging Face implementation (``rope_type="longrope"``). See question q08-04.

    References
    ----------
    .. [1] Ding et al., "LongRoPE: Extending LLM Context Window Beyond 2 Million Tokens", 2024,
       arXiv:2402.13753.

    Examples
    --------
    >>> inv, a = rope_longrope(4, base=100.0, short_factor=[1.0, 1.0], long_factor=[1.0, 4.0],
    ...                        original_max_position_embeddings=4096, factor=32.0, seq_len=8000)
    >>> inv, round(a, 4)
    (tensor([1.0000, 0.0250], dtype=torch.float64), 1.1902)
    """
    theta = rope_inv_freq(d_rot, base)  # (d_rot/2,)
    L = check_int(original_max_position_embeddings, "original_max_position_embeddings", low=1)
    use_long = seq_len is not None and check_int(seq_len, "seq_len", low=1) > L
    name, lam = ("long_factor", long_factor) if use_long else ("short_factor", short_factor)
    lam = torch.as_tensor(lam, dtype=torch.float64)  # (d_rot/2,)
    if lam.shape != theta.shape or not bool((lam > 0).all()):
        raise ValueError(f"{name} must hold {theta.numel()} positive numbers (one per pair); got {lam.tolist()}.")
    if factor is None:
        if max_position_embeddings is None:
            raise ValueError("give factor, or max_position_embeddings to derive it as max_position_embeddings / L.")
        factor = check_int(max_position_embeddings, "max_position_embeddings", low=1) / L
    factor = check_positive(factor, "factor")
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(L))
    return theta / lam, float(check_positive(attention_factor, "attention_factor"))


def rope_llama3(
    d_rot: int,
    *,
    base: float = 500000.0,
    factor: float = 8.0,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
    original_max_position_embeddings: int = 8192,
) -> tuple[torch.Tensor, float]:
    r"""Llama 3.1 frequency scaling: keep short wavelengths, divide long ones by ``factor``, blend between.

    With :math:`\lambda_i = 2\pi/\theta_i` and
    :math:`\gamma_i = \text{clip}\big((L/\lambda_i - \ell)/(h - \ell), 0, 1\big)`:
    :math:`\theta_i' = (1-\gamma_i)\,\theta_i/s + \gamma_i\,\theta_i`. So wavelengths below
    :math:`L/h` are unchanged, above :math:`L/\ell` are interpolated by :math:`s`.

    Parameters
    ----------
    d_rot : int
        Rotated dimensions (even).
    base : float
        RoPE base (500 000 in Llama 3).
    factor : float
        :math:`s` (8 for Llama 3.1).
    low_freq_factor, high_freq_factor : float
        :math:`\ell < h` (1 and 4 for Llama 3.1).
    original_max_position_embeddings : int
        :math:`L` (8192 for Llama 3.1).

    Returns
    -------
    inv_freq : torch.Tensor, shape (d_rot // 2,), float64
    attention_scaling : float
        Always 1.

    Raises
    ------
    ValueError
        If ``high_freq_factor < low_freq_factor`` (equal factors give a hard step).

    Notes
    -----
    A YaRN-like ramp by wavelength without the temperature. Hugging Face ``rope_type="llama3"``;
    Meta's reference ``apply_scaling`` does the same per frequency in a loop. See question q08-04.

    References
    ----------
    .. [1] Llama Team, "The Llama 3 Herd of Models", 2024, arXiv:2407.21783.

    Examples
    --------
    >>> inv, _ = rope_llama3(128)
    >>> theta = rope_inv_freq(128, 500000.0)
    >>> bool(torch.equal(inv[0], theta[0])), bool(torch.isclose(inv[-1], theta[-1] / 8))
    (True, True)
    """
    theta = rope_inv_freq(d_rot, base)  # (d_rot/2,)
    factor = _check_factor(factor)
    lo, hi = check_positive(low_freq_factor, "low_freq_factor"), check_positive(high_freq_factor, "high_freq_factor")
    if hi < lo:
        raise ValueError(f"high_freq_factor must be >= low_freq_factor; got {hi} and {lo}.")
    L = check_int(original_max_position_embeddings, "original_max_position_embeddings", low=1)
    turns = L * theta / (2 * math.pi)  # (d_rot/2,): L / wavelength
    if hi == lo:  # a step at wavelength L / lo (Llama 4 Scout: factor 16, low = high = 1)
        keep = (turns > lo).to(torch.float64)
    else:
        keep = ((turns - lo) / (hi - lo)).clamp(0, 1)  # 1 = unchanged, 0 = divided by factor
    return (1 - keep) * theta / factor + keep * theta, 1.0


def rope_proportional(
    head_dim: int, *, base: float = 10000.0, partial_rotary_factor: float = 1.0, factor: float = 1.0
) -> tuple[torch.Tensor, float]:
    r"""Partial RoPE with head-wide frequencies: rotate the first pairs, give the rest frequency 0 (NoPE).

    Frequencies use the full head width as denominator, :math:`\theta_i = b^{-2i/d_{head}}`, for
    the first ``int(partial_rotary_factor * head_dim / 2)`` pairs; the remaining pairs get
    :math:`\theta = 0` (cos 1, sin 0: no rotation). The output always covers the whole head.

    Parameters
    ----------
    head_dim : int
        Head width (even).
    base : float
        RoPE base.
    partial_rotary_factor : float
        Fraction of the head that rotates, in (0, 1].
    factor : float
        Linear (PI) factor applied on top.

    Returns
    -------
    inv_freq : torch.Tensor, shape (head_dim // 2,), float64
    attention_scaling : float
        Always 1.

    Notes
    -----
    This is Hugging Face's ``rope_type="proportional"`` (the Gemma 4 global layers in 5.23.0). The
    other partial-RoPE style (GPT-NeoX, Phi) instead builds frequencies over ``d_rot`` and passes
    the last ``d - d_rot`` dims through: ``rope_inv_freq(d_rot)`` plus :func:`~interviewlib.transformer.rope.apply_rope`.
    See question q08-04.

    Examples
    --------
    >>> rope_proportional(8, base=100.0, partial_rotary_factor=0.5)
    (tensor([1.0000, 0.3162, 0.0000, 0.0000], dtype=torch.float64), 1.0)
    """
    head_dim = check_int(head_dim, "head_dim", low=2)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even; got {head_dim}.")
    p = check_positive(partial_rotary_factor, "partial_rotary_factor")
    if p > 1:
        raise ValueError(f"partial_rotary_factor must be in (0, 1]; got {p}.")
    factor = _check_factor(factor)
    n_rot = int(p * head_dim // 2)
    theta = torch.zeros(head_dim // 2, dtype=torch.float64)  # (head_dim/2,)
    theta[:n_rot] = float(base) ** (-torch.arange(0, 2 * n_rot, 2, dtype=torch.float64) / head_dim)
    return theta / factor, 1.0


def hf_rope_parameters(
    rope_parameters: dict, head_dim: int, max_position_embeddings: int, *, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    r"""Dispatch a Hugging Face ``config.rope_parameters`` dict (transformers v5) to the transforms above.

    Parameters
    ----------
    rope_parameters : dict
        Keys as in ``transformers`` 5.23.0: ``rope_type``, ``rope_theta``, ``factor``,
        ``partial_rotary_factor``, and the type-specific ones.
    head_dim : int
        Head width; ``d_rot = int(head_dim * partial_rotary_factor)``.
    max_position_embeddings : int
        ``config.max_position_embeddings`` (the default trained / extended length).
    seq_len : int, optional
        Current length, for ``dynamic`` and ``longrope``.

    Returns
    -------
    inv_freq : torch.Tensor, float64
    attention_scaling : float

    Raises
    ------
    ValueError
        For an unknown ``rope_type``.

    Examples
    --------
    >>> inv, a = hf_rope_parameters({"rope_type": "linear", "rope_theta": 100.0, "factor": 2.0}, 4, 2048)
    >>> inv, a
    (tensor([0.5000, 0.0500], dtype=torch.float64), 1.0)
    """
    if not isinstance(rope_parameters, Mapping):
        raise TypeError(f"rope_parameters must be a dict like config.rope_parameters; got {type(rope_parameters).__name__}.")
    p = dict(rope_parameters)
    kind = p.get("rope_type", p.get("type", "default"))
    base = float(p.get("rope_theta", 10000.0))
    prf = p.get("partial_rotary_factor", 1.0)
    d_rot = int(check_int(head_dim, "head_dim", low=2) * prf)
    orig = p.get("original_max_position_embeddings", max_position_embeddings)
    if kind == "default":
        return rope_inv_freq(d_rot, base), 1.0
    if kind == "linear":
        return rope_linear(d_rot, base=base, factor=p["factor"])
    if kind == "dynamic":
        return rope_dynamic_ntk(
            d_rot, base=base, factor=p["factor"], seq_len=seq_len or max_position_embeddings,
            max_position_embeddings=max_position_embeddings,
        )
    if kind == "yarn":
        factor = p.get("factor") or max_position_embeddings / orig
        return rope_yarn(
            d_rot, base=base, factor=factor, original_max_position_embeddings=orig,
            beta_fast=p.get("beta_fast") or 32.0, beta_slow=p.get("beta_slow") or 1.0,
            attention_factor=p.get("attention_factor"), mscale=p.get("mscale"),
            mscale_all_dim=p.get("mscale_all_dim"), truncate=p.get("truncate", True),
        )
    if kind == "longrope":
        return rope_longrope(
            d_rot, base=base, short_factor=p["short_factor"], long_factor=p["long_factor"],
            original_max_position_embeddings=orig, factor=p.get("factor"),
            max_position_embeddings=max_position_embeddings, seq_len=seq_len,
            attention_factor=p.get("attention_factor"),
        )
    if kind == "llama3":
        return rope_llama3(
            d_rot, base=base, factor=p["factor"], low_freq_factor=p["low_freq_factor"],
            high_freq_factor=p["high_freq_factor"], original_max_position_embeddings=orig,
        )
    if kind == "proportional":
        return rope_proportional(head_dim, base=base, partial_rotary_factor=prf, factor=p.get("factor", 1.0))
    raise ValueError(
        "rope_type must be one of default, linear, dynamic, yarn, longrope, llama3, proportional; "
        f"got {kind!r}."
    )


def mrope_position_ids(segments: Sequence[int | Sequence[int]]) -> torch.Tensor:
    r"""M-RoPE (Qwen2-VL) position ids for a sequence of text runs and vision grids.

    Parameters
    ----------
    segments : sequence of int or (t, h, w)
        In order: an int ``n`` is ``n`` text tokens; a triple is a vision block of ``t*h*w`` tokens
        laid out frame by frame, row by row (sizes *after* the vision encoder's patch merge).

    Returns
    -------
    torch.Tensor, shape (3, T), int64
        Rows: temporal, height, width. Text tokens get the same id on all three rows (plain 1-D
        RoPE); a vision token at grid cell :math:`(a, b, c)` gets ``start + (a, b, c)``. The next
        segment starts at the largest id so far plus one.

    Raises
    ------
    TypeError, ValueError
        If a segment is neither a positive int nor three positive ints.

    Notes
    -----
    transformers 5.23.0 (``Qwen2VLModel.get_rope_index``) advances the start after a vision block by
    ``max(h, w)`` only, which equals "max + 1" for images (``t = 1``) but not for videos with more
    frames than ``max(h, w)``. See question q08-04.

    References
    ----------
    .. [1] Wang et al., "Qwen2-VL: Enhancing Vision-Language Model's Perception of the World at Any
       Resolution", 2024, arXiv:2409.12191.

    Examples
    --------
    >>> mrope_position_ids([2, (1, 2, 2), 1])
    tensor([[0, 1, 2, 2, 2, 2, 4],
            [0, 1, 2, 2, 3, 3, 4],
            [0, 1, 2, 3, 2, 3, 4]])
    """
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence) or not segments:
        raise TypeError(f"segments must be a non-empty sequence of ints and (t, h, w) triples; got {segments!r}.")
    parts, start = [], 0
    for seg in segments:
        if isinstance(seg, Sequence) and not isinstance(seg, (str, bytes)):
            if len(seg) != 3:
                raise ValueError(f"each vision entry of segments must be a (t, h, w) triple; got {tuple(seg)}.")
            t, h, w = (check_int(v, "t, h, w", low=1) for v in seg)
            grid = torch.stack(
                torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij")
            ).reshape(3, -1)  # (3, t*h*w)
            parts.append(grid + start)
            start += max(t, h, w)
        else:
            n = check_int(seg, "a text segment", low=1)
            parts.append(torch.arange(start, start + n).expand(3, n))  # (3, n)
            start += n
    return torch.cat(parts, dim=1)  # (3, T)


def mrope_cos_sin(
    position_ids: torch.Tensor,
    inv_freq: torch.Tensor,
    mrope_section: Sequence[int],
    *,
    attention_scaling: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""cos / sin tables for M-RoPE: pair block ``j`` of ``mrope_section`` reads axis ``j`` (t, h, w).

    Parameters
    ----------
    position_ids : torch.Tensor, shape (3, T) or (3, B, T)
        From :func:`mrope_position_ids`.
    inv_freq : torch.Tensor, shape (d_rot // 2,)
    mrope_section : sequence of 3 int
        Numbers of frequency pairs for temporal, height, width; must sum to ``d_rot // 2``
        (``[16, 24, 24]`` for Qwen2-VL's 128-wide heads).
    attention_scaling : float
        Multiplier on cos and sin.
    dtype : torch.dtype
        Output dtype (angles are computed in float64).

    Returns
    -------
    cos, sin : torch.Tensor, shape (T, d_rot) or (B, T, d_rot)
        In the rotate-half layout, for :func:`~interviewlib.transformer.rope.apply_rope`.

    Raises
    ------
    ValueError
        If shapes or the section sizes disagree.

    Notes
    -----
    For text, where the three ids are equal, this is exactly 1-D RoPE. See question q08-04.

    Examples
    --------
    >>> pos = mrope_position_ids([3])
    >>> cos, _ = mrope_cos_sin(pos, rope_inv_freq(8), [2, 1, 1], dtype=torch.float64)
    >>> from interviewlib.transformer.rope import rope_cos_sin
    >>> bool(torch.equal(cos, rope_cos_sin(torch.arange(3), rope_inv_freq(8), dtype=torch.float64)[0]))
    True
    """
    check_tensor(position_ids, "position_ids", floating=False)
    if position_ids.ndim not in (2, 3) or position_ids.shape[0] != 3:
        raise ValueError(f"position_ids must be (3, T) or (3, B, T); got shape {tuple(position_ids.shape)}.")
    check_tensor(inv_freq, "inv_freq", ndim=1, layout="(d_rot // 2,)")
    section = [check_int(s, "mrope_section entries") for s in mrope_section]
    if len(section) != 3 or sum(section) != inv_freq.numel():
        raise ValueError(
            f"mrope_section must be 3 sizes summing to d_rot // 2 = {inv_freq.numel()}; got {list(mrope_section)}."
        )
    angles = position_ids.to(torch.float64)[..., None] * inv_freq.to(torch.float64)  # (3, ..., T, d_rot/2)
    axis = torch.repeat_interleave(torch.arange(3), torch.tensor(section))  # (d_rot/2,): which axis each pair reads
    picked = angles.gather(0, axis.expand_as(angles[:1])).squeeze(0)  # (..., T, d_rot/2)
    emb = torch.cat((picked, picked), dim=-1)  # (..., T, d_rot)
    return (emb.cos() * attention_scaling).to(dtype), (emb.sin() * attention_scaling).to(dtype)


def irope_layer_types(n_layers: int, *, nope_interval: int = 4) -> list[str]:
    r"""iRoPE layer pattern (Llama 4): every ``nope_interval``-th layer has no positional encoding.

    Parameters
    ----------
    n_layers : int
        Number of decoder layers.
    nope_interval : int
        Layer ``i`` (0-based) is NoPE when ``(i + 1) % nope_interval == 0``.

    Returns
    -------
    list of str
        ``"rope"`` or ``"nope"`` per layer.

    Notes
    -----
    In Meta's Llama 4 reference the RoPE layers use chunked (local) attention and the NoPE layers
    full causal attention, with a position-dependent query scale (:func:`nope_attn_scale`).
    transformers 5.23.0 stores the same pattern as ``Llama4TextConfig.no_rope_layers``
    (1 = RoPE), default interval 4. See question q08-04.

    Examples
    --------
    >>> irope_layer_types(8)
    ['rope', 'rope', 'rope', 'nope', 'rope', 'rope', 'rope', 'nope']
    """
    n_layers = check_int(n_layers, "n_layers", low=1)
    k = check_int(nope_interval, "nope_interval", low=1)
    return ["nope" if (i + 1) % k == 0 else "rope" for i in range(n_layers)]


def nope_attn_scale(positions: torch.Tensor, *, floor_scale: float = 8192.0, attn_scale: float = 0.1) -> torch.Tensor:
    r"""Llama 4's query multiplier on NoPE layers: :math:`1 + a \ln(\lfloor (m+1)/F \rfloor + 1)`.

    Parameters
    ----------
    positions : torch.Tensor, shape (T,)
        Absolute positions :math:`m`.
    floor_scale : float
        :math:`F` (8192).
    attn_scale : float
        :math:`a` (0.1).

    Returns
    -------
    torch.Tensor, shape (T,), float64
        Exactly 1 for :math:`m < F - 1`; grows like :math:`\ln m` beyond, sharpening attention
        over very long contexts (the same motivation as YaRN's temperature).

    Examples
    --------
    >>> nope_attn_scale(torch.tensor([0, 8190, 8191, 3 * 8192 - 1]))
    tensor([1.0000, 1.0000, 1.0693, 1.1386], dtype=torch.float64)
    """
    check_tensor(positions, "positions", ndim=1, layout="(T,)", floating=False)
    F = check_positive(floor_scale, "floor_scale")
    a = check_positive(attn_scale, "attn_scale", allow_zero=True)
    return torch.log(torch.floor((positions.to(torch.float64) + 1.0) / F) + 1.0) * a + 1.0  # (T,)
