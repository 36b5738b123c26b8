"""Shared argument checks with the house error message.

Every message names the argument, says what was expected and what arrived, e.g.
``ValueError: A must be square; got shape (3, 4).`` Public functions call these, then
hand validated input to a private core that assumes it is valid.

Arrays come back as float64 numpy arrays. They may share memory with the caller's
input, so library cores must never write into them in place (copy first).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of dtype {x.dtype} and shape {x.shape}"
    return type(x).__name__


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = True,
    finite: bool = True,
) -> np.ndarray:
    """Convert ``x`` to a float64 array and check its dimensionality and values.

    Parameters
    ----------
    x : array_like
        Real numeric input (bool and integer arrays are promoted to float64).
    name : str
        Argument name used in messages.
    ndim : int or tuple of int, optional
        Accepted numbers of dimensions.
    allow_empty : bool
        Whether an array with zero elements is accepted.
    finite : bool
        Reject NaN and infinity.

    Returns
    -------
    numpy.ndarray
        float64 array (a view of ``x`` when no conversion was needed).

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    ValueError
        On the wrong number of dimensions, an empty array when not allowed, or
        non-finite values.

    Examples
    --------
    >>> as_float_array([[1, 2], [3, 4]], "A", ndim=2).dtype
    dtype('float64')
    >>> as_float_array([1.0, float("nan")], "x")
    Traceback (most recent call last):
    ...
    ValueError: x must contain only finite values; got 1 NaN or infinite entries.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of real numbers; got {_describe(x)} ({exc}).") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must contain real numbers; got {_describe(arr)}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real; got complex dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got {arr.ndim}-D array of shape {arr.shape}.")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}.")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must contain only finite values; got {bad} NaN or infinite entries.")
    return arr


def as_matrix(
    A: Any, name: str = "A", *, square: bool = False, allow_empty: bool = True, finite: bool = True
) -> np.ndarray:
    """Return ``A`` as a 2-D float64 array, optionally requiring it to be square.

    Examples
    --------
    >>> as_matrix([[1, 2, 3]], "A", square=True)
    Traceback (most recent call last):
    ...
    ValueError: A must be square; got shape (1, 3).
    """
    arr = as_float_array(A, name, ndim=2, allow_empty=allow_empty, finite=finite)
    if square and arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}.")
    return arr


def check_scalar(
    value: Any,
    name: str,
    *,
    kind: str = "real",
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float | int:
    """Check a scalar hyperparameter and return it as ``int`` or ``float``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Argument name used in messages.
    kind : {"real", "int"}
        ``"int"`` accepts only integers (not bool, not 2.0).
    low, high : float, optional
        Bounds; ``None`` means unbounded.
    low_inclusive, high_inclusive : bool
        Whether the bounds themselves are allowed.

    Raises
    ------
    TypeError
        If ``value`` is not a number of the requested kind.
    ValueError
        If it is out of range or not finite.

    Examples
    --------
    >>> check_scalar(3, "k", kind="int", low=1)
    3
    >>> check_scalar(0.0, "eps", low=0, low_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: eps must be > 0; got 0.0.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a{'n integer' if kind == 'int' else ' real number'}; got {type(value).__name__}.")
    if kind == "int":
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}.")
        value = int(value)
    else:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}; got {value}.")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}; got {value}.")
    return value


def check_option(value: Any, name: str, options: tuple[str, ...] | list[str]) -> str:
    """Check that ``value`` is one of the allowed strings.

    Examples
    --------
    >>> check_option("qr", "method", ("qr", "svd"))
    'qr'
    """
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}; got {value!r}.")
    return value


def check_is_fitted(estimator: Any, attributes: str | tuple[str, ...]) -> None:
    """Raise if ``estimator`` lacks the learned attributes that ``fit`` sets.

    Raises
    ------
    ValueError
        ``"KMeans is not fitted yet; call fit(X) before predict."``
    """
    attrs = (attributes,) if isinstance(attributes, str) else attributes
    if not all(hasattr(estimator, a) for a in attrs):
        raise ValueError(f"{type(estimator).__name__} is not fitted yet; call fit(X) first.")
