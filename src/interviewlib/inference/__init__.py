"""LLM inference (chapter 9): paged KV cache, scheduler, serving engine, online-softmax attention, cost models.

Builds on :mod:`interviewlib.transformer` (the decoder, its KV cache and ``generate``).
"""

# -- imports end

__all__: list[str] = []
# -- all end
