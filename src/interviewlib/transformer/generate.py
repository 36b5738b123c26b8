r"""Autoregressive generation: greedy, temperature, top-k and top-p (nucleus) sampling, with a KV cache.

One step: run the model on the new token(s), take the last position's logits, turn them
into a distribution (temperature, then top-k, then top-p, the order Hugging Face applies
its warpers in), pick a token, append it. With a cache the prompt is processed once
(prefill) and every later step feeds one token (decode).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_int, check_tensor

__all__ = ["top_k_filter", "top_p_filter", "sample_next", "generate"]


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""Keep the ``k`` largest logits of each row, set the rest to ``-inf``.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, V)
        Unnormalised scores.
    k : int
        How many to keep (``k >= V`` keeps all). Ties with the k-th value are kept too.

    Returns
    -------
    torch.Tensor, shape (B, V)

    Examples
    --------
    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0]]), 2)
    tensor([[-inf, 3., 2.]])
    """
    check_tensor(logits, "logits", ndim=2, layout="(B, V)")
    k = check_int(k, "k", low=1)
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))  # (B, V)


def top_p_filter(logits: torch.Tensor, p: float, *, min_keep: int = 1) -> torch.Tensor:
    r"""Nucleus filter: keep the smallest set of top tokens whose probability reaches ``p``.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, V)
        Unnormalised scores (after temperature).
    p : float
        Cumulative probability in (0, 1]; 1 keeps everything.
    min_keep : int
        Always keep at least this many tokens.

    Returns
    -------
    torch.Tensor, shape (B, V)
        Logits with the tail set to ``-inf``.

    Notes
    -----
    Sorted descending, token ``j`` is kept while the mass *before* it is below ``p``, so the
    token that crosses ``p`` is included (Holtzman et al. 2020). Hugging Face's
    ``TopPLogitsWarper`` sorts ascending and removes tokens whose cumulative mass is
    ``<= 1 - p``, the same rule in exact arithmetic. Two caveats: (i) when tied logits
    straddle the cut, both keep the same number of tokens but may keep different ones among
    the tied (here the stable sort keeps the lowest token ids; Hugging Face's choice follows
    its ascending sort); (ii) when a cumulative sum equals ``p`` up to rounding, the two
    roundings may decide differently.

    References
    ----------
    .. [1] Holtzman et al., "The Curious Case of Neural Text Degeneration", 2020,
       arXiv:1904.09751.

    Examples
    --------
    >>> top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), 0.7)
    tensor([[-0.6931, -1.2040,    -inf]])
    """
    check_tensor(logits, "logits", ndim=2, layout="(B, V)")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"p must be a number in (0, 1]; got {p!r}.")
    min_keep = check_int(min_keep, "min_keep", low=1)
    if p >= 1:  # no filtering: a float32 running sum can round up to 1 before the tail and drop it
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)  # (B, V); ties: low id first
    probs = torch.softmax(sorted_logits, dim=-1)  # (B, V)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V)
    drop_sorted = mass_before >= p  # (B, V)
    drop_sorted[:, :min_keep] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))  # (B, V)


