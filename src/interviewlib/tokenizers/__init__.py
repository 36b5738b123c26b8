"""Tokenizers (chapter 9): byte-level BPE trained from scratch."""

# -- imports end

__all__: list[str] = []
# -- all end
