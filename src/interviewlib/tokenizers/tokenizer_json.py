r"""Read and write byte-level BPE tokenizers as Hugging Face ``tokenizer.json`` files.

A vocabulary file is small: the vocabulary (token string -> id), the merges in rank
order, and the pipeline around the model (normalizer, pre-tokenizer, decoder, added
tokens). GPT-2 shipped the first two as ``encoder.json`` and ``vocab.bpe``
(= ``merges.txt``); ``tokenizer.json`` puts everything in one file. Tokens are written
through GPT-2's byte-to-character map (:func:`~interviewlib.tokenizers.pretokenize.bytes_to_unicode`), so
the space byte appears as ``"Ġ"`` and the token ``" the"`` as ``"Ġthe"``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import regex

from .bpe import ByteLevelBPE
from .pretokenize import PATTERNS, _byte_map

__all__ = ["to_tokenizer_json", "save_tokenizer_json", "load_tokenizer_json"]

_CHAR_TO_BYTE = {c: b for b, c in enumerate(_byte_map())}
# Oniguruma (Ruby syntax), the regex engine inside `tokenizers`, reads "{1,3}+" as
# "({1,3}) one or more times", not as a possessive "{1,3}": tiktoken's cl100k pattern
# would split digits differently there.
_POSSESSIVE_INTERVAL = regex.compile(r"(?<!\\)\{\d+(?:,\d*)?\}\+")


def _to_str(token: bytes) -> str:
    table = _byte_map()
    return "".join(table[b] for b in token)


def _to_bytes(token: str, where: str) -> bytes:
    try:
        return bytes(_CHAR_TO_BYTE[c] for c in token)
    except KeyError as exc:
        raise ValueError(f"{where}: token {token!r} is not in GPT-2's byte-level alphabet.") from exc


def to_tokenizer_json(bpe: ByteLevelBPE) -> dict[str, Any]:
    r"""The ``tokenizer.json`` structure of a fitted :class:`ByteLevelBPE`.

    Parameters
    ----------
    bpe : ByteLevelBPE
        A fitted (or loaded) tokenizer.

    Returns
    -------
    dict
        JSON-ready: ``tokenizers.Tokenizer.from_str(json.dumps(d))`` builds a tokenizer that
        gives the same ids as ``bpe.encode(text, allowed_special="all")``.

    Raises
    ------
    ValueError
        If ``bpe`` is not fitted, or its pattern uses a possessive interval such as
        ``\p{N}{1,3}+`` (tiktoken's ``cl100k``), which Hugging Face's Oniguruma engine reads
        differently; use ``"llama3"``, the same split written without it.

    Notes
    -----
    The GPT-2 pattern becomes ``ByteLevel(use_regex=True)``; any other pattern becomes
    ``Split(Regex(pattern), "isolated")`` followed by ``ByteLevel(use_regex=False)``, the
    layout of the Llama 3 and Qwen2 files. Special tokens are ``added_tokens`` with
    ``special=True`` and also appear in the model's vocabulary. See question q09-03.

    Examples
    --------
    >>> spec = to_tokenizer_json(ByteLevelBPE(vocab_size=258).fit("aaab aaab"))
    >>> spec["model"]["merges"], spec["model"]["vocab"]["aa"], spec["pre_tokenizer"]["type"]
    ([['a', 'a'], ['a', 'b']], 256, 'ByteLevel')
    """
    if not isinstance(bpe, ByteLevelBPE):
        raise TypeError(f"bpe must be a ByteLevelBPE; got {type(bpe).__name__}.")
    if not hasattr(bpe, "merges_"):
        raise ValueError("ByteLevelBPE is not fitted yet; call fit(texts) first.")
    pattern = PATTERNS.get(bpe.pattern, bpe.pattern)
    if _POSSESSIVE_INTERVAL.search(pattern):
        raise ValueError(
            f"pattern {bpe.pattern!r} has a possessive interval such as '{{1,3}}+', which the Oniguruma engine of "
            f"`tokenizers` reads as a repeat; train with pattern='llama3' to write a tokenizer.json."
        )
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if pattern == PATTERNS["gpt2"]:
        pre = byte_level
    else:
        split = {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}
        pre = {"type": "Sequence", "pretokenizers": [split, {**byte_level, "use_regex": False}]}
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    specials = sorted(bpe.special_tokens_.items(), key=lambda item: item[1])
    vocab = dict(specials) | {_to_str(t): i for i, t in sorted(bpe.vocab_.items())}
    model = {
        "type": "BPE",
        "dropout": None,
        "unk_token": None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": False,
        "vocab": vocab,
        "merges": [[_to_str(bpe.vocab_[a]), _to_str(bpe.vocab_[b])] for a, b in bpe.merges_],
    }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": s, **flags} for s, i in specials],
        "normalizer": None,
        "pre_tokenizer": pre,
        "post_processor": None,
        "decoder": byte_level,
        "model": model,
    }


def _check_path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    return os.fspath(path)


def save_tokenizer_json(bpe: ByteLevelBPE, path: str | os.PathLike) -> None:
    """Write :func:`to_tokenizer_json` of ``bpe`` to ``path`` (UTF-8)."""
    spec = to_tokenizer_json(bpe)
    _check_path(path)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)


def _pattern_of(pre: dict, where: str) -> str:
    kind = pre.get("type")
    if kind == "ByteLevel" and pre.get("use_regex", True) and not pre.get("add_prefix_space"):
        return "gpt2"
    steps = pre.get("pretokenizers", [])
    if kind == "Sequence" and [p.get("type") for p in steps] == ["Split", "ByteLevel"]:
        split, level = steps
        if split.get("behavior") == "Isolated" and not split.get("invert") and "Regex" in split.get("pattern", {}):
            if not level.get("use_regex", True) and not level.get("add_prefix_space"):
                found = split["pattern"]["Regex"]
                return next((name for name, p in PATTERNS.items() if p == found), found)
    raise ValueError(
        f"{where}: pre_tokenizer must be ByteLevel (GPT-2 regex, add_prefix_space=False) or "
        f"Sequence[Split(Regex, 'Isolated'), ByteLevel(use_regex=False)]; got {json.dumps(pre)[:200]}."
    )


def load_tokenizer_json(path: str | os.PathLike) -> ByteLevelBPE:
    r"""Read a byte-level BPE ``tokenizer.json``: ours, or a Hugging Face file of the same kind.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ByteLevelBPE
        Fitted; ``vocab_size`` is the number of tokens in the file, ``pattern`` a name in
        ``PATTERNS`` when the file's regex is one of them.

    Raises
    ------
    ValueError
        For features this encoder does not implement: a normalizer, a pre-tokenizer other
        than the two layouts :func:`to_tokenizer_json` writes, BPE dropout, byte fallback,
        subword prefixes or suffixes, ``ignore_merges``, non-special added tokens; or for
        tokens outside the byte-level alphabet.

    Notes
    -----
    Loading is strict on purpose: a silently different pipeline would give different ids.
    See question q09-03.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bpe = ByteLevelBPE(vocab_size=260, special_tokens=["<s>"]).fit("hello hello")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     bpe.save(pathlib.Path(d) / "tokenizer.json")
    ...     back = load_tokenizer_json(pathlib.Path(d) / "tokenizer.json")
    >>> back.merges_ == bpe.merges_, back.encode("<s>hello", allowed_special="all")
    (True, [0, 258, 259])
    """
    where = _check_path(path)
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise ValueError(f"{where}: model must be BPE; got {model.get('type')!r}.")
    unsupported = ["dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"]
    used = [k for k in unsupported + ["ignore_merges"] if model.get(k)]
    if used or spec.get("normalizer") is not None:
        raise ValueError(f"{where}: unsupported BPE options {used or ['normalizer']}; only plain byte-level BPE.")
    added = spec.get("added_tokens") or []
    if any(not t.get("special") for t in added):
        raise ValueError(f"{where}: non-special added tokens are not supported.")
    pattern = _pattern_of(spec.get("pre_tokenizer") or {}, where)
    specials = {t["content"]: t["id"] for t in added}
    vocab = {i: _to_bytes(s, where) for s, i in model["vocab"].items() if s not in specials}
    ids = {t: i for i, t in vocab.items()}
    pairs = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    try:
        merges = [(ids[_to_bytes(a, where)], ids[_to_bytes(b, where)]) for a, b in pairs]
        bpe = ByteLevelBPE(vocab_size=len(vocab) + len(specials), pattern=pattern, special_tokens=list(specials))
        bpe._set_state(merges, vocab, specials)
    except KeyError as exc:
        raise ValueError(f"{where}: a merge or a byte token is missing from the vocabulary ({exc}).") from exc
    return bpe
