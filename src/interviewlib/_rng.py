"""Turn the ``rng`` argument accepted across the library into a ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np


def as_generator(rng: np.random.Generator | int | None, *, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        A generator is returned unchanged (so the caller's stream advances); an integer
        seeds a new generator; ``None`` draws fresh OS entropy.
    name : str
        Argument name used in the error message.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``rng`` is none of the accepted types (``bool`` is rejected on purpose).

    Examples
    --------
    >>> g = as_generator(0)
    >>> g2 = as_generator(g)
    >>> g2 is g
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"{name} must be a non-negative integer seed; got {rng}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator, a non-negative int seed or None; "
        f"got {type(rng).__name__}."
    )
