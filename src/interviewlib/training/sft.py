r"""Supervised fine-tuning (SFT): label masking, a chat template, packing, and the loss.

SFT is next-token cross-entropy restricted to the tokens the model should learn to *produce*
(the response, or every assistant turn of a chat); every other position carries the label
``IGNORE_INDEX = -100``, the default ``ignore_index`` of ``torch.nn.functional.cross_entropy``
and the Hugging Face convention.

Conventions used throughout:

* ``labels`` are aligned with ``input_ids`` (``labels[t]`` is token ``t`` or -100), as in
  Hugging Face. The shift "the logits at position ``t`` predict token ``t + 1``" happens in
  exactly one place, :func:`shift_labels`, which :func:`sft_loss` calls. Data code never shifts.
* Token ids are 1-D int64 tensors; batches are ``(B, T)``; a packed row is ``B = 1``.

See question q08-14.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from ..transformer._checks import check_int, check_tensor

__all__ = [
    "IGNORE_INDEX",
    "sft_example",
    "pad_sft_batch",
    "render_chat",
    "PackedBatch",
    "block_causal_mask",
    "pack_sft_examples",
    "shift_labels",
    "sft_loss",
]

IGNORE_INDEX = -100
_ROLE_TOKENS = {"system": "<system>", "user": "<user>", "assistant": "<assistant>"}
_REDUCTIONS = ("token", "sample", "sum", "none")
_MIN_INT = -(2**63)


def _as_ids(x: Any, name: str) -> torch.Tensor:
    """A 1-D int64 tensor of token ids (>= 0) from an integer tensor or an iterable of ints."""
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids; got a tensor of dtype {x.dtype}.")
        if x.ndim != 1:
            raise ValueError(f"{name} must be 1-D (T,); got shape {tuple(x.shape)}.")
        ids = x.to(torch.long)
    else:
        if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
            raise TypeError(f"{name} must be a 1-D integer tensor or a sequence of ints; got {type(x).__name__}.")
        x = list(x)
        bad = [v for v in x if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
        if bad:
            raise TypeError(f"{name} must hold integer token ids; got {type(bad[0]).__name__} {bad[0]!r}.")
        ids = torch.tensor([int(v) for v in x], dtype=torch.long)
    if ids.numel() and int(ids.min()) < 0:
        raise ValueError(f"{name} must hold token ids >= 0; got {int(ids.min())}.")
    return ids


def _as_pairs(examples: Any, name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Validate a non-empty list of (input_ids, labels) pairs of equal, non-zero length."""
    if isinstance(examples, (str, bytes, Mapping)) or not isinstance(examples, Iterable):
        raise TypeError(f"{name} must be a list of (input_ids, labels) pairs; got {type(examples).__name__}.")
    pairs = []
    for k, ex in enumerate(examples):
        if not isinstance(ex, (tuple, list)) or len(ex) != 2:
            raise TypeError(f"{name}[{k}] must be an (input_ids, labels) pair; got {type(ex).__name__}.")
        x = _as_ids(ex[0], f"{name}[{k}] input_ids")
        y = ex[1]
        if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.dtype == torch.bool or y.ndim != 1:
            raise TypeError(f"{name}[{k}] labels must be a 1-D integer tensor (T,); got {y!r:.60}.")
        if x.numel() == 0 or y.shape != x.shape:
            raise ValueError(
                f"{name}[{k}] must have non-empty input_ids and labels of the same length; "
                f"got {x.numel()} ids and {y.numel()} labels."
            )
        bad = (y < 0) & (y != IGNORE_INDEX)  # (T,)
        if bool(bad.any()):
            raise ValueError(f"{name}[{k}] labels must be token ids >= 0 or {IGNORE_INDEX}; got {int(y[bad][0])}.")
        pairs.append((x, y.to(torch.long)))
    if not pairs:
        raise ValueError(f"{name} must hold at least one example; got none.")
    return pairs


