"""Tokenizers (chapter 9): byte-level BPE trained from scratch."""

from .bpe import ByteLevelBPE
from .pretokenize import PATTERNS, bytes_to_unicode, pretokenize
from .tokenizer_json import load_tokenizer_json, save_tokenizer_json, to_tokenizer_json

__all__ = [
    "ByteLevelBPE",
    "PATTERNS",
    "bytes_to_unicode",
    "load_tokenizer_json",
    "pretokenize",
    "save_tokenizer_json",
    "to_tokenizer_json",
]
