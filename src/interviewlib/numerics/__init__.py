"""Numerical building blocks for chapters 2-3: cosine similarity and Newton's method."""

from interviewlib.numerics.cosine import cosine_similarity, pairwise_cosine_similarity
from interviewlib.numerics.newton import (
    NewtonResult,
    isqrt_newton,
    newton,
    newton_array,
    newton_minimize,
    newton_schulz_inverse,
    newton_schulz_polar,
)

__all__ = [
    "NewtonResult",
    "cosine_similarity",
    "isqrt_newton",
    "newton",
    "newton_array",
    "newton_minimize",
    "newton_schulz_inverse",
    "newton_schulz_polar",
    "pairwise_cosine_similarity",
]