def sft_example(prompt_ids: Any, response_ids: Any, *, train_on_prompt: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Input and labels of one (prompt, response) pair: ``input = prompt + response``.

    Parameters
    ----------
    prompt_ids, response_ids : 1-D integer tensor or sequence of int
        Token ids. The prompt must hold at least one token (a BOS or template token).
    train_on_prompt : bool
        Keep the prompt's labels too (Shi et al.'s "instruction modelling"); default False.

    Returns
    -------
    input_ids, labels : torch.Tensor of int64, shape (P + R,)
        ``labels`` equals ``input_ids`` with the P prompt positions set to ``IGNORE_INDEX``.
        Labels are *not* shifted (see :func:`shift_labels`).

    Raises
    ------
    TypeError, ValueError
        On non-integer or negative ids, an empty prompt (nothing would predict the first
        response token) or an empty response (nothing to train).

    Notes
    -----
    After the shift, the loss runs over the R positions ``P-1 .. P+R-2`` whose *next* token
    is a response token: the last prompt token predicts the first response token. See
    question q08-14.

    Examples
    --------
    >>> x, y = sft_example([1, 7, 8], [5, 6, 2])
    >>> x.tolist(), y.tolist()
    ([1, 7, 8, 5, 6, 2], [-100, -100, -100, 5, 6, 2])
    """
    p, r = _as_ids(prompt_ids, "prompt_ids"), _as_ids(response_ids, "response_ids")
    if p.numel() == 0:
        raise ValueError("prompt_ids must hold at least one token (e.g. BOS), else nothing predicts the first response token; got an empty prompt.")
    if r.numel() == 0:
        raise ValueError("response_ids must be non-empty: an example without a response has no token to train; got an empty response.")
    input_ids = torch.cat([p, r])  # (P + R,)
    labels = input_ids.clone()
    if not train_on_prompt:
        labels[: p.numel()] = IGNORE_INDEX
    return input_ids, labels


def pad_sft_batch(examples: Any, *, pad_id: int) -> dict[str, torch.Tensor]:
    r"""Right-pad (input_ids, labels) pairs into a batch; padded labels are ``IGNORE_INDEX``.

    Parameters
    ----------
    examples : list of (input_ids, labels)
        From :func:`sft_example` or :func:`render_chat`; lengths may differ.
    pad_id : int
        Token id written into padded input positions (it may equal the EOS id: padding is
        found from the lengths, never by comparing ids).

    Returns
    -------
    dict with ``input_ids`` (B, T) int64, ``labels`` (B, T) int64, ``attention_mask`` (B, T) bool.

    Raises
    ------
    TypeError, ValueError
        On malformed examples or a negative ``pad_id``.

    Notes
    -----
    ``transformers.DataCollatorForLanguageModeling(mlm=False)`` instead builds labels as
    ``input_ids`` with every id equal to ``pad_token_id`` replaced by -100, so with
    ``pad = eos`` it also masks the real EOS and the model never learns to stop. See question q08-14.

    Examples
    --------
    >>> b = pad_sft_batch([sft_example([1], [5, 2]), sft_example([1, 7], [2])], pad_id=2)
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[1, 5, 2], [1, 7, 2]], [[-100, 5, 2], [-100, -100, 2]])
    """
    pairs = _as_pairs(examples, "examples")
    pad_id = check_int(pad_id, "pad_id")
    lengths = torch.tensor([x.numel() for x, _ in pairs])  # (B,)
    input_ids = pad_sequence([x for x, _ in pairs], batch_first=True, padding_value=pad_id)  # (B, T)
    labels = pad_sequence([y for _, y in pairs], batch_first=True, padding_value=IGNORE_INDEX)  # (B, T)
    attention_mask = torch.arange(input_ids.shape[1]) < lengths[:, None]  # (B, T)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def _lookup(vocab: Mapping[str, int], token: str, where: str) -> int:
    if token not in vocab:
        raise ValueError(f"vocab has no id for {token!r} ({where}); add it to the vocabulary.")
    return check_int(vocab[token], f"vocab[{token!r}]")


def render_chat(
    messages: Any,
    vocab: Mapping[str, int],
    *,
    bos: str = "<bos>",
    eot: str = "<eot>",
    role_tokens: Mapping[str, str] | None = None,
    add_generation_prompt: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Render a chat with a minimal ChatML-like template; train only the assistant turns.

    Layout: ``bos``, then per message ``role_token content... eot``. Labels keep every
    assistant content token *and its* ``eot`` (so the model learns to stop); the ``bos``,
    role markers and all system/user tokens get ``IGNORE_INDEX``.

    Parameters
    ----------
    messages : list of {"role": str, "content": str or sequence of int}
        A string content is split on whitespace and looked up in ``vocab``; a sequence of
        ints is taken as already-tokenised ids (any tokenizer).
    vocab : mapping str -> int
        Word-level vocabulary; must contain ``bos``, ``eot`` and the role tokens.
    bos, eot : str
        Begin-of-sequence and end-of-turn tokens.
    role_tokens : mapping role -> str, optional
        Default ``{"system": "<system>", "user": "<user>", "assistant": "<assistant>"}``.
    add_generation_prompt : bool
        Append the assistant role token (inference prompt; it is never a target).

    Returns
    -------
    input_ids, labels : torch.Tensor of int64, shape (T,)
        Unshifted labels (see :func:`shift_labels`).

    Raises
    ------
    TypeError, ValueError
        On an empty chat, a message without ``role``/``content``, an unknown role, a word
        missing from ``vocab``, or a chat with no assistant turn and no generation prompt
        (it would train nothing).

    Notes
    -----
    The role marker of an assistant turn is masked because at inference the template,
    not the model, writes it (``add_generation_prompt``); the ``eot`` is trained because
    the model must emit it. Hugging Face marks the same span with ``{% generation %}`` in a
    chat template (``return_assistant_tokens_mask=True``). See question q08-14.

    Examples
    --------
    >>> vocab = {w: i for i, w in enumerate("<bos> <eot> <system> <user> <assistant> hi hello".split())}
    >>> x, y = render_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], vocab)
    >>> x.tolist(), y.tolist()
    ([0, 3, 5, 1, 4, 6, 1], [-100, -100, -100, -100, -100, 6, 1])
    """
    if not isinstance(vocab, Mapping):
        raise TypeError(f"vocab must be a mapping from token string to id; got {type(vocab).__name__}.")
    roles = dict(_ROLE_TOKENS if role_tokens is None else role_tokens)
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise TypeError(f"messages must be a list of {{'role', 'content'}} dicts; got {type(messages).__name__}.")
    messages = list(messages)
    if not messages:
        raise ValueError("messages must hold at least one message; got an empty chat.")
    eot_id = _lookup(vocab, eot, "eot")
    ids, trained = [_lookup(vocab, bos, "bos")], [False]
    for k, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or "role" not in msg or "content" not in msg:
            raise ValueError(f"messages[{k}] must be a dict with 'role' and 'content'; got {msg!r:.80}.")
        role, content = msg["role"], msg["content"]
        if role not in roles:
            raise ValueError(f"messages[{k}] role must be one of {sorted(roles)}; got {role!r}.")
        if isinstance(content, str):
            body = [_lookup(vocab, w, f"messages[{k}]") for w in content.split()]
        else:
            body = _as_ids(content, f"messages[{k}] content").tolist()
        is_asst = role == "assistant"
        ids += [_lookup(vocab, roles[role], f"role {role!r}"), *body, eot_id]
        trained += [False] + [is_asst] * (len(body) + 1)  # the marker never; content and eot if assistant
    if add_generation_prompt:
        if "assistant" not in roles:
            raise ValueError("add_generation_prompt needs an 'assistant' entry in role_tokens.")
        ids.append(_lookup(vocab, roles["assistant"], "role 'assistant'"))
        trained.append(False)
    elif not any(trained):
        raise ValueError("messages must contain an assistant turn (else nothing is trained); got none.")
    input_ids = torch.tensor(ids, dtype=torch.long)  # (T,)
    labels = torch.where(torch.tensor(trained), input_ids, torch.full_like(input_ids, IGNORE_INDEX))  # (T,)
    return input_ids, labels


