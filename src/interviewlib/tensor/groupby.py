r"""Group-by sum from scratch: sort-based grouping (``np.unique``) plus a weighted ``np.bincount``."""

from __future__ import annotations

import numpy as np

from interviewlib._validation import as_float_array

__all__ = ["groupby_sum"]


def _check_keys(keys) -> np.ndarray:
    try:
        k = np.asarray(keys)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"keys must be a 1-D array of numbers or strings; got {type(keys).__name__} ({exc}).") from exc
    if k.ndim != 1:
        raise ValueError(f"keys must be 1-D; got shape {k.shape}.")
    if k.dtype == object:  # Python objects: let numpy find their common type (all str, or all numbers)
        k = np.array(k.tolist()) if k.size else k.astype(np.float64)
    if k.dtype.kind in "US" and not np.all(np.asarray(keys, dtype=object) == k.astype(object)):
        raise TypeError(
            "keys must not mix strings with numbers (numpy would turn 1 into '1'); convert them to one type."
        )
    if k.dtype.kind not in "biufcUSmM":
        kinds = sorted({type(x).__name__ for x in k.tolist()})
        raise TypeError(f"keys must be numbers or strings of one kind; got {', '.join(kinds)}.")
    if k.dtype.kind == "f" and np.isinf(k).any():
        raise ValueError(
            f"keys must not contain infinities; got {int(np.isinf(k).sum())} infinite keys (NaN keys are dropped)."
        )
    return k


def groupby_sum(keys, values) -> tuple[np.ndarray, np.ndarray]:
    r"""Sum ``values`` per distinct key, like ``pandas.DataFrame.groupby(key).sum()``.

    Parameters
    ----------
    keys : array_like, shape (n,)
        Group labels: numbers or strings, of one kind (an object array, e.g. a pandas
        string column, is fine). Float ``NaN`` keys are dropped, as pandas does with its
        default ``dropna=True``; infinite keys are refused (pandas would make them groups,
        but an infinite label is almost always a bug upstream, such as a division by 0).
    values : array_like, shape (n,) or (n, k)
        Numbers to sum (one column or ``k`` columns). ``NaN`` values are skipped (they
        count as 0, pandas' default ``skipna``/``min_count=0``).

    Returns
    -------
    unique_keys : numpy.ndarray, shape (g,)
        The distinct keys in sorted order (pandas' default ``sort=True``).
    sums : numpy.ndarray, shape (g,) or (g, k)
        float64 group sums, aligned with ``unique_keys``.

    Raises
    ------
    TypeError
        If ``keys`` is ragged, holds something other than numbers or strings (``None``,
        objects), or mixes strings with numbers (numpy would silently turn ``1`` into
        ``"1"``, merging it with a ``"1"`` key); or ``values`` is not numeric.
    ValueError
        If ``keys`` is not 1-D or contains infinities, ``values`` is not 1-D/2-D, their
        lengths differ, or ``values`` contains infinities.

    Notes
    -----
    ``np.unique(keys, return_inverse=True)`` sorts once (:math:`O(n \log n)`) and maps every
    row to a group code :math:`0..g-1`; ``np.bincount(codes, weights=v, minlength=g)`` then
    adds each value into its slot in one :math:`O(n)` pass. pandas factorises with a hash
    table instead (:math:`O(n)` expected) and keeps integer dtypes; here the sums are
    float64 (exact for integers below :math:`2^{53}`). See the pandas section of chapter 4.

    Examples
    --------
    >>> k, s = groupby_sum(["b", "a", "b", "c"], [1.0, 2.0, 3.0, float("nan")])
    >>> k.tolist(), s.tolist()
    (['a', 'b', 'c'], [2.0, 4.0, 0.0])
    """
    k = _check_keys(keys)
    v = as_float_array(values, "values", ndim=(1, 2), finite=False)
    if np.isinf(v).any():
        raise ValueError("values must not contain infinities.")
    if v.shape[0] != k.shape[0]:
        raise ValueError(f"keys and values must have the same length; got {k.shape[0]} keys and {v.shape[0]} rows.")
    if k.dtype.kind == "f":
        keep = ~np.isnan(k)
        k, v = k[keep], v[keep]
    uniq, codes = np.unique(k, return_inverse=True)
    g = uniq.shape[0]
    clean = np.where(np.isnan(v), 0.0, v)
    if clean.ndim == 1:
        return uniq, np.bincount(codes, weights=clean, minlength=g)
    # one bincount per column (a loop over columns, not over rows)
    sums = np.stack([np.bincount(codes, weights=clean[:, j], minlength=g) for j in range(clean.shape[1])], axis=1)
    return uniq, sums.reshape(g, clean.shape[1])