def sample_next(
    logits: torch.Tensor,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Pick the next token of each row from last-position logits ``(B, V)``; returns ``(B,)``.

    Greedy (argmax) unless ``do_sample``; with sampling, logits are divided by
    ``temperature``, filtered by :func:`top_k_filter` then :func:`top_p_filter`, and a token
    is drawn from the softmax with ``generator``.

    Examples
    --------
    >>> sample_next(torch.tensor([[0.1, 2.0, -1.0]]))
    tensor([1])
    """
    check_tensor(logits, "logits", ndim=2, layout="(B, V)")
    if not do_sample:
        return logits.argmax(dim=-1)  # (B,)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise ValueError(
            f"temperature must be a finite number > 0 when sampling (use do_sample=False for greedy); got {temperature!r}."
        )
    scores = logits.to(torch.promote_types(logits.dtype, torch.float32)) / temperature  # (B, V), >= float32
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    probs = torch.softmax(scores, dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: torch.Generator | int | None = None,
    use_cache: bool = True,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    r"""Extend the prompts ``idx`` by up to ``max_new_tokens`` tokens.

    Parameters
    ----------
    model : DecoderLM
        Anything with ``config.max_len``, ``new_cache()`` and ``forward(idx, cache=...)``.
    idx : torch.Tensor, shape (B, T), integer
        Prompts (all of length T; no padding).
    max_new_tokens : int
        Tokens to add (0 returns ``idx``).
    do_sample, temperature, top_k, top_p
        See :func:`sample_next`. ``do_sample=False`` is greedy decoding.
    rng : torch.Generator or int or None
        Source of randomness when sampling (an int seeds a new generator).
    use_cache : bool
        Prefill once and decode one token per step (True), or recompute the whole prefix at
        every step (False; same tokens, quadratically more work).
    eos_token_id : int, optional
        Rows that produce it are finished: they keep emitting it, and generation stops early
        once every row is finished.

    Returns
    -------
    torch.Tensor, shape (B, T + n), n <= max_new_tokens

    Raises
    ------
    ValueError
        If ``T + max_new_tokens`` exceeds the model's ``max_len`` or an argument is invalid.

    Notes
    -----
    Cost per new token with a cache: one forward pass over one position, reading the
    whole cache (memory-bound); without: a forward pass over the whole prefix.
    See question q08-02.

    Examples
    --------
    >>> from interviewlib.transformer import DecoderConfig, DecoderLM
    >>> _ = torch.manual_seed(0)
    >>> lm = DecoderLM(DecoderConfig(vocab_size=11, d_model=16, n_layers=1, n_heads=2, max_len=12))
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> torch.equal(generate(lm, prompt, 5), generate(lm, prompt, 5, use_cache=False))
    True
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "config") or not hasattr(model, "new_cache"):
        raise TypeError(f"model must be a DecoderLM-like nn.Module with config and new_cache; got {type(model).__name__}.")
    check_tensor(idx, "idx", ndim=2, layout="(B, T)", floating=False)
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise ValueError(f"idx must hold integer token ids (torch.long); got dtype {idx.dtype}.")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens")
    if idx.shape[1] == 0:
        raise ValueError("idx must hold at least one prompt token per row; got T = 0.")
    total = idx.shape[1] + max_new_tokens
    if total > model.config.max_len:
        raise ValueError(
            f"prompt length {idx.shape[1]} + max_new_tokens {max_new_tokens} = {total} exceeds the model's "
            f"max_len={model.config.max_len}."
        )
    if isinstance(rng, int) and not isinstance(rng, bool):
        rng = torch.Generator(device=idx.device).manual_seed(rng)
    elif rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a torch.Generator, an int seed or None; got {type(rng).__name__}.")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1) or (
        top_p is not None and isinstance(top_p, bool)
    ):
        raise ValueError(f"top_p must be a number in (0, 1]; got {top_p!r}.")
    if top_k is not None:
        check_int(top_k, "top_k", low=1)
    if do_sample and not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}.")
    if eos_token_id is not None:
        check_int(eos_token_id, "eos_token_id")
        vocab = getattr(model.config, "vocab_size", None)
        if vocab is not None and eos_token_id >= vocab:
            raise ValueError(f"eos_token_id must be < vocab_size={vocab}; got {eos_token_id}.")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _generate_core(
                model, idx, max_new_tokens, do_sample, temperature, top_k, top_p, rng, use_cache, eos_token_id
            )
    finally:
        model.train(was_training)


def _generate_core(model, idx, max_new_tokens, do_sample, temperature, top_k, top_p, rng, use_cache, eos):
    out = idx
    cache = model.new_cache(idx.shape[1] + max_new_tokens) if use_cache else None
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)  # (B,)
    feed = idx  # prefill: the whole prompt
    for _ in range(max_new_tokens):
        logits = model(feed, cache=cache) if use_cache else model(out)  # (B, T_feed, V)
        nxt = sample_next(
            logits[:, -1], do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p, generator=rng
        )  # (B,)
        if eos is not None:
            nxt = torch.where(finished, torch.full_like(nxt, eos), nxt)
            finished |= nxt == eos
        out = torch.cat([out, nxt[:, None]], dim=1)  # (B, T + 1)
        feed = nxt[:, None]  # decode: one token
        if eos is not None and bool(finished.all()):
            break
    return out