@dataclass(frozen=True)
class PackedBatch:
    r"""Several examples packed into one row (see :func:`pack_sft_examples`).

    Attributes
    ----------
    input_ids, labels, position_ids, seq_idx : torch.Tensor of int64, shape (1, T)
        Concatenated ids; labels with ``IGNORE_INDEX`` at every document's first token;
        positions restarting at 0 per document; the document index of each token.
    mask : torch.Tensor of bool, shape (1, 1, T, T)
        Block-diagonal causal mask (True = attend).
    cu_seqlens : torch.Tensor of int32, shape (n_docs + 1,)
        Cumulative lengths ``[0, L_0, L_0 + L_1, ...]``: the boundary format of
        FlashAttention's ``flash_attn_varlen_func``.
    max_seqlen : int
        Longest document (the varlen kernel's ``max_seqlen_q``/``max_seqlen_k``).
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    position_ids: torch.Tensor
    seq_idx: torch.Tensor
    mask: torch.Tensor
    cu_seqlens: torch.Tensor
    max_seqlen: int


def block_causal_mask(lengths: Any) -> torch.Tensor:
    r"""Block-diagonal causal keep-mask of documents of the given lengths.

    Parameters
    ----------
    lengths : sequence of int or 1-D integer tensor
        Document lengths, each >= 1; ``T = sum(lengths)``.

    Returns
    -------
    torch.Tensor of bool, shape (T, T)
        ``mask[i, j] = doc(i) == doc(j) and j <= i``.

    Raises
    ------
    TypeError, ValueError
        If ``lengths`` is empty or holds a length < 1.

    Notes
    -----
    Kept pairs :math:`\sum_k L_k (L_k + 1) / 2` instead of :math:`T (T + 1) / 2` for plain
    causal attention. See question q08-14.

    Examples
    --------
    >>> block_causal_mask([2, 1]).int().tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    """
    lens = _as_ids(lengths, "lengths")
    if lens.numel() == 0 or int(lens.min()) < 1:
        raise ValueError(f"lengths must be a non-empty list of lengths >= 1; got {lens.tolist()}.")
    doc = torch.repeat_interleave(torch.arange(lens.numel()), lens)  # (T,)
    t = torch.arange(doc.numel())  # (T,)
    return (doc[:, None] == doc[None, :]) & (t[None, :] <= t[:, None])  # (T, T)


def pack_sft_examples(examples: Any) -> PackedBatch:
    r"""Pack (input_ids, labels) examples into one row that computes the same loss as apart.

    Parameters
    ----------
    examples : list of (input_ids, labels)
        Unshifted examples (from :func:`sft_example` or :func:`render_chat`).

    Returns
    -------
    PackedBatch
        Row tensors of shape (1, T) with ``T = sum of lengths``, the (1, 1, T, T) mask and
        ``cu_seqlens``.

    Raises
    ------
    TypeError, ValueError
        On an empty list or malformed examples.

    Notes
    -----
    Three things make a packed row equal to running the examples separately: the
    block-diagonal mask (no attention across documents), positions that restart at 0
    (needed for absolute position embeddings; with RoPE the masked scores already depend
    only on in-document offsets), and the label of every document's *first* token set to
    ``IGNORE_INDEX``: after the shift, the last token of document k would otherwise be
    trained to predict the first token of document k + 1. ``DataCollatorWithFlattening``
    in transformers does the same (``separator_id = -100``). See question q08-14.

    Examples
    --------
    >>> pb = pack_sft_examples([sft_example([1], [5, 2]), sft_example([1, 7], [2])])
    >>> pb.input_ids.tolist(), pb.position_ids.tolist(), pb.cu_seqlens.tolist()
    ([[1, 5, 2, 1, 7, 2]], [[0, 1, 2, 0, 1, 2]], [0, 3, 6])
    """
    pairs = _as_pairs(examples, "examples")
    lens = torch.tensor([x.numel() for x, _ in pairs])  # (n,)
    starts = torch.cumsum(lens, 0) - lens  # (n,) first index of each document
    input_ids = torch.cat([x for x, _ in pairs])  # (T,)
    labels = torch.cat([y for _, y in pairs])  # (T,) a new tensor: the inputs are not touched
    labels[starts] = IGNORE_INDEX  # no target crosses a boundary
    seq_idx = torch.repeat_interleave(torch.arange(lens.numel()), lens)  # (T,)
    position_ids = torch.arange(input_ids.numel()) - starts[seq_idx]  # (T,) restart at 0
    cu_seqlens = F.pad(torch.cumsum(lens, 0), (1, 0)).to(torch.int32)  # (n + 1,)
    return PackedBatch(
        input_ids=input_ids[None],
        labels=labels[None],
        position_ids=position_ids[None],
        seq_idx=seq_idx[None],
        mask=block_causal_mask(lens)[None, None],  # (1, 1, T, T)
        cu_seqlens=cu_seqlens,
        max_seqlen=int(lens.max()),
    )


def _check_labels(labels: Any) -> None:
    check_tensor(labels, "labels", ndim=2, layout="(B, T)", floating=False)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer token ids; got dtype {labels.dtype}.")


def _shift(labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    return F.pad(labels[:, 1:], (0, 1), value=ignore_index)  # (B, T): target of the logits at t


def shift_labels(labels: torch.Tensor, *, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    r"""Targets aligned with the logits: ``out[:, t] = labels[:, t + 1]``, last column ignored.

    This is the only place in the module that shifts: the logits at position ``t`` are
    the model's distribution over token ``t + 1``.

    Parameters
    ----------
    labels : torch.Tensor of int, shape (B, T)
        Unshifted labels.
    ignore_index : int
        Written into the last column (no next token there).

    Returns
    -------
    torch.Tensor of int, shape (B, T)

    Raises
    ------
    TypeError, ValueError
        If ``labels`` is not a 2-D integer tensor.

    Notes
    -----
    Same as ``ForCausalLMLoss`` in transformers, which pads the labels with -100 on the
    right and drops the first column. See question q08-14.

    Examples
    --------
    >>> shift_labels(torch.tensor([[-100, 5, 6]])).tolist()
    [[5, 6, -100]]
    """
    _check_labels(labels)
    return _shift(labels, check_int(ignore_index, "ignore_index", low=_MIN_INT))


def sft_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    reduction: str = "token",
    ignore_index: int = IGNORE_INDEX,
    allow_empty: bool = False,
) -> torch.Tensor:
    r"""Next-token cross-entropy over the labelled tokens, with the shift done here.

    Parameters
    ----------
    logits : torch.Tensor, floating, shape (B, T, V)
        Model outputs for ``input_ids`` (B, T).
    labels : torch.Tensor of int, shape (B, T)
        *Unshifted* labels (token id or ``ignore_index``), aligned with ``input_ids``.
    reduction : {"token", "sample", "sum", "none"}
        ``"token"``: sum of token losses / number of valid tokens in the batch.
        ``"sample"``: mean over each sample's valid tokens, then mean over samples (samples
        without a valid token are left out). ``"sum"``: the plain sum (divide by a global
        token count yourself, e.g. across gradient-accumulation steps). ``"none"``: the
        (B, T) per-position losses, 0 where ignored.
    ignore_index : int
        Label value that takes no loss.
    allow_empty : bool
        What ``"token"``/``"sample"`` do when no label is valid (0/0): raise (default), or
        return a zero that is still attached to the graph (zero gradients).

    Returns
    -------
    torch.Tensor
        A scalar, or (B, T) for ``"none"``; float32 for half-precision logits (computed
        after upcasting), else the logits' dtype.

    Raises
    ------
    TypeError, ValueError
        On shapes that disagree, non-integer labels, labels outside ``[0, V)`` that are not
        ``ignore_index``, an unknown reduction, or no valid label without ``allow_empty``.

    Notes
    -----
    With :math:`n_i` valid tokens in sample :math:`i`, :math:`N = \sum_i n_i` and
    :math:`B'` non-empty samples, token :math:`(i, t)` gets weight :math:`1/N` ("token") or
    :math:`1/(B' n_i)` ("sample"). "token" weights each *sample* by :math:`n_i / N`, so long
    answers dominate; "sample" gives every answer equal total weight, so each token of a short
    answer counts more. Perplexity is :math:`\exp` of the "token" loss. See question q08-14.

    Examples
    --------
    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens: every target costs log 4
    >>> round(sft_loss(logits, torch.tensor([[-100, 1, 2]])).item(), 4)
    1.3863
    """
    check_tensor(logits, "logits", ndim=3, layout="(B, T, V)")
    _check_labels(labels)
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels must be (B, T) = {tuple(logits.shape[:2])} like logits[..., 0]; got {tuple(labels.shape)}.")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}.")
    ignore_index = check_int(ignore_index, "ignore_index", low=_MIN_INT)
    V = logits.shape[-1]
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= V))  # (B, T)
    if bool(bad.any()):
        raise ValueError(f"labels must be token ids in [0, {V}) or ignore_index={ignore_index}; got {int(labels[bad][0])}.")
    return _sft_loss_core(logits, labels, reduction, ignore_index, allow_empty)


def _sft_loss_core(logits, labels, reduction: str, ignore_index: int, allow_empty: bool) -> torch.Tensor:
    x = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()  # (B, T, V)
    target = _shift(labels, ignore_index)  # (B, T) the shift, once
    valid = target != ignore_index  # (B, T)
    picked = x.gather(-1, torch.where(valid, target, 0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    nll = torch.where(valid, torch.logsumexp(x, dim=-1) - picked, 0.0)  # (B, T) -log p(target)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    counts = valid.sum(dim=1)  # (B,)
    if int(counts.sum()) == 0:
        if allow_empty:
            return x.sum() * 0.0  # zero loss, zero gradient, still differentiable
        raise ValueError(
            "labels hold no valid target after the shift (all ignore_index): the mean loss would be 0/0 = NaN. "
            "Check the masking/template, or pass allow_empty=True for a zero loss."
        )
    if reduction == "token":
        return nll.sum() / counts.sum()
    keep = counts > 0  # (B,)
    return (nll.sum(dim=1)[keep] / counts[keep]).mean()
