r"""Pre-tokenisation for byte-level BPE: the regex split and GPT-2's byte-to-character map.

Before BPE sees any text, a regex cuts it into pieces ("pre-tokens"): runs of letters with
an optional leading space, runs of digits, runs of punctuation, runs of whitespace. BPE
merges never cross a piece boundary, so a token can be ``" the"`` but never ``"the."``:
the regex decides what a token may contain, the merges only decide which of those
strings become tokens.

The patterns are the published ones: GPT-2's from ``encoder.py`` in ``openai/gpt-2``
(also built into Hugging Face's ``ByteLevel`` pre-tokenizer), and ``cl100k_base`` (GPT-4)
and ``o200k_base`` (GPT-4o) from ``tiktoken_ext/openai_public.py`` in ``openai/tiktoken``.
They need Unicode property classes such as ``\p{L}`` (any letter), which Python's ``re``
does not support, so this module uses the third-party ``regex`` module.
"""

from __future__ import annotations

import functools

import regex

__all__ = ["PATTERNS", "pretokenize", "bytes_to_unicode"]

PATTERNS: dict[str, str] = {
    # openai/gpt-2 src/encoder.py (2019); contractions are case-sensitive, digits unbounded
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    # openai/tiktoken cl100k_base: case-insensitive contractions, digits in groups of <= 3,
    # one non-letter (not a newline) may lead a word, newlines kept with the whitespace run
    "cl100k": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    # meta-llama/llama3 llama/tokenizer.py: cl100k without possessive quantifiers or `\s++$`
    # (the form Hugging Face's TikTokenConverter writes into tokenizer.json files)
    "llama3": (
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
    ),
    # openai/tiktoken o200k_base: case-aware words (CamelCase splits), contractions glued on
    "o200k": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}


@functools.lru_cache(maxsize=16)
def _compile(pattern: str) -> regex.Pattern:
    try:
        return regex.compile(PATTERNS.get(pattern, pattern))
    except regex.error as exc:
        raise ValueError(
            f"pattern must be one of {tuple(PATTERNS)} or a valid regex; got {pattern!r} ({exc})."
        ) from exc


def check_pattern(pattern: object) -> str:
    """Check that ``pattern`` is a name in ``PATTERNS`` or a regex that compiles."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str (a name in PATTERNS or a regex); got {type(pattern).__name__}.")
    if not pattern:
        raise ValueError(f"pattern must be one of {tuple(PATTERNS)} or a non-empty regex; got ''.")
    _compile(pattern)
    return pattern


def _split(text: str, compiled: regex.Pattern) -> list[str]:
    # Hugging Face's Split(behavior="isolated"): matches are pieces, and so is any unmatched
    # gap between them, so that "".join(pieces) == text whatever the pattern.
    pieces, end = [], 0
    for m in compiled.finditer(text):
        if m.start() > end:
            pieces.append(text[end : m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        end = max(end, m.end())
    if end < len(text):
        pieces.append(text[end:])
    return pieces


def pretokenize(text: str, pattern: str = "gpt2") -> list[str]:
    r"""Split ``text`` into the pieces that BPE merges within.

    Parameters
    ----------
    text : str
        Any Unicode text.
    pattern : str
        A name in ``PATTERNS`` (``"gpt2"``, ``"cl100k"``, ``"o200k"``) or a regex for
        the ``regex`` module.

    Returns
    -------
    list of str
        Non-empty pieces in order; ``"".join(pieces) == text``. Text the regex does not
        match is kept as its own piece (Hugging Face's ``"isolated"`` split behaviour).

    Raises
    ------
    TypeError
        If ``text`` or ``pattern`` is not a str.
    ValueError
        If ``pattern`` is neither a known name nor a regex that compiles.

    Notes
    -----
    The GPT-2 pattern keeps a run of CJK characters together (they are all ``\p{L}``), so a
    Chinese clause up to the next punctuation mark is one piece; ``cl100k`` and ``o200k``
    cut digit runs into groups of at most three. See question q09-03.

    Examples
    --------
    >>> pretokenize("It's 2025, hello  world!")
    ['It', "'s", ' 2025', ',', ' hello', ' ', ' world', '!']
    >>> pretokenize("It's 2025", "cl100k")
    ['It', "'s", ' ', '202', '5']
    >>> pretokenize("分词器很重要。Yes")
    ['分词器很重要', '。', 'Yes']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}.")
    return _split(text, _compile(check_pattern(pattern)))


@functools.lru_cache(maxsize=1)
def _byte_map() -> tuple[str, ...]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:  # whitespace, control bytes, NBSP and soft hyphen move to U+0100 and up
            table[b] = chr(256 + shift)
            shift += 1
    return tuple(table[b] for b in range(256))


def bytes_to_unicode() -> dict[int, str]:
    r"""GPT-2's reversible map from the 256 byte values to printable characters.

    Returns
    -------
    dict of int to str
        ``b -> chr(b)`` for the 188 printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``,
        ``®``..``ÿ``); the other 68 (controls, space, DEL, NBSP, soft hyphen) go, in
        increasing byte order, to ``U+0100, U+0101, ...``. So the space byte 0x20 is
        ``"Ġ"`` (U+0120) and the newline 0x0A is ``"Ċ"`` (U+010A).

    Notes
    -----
    Vocabulary files (``vocab.json``, ``merges.txt``, ``tokenizer.json``) store tokens as
    JSON strings; this map writes any byte string as a printable string without
    whitespace, so merges can be written as ``"a b"`` lines. Sorting the 256 characters
    by code point gives GPT-2's ``encoder.json`` order of the byte tokens, which is also
    the order Hugging Face's trainer numbers them in. See question q09-03.

    Examples
    --------
    >>> m = bytes_to_unicode()
    >>> m[ord("a")], m[ord(" ")], m[ord("\n")], len(set(m.values()))
    ('a', 'Ġ', 'Ċ', 256)
    """
    return dict(enumerate(_byte_map()))
