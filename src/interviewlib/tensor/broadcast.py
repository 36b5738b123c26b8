"""Broadcasting of shapes, as ``torch.broadcast_shapes`` / ``numpy.broadcast_shapes`` do it."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

__all__ = ["broadcast_shapes", "matmul_shape"]


def _check_shape(shape, name: str, *, what: str = "sizes") -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise TypeError(f"{name} must be a sequence of ints; got {type(shape).__name__} {shape!r}.")
    try:
        tup = tuple(shape)
    except TypeError as exc:  # e.g. a 0-d numpy array
        raise TypeError(f"{name} must be a sequence of ints; got {type(shape).__name__} {shape!r}.") from exc
    for s in tup:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{name} must contain integers; got {type(s).__name__} {s!r} in {shape!r}.")
        if s < 0:
            raise ValueError(f"{name} must not contain negative {what}; got {tup}.")
    return tuple(int(s) for s in tup)


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    """The shape that all ``shapes`` broadcast to.

    Parameters
    ----------
    *shapes : int or sequence of int
        Each an int (a 1-D shape) or a sequence of non-negative ints.

    Returns
    -------
    tuple of int
        Align shapes on the right; in each position all sizes must be equal or 1, and the
        result takes the size that is not 1 (so 1 broadcasts to 0, but 0 and 3 clash).
        No arguments give ``()``.

    Raises
    ------
    TypeError
        If an entry is not an integer.
    ValueError
        If a size is negative, or two sizes differ and neither is 1 (torch raises
        ``RuntimeError`` for the latter).

    Notes
    -----
    See question q04-06.

    Examples
    --------
    >>> broadcast_shapes((8, 1, 6, 1), (7, 1, 5), 5)
    (8, 7, 6, 5)
    >>> broadcast_shapes((2, 3), (3, 2))
    Traceback (most recent call last):
    ...
    ValueError: shapes cannot be broadcast: size 2 of argument 1 does not match size 3 at dimension -1 (shapes ((2, 3), (3, 2))).
    """
    norm = []
    for shape in shapes:
        one_d = isinstance(shape, numbers.Integral) and not isinstance(shape, bool)
        norm.append(_check_shape((shape,) if one_d else shape, "shapes"))
    ndim = max((len(s) for s in norm), default=0)
    result = [1] * ndim
    for k, shape in enumerate(norm):
        for j in range(1, len(shape) + 1):
            s, r = shape[-j], result[-j]
            if s == r or s == 1:
                continue
            if r == 1:
                result[-j] = s
            else:
                raise ValueError(
                    f"shapes cannot be broadcast: size {s} of argument {k} does not match size {r} "
                    f"at dimension {-j} (shapes {tuple(norm)})."
                )
    return tuple(result)


def matmul_shape(a_shape, b_shape) -> tuple[int, ...]:
    """Result shape of ``a @ b`` (``torch.matmul`` / ``numpy.matmul``) for the given operand shapes.

    Parameters
    ----------
    a_shape, b_shape : sequence of int
        Shapes of the operands, each at least 1-D.

    Returns
    -------
    tuple of int
        * 1-D @ 1-D: ``()`` (dot product);
        * 2-D @ 2-D: ``(n, m)``;
        * 1-D ``a``: a 1 is prepended to ``a`` and removed from the result;
        * 1-D ``b``: a 1 is appended to ``b`` and removed from the result;
        * otherwise the last two dims multiply as matrices and the leading (batch) dims
          broadcast with :func:`broadcast_shapes`.

    Raises
    ------
    TypeError
        If a shape is not a sequence of integers (``2.5``, ``nan`` and strings are refused,
        never truncated).
    ValueError
        If an operand is 0-D, a size is negative, the inner dimensions differ, or the batch
        dims do not broadcast.

    Notes
    -----
    See question q04-06.

    Examples
    --------
    >>> matmul_shape((3,), (3,)), matmul_shape((3,), (2, 3, 4)), matmul_shape((5, 1, 2, 3), (4, 3, 7))
    ((), (2, 4), (5, 4, 2, 7))
    """
    a = _check_shape(a_shape, "a_shape")
    b = _check_shape(b_shape, "b_shape")
    if not a or not b:
        raise ValueError(f"both operands of matmul must be at least 1-D; got shapes {a} and {b}.")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(
            f"matmul inner dimensions must agree; got shapes {a} and {b} ({a2[-1]} != {b2[-2]})."
        )
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(b) == 1:
        out = out[:-1]
    if len(a) == 1:
        out = out[:-2] + out[-1:] if len(b) > 1 else out[:-1]
    return out
