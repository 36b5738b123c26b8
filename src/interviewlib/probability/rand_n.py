r"""Uniform random integers in :math:`[0, m)` from a uniform source on :math:`[0, n)`.

Question q02-01 asks for ``random(7)`` built from ``random(3)`` only. Convention used
throughout: a *source* is a zero-argument callable returning an ``int`` in
``{0, ..., n-1}`` with equal probabilities (``random(3)`` returns 0, 1 or 2, like
Python's ``random.randrange(3)``). Every method returns integers in ``{0, ..., m-1}``;
add 1 for the 1-based variant of the puzzle.

Three exact methods, from simplest to most frugal:

* ``rejection_sample``: draw :math:`k = \lceil \log_n m \rceil` digits, read them as an
  integer uniform on :math:`[0, n^k)`, accept it when it is below the largest multiple of
  :math:`m` (for 3 -> 7: 9 values, accept 7, reject 2; expected calls :math:`18/7`).
* ``recycling_sample``: a rejected value is still uniform on the rejected range; keep it
  and append new digits instead of starting again.
* ``StreamSampler``: keeps the leftover randomness *after accepted outputs* as well, so
  its calls per output approach the entropy bound :math:`\log m / \log n`.

All three are exactly uniform (not approximately): every step keeps an integer that is
uniform on a known range ``[0, size)``, and only exact integer arithmetic is used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from interviewlib._rng import as_generator
from interviewlib._validation import check_option, check_scalar

METHODS = ("rejection", "recycling", "stream")
DEFAULT_MIN_RANGE = 2**64


class CountingSource:
    """Wrap a source so that every call is counted and its value checked.

    Parameters
    ----------
    source : callable
        Zero-argument callable returning an integer in ``[0, n)``.
    n : int
        Size of the source's alphabet, ``n >= 2``.

    Attributes
    ----------
    calls : int
        Number of calls made so far (reset it by assigning 0).

    Raises
    ------
    TypeError
        If ``source`` is not callable.
    ValueError
        If ``n < 2``; when called, if the source returns anything other than an integer
        in ``[0, n)``.

    Notes
    -----
    See question q02-01.

    Examples
    --------
    >>> src = CountingSource(uniform_source(3, rng=0), 3)
    >>> _ = [src() for _ in range(5)]
    >>> src.calls
    5
    """

    def __init__(self, source: Callable[[], int], n: int) -> None:
        if not callable(source):
            raise TypeError(f"source must be a zero-argument callable; got {type(source).__name__}.")
        self.n = check_scalar(n, "n", kind="int", low=2)
        self.source = source
        self.calls = 0

    def __call__(self) -> int:
        value = self.source()
        self.calls += 1
        return _check_value(value, self.n, self.calls)


def _check_value(value: object, n: int, call: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
        raise ValueError(
            f"source must return integers in [0, {n}) (0-based, like random.randrange({n})); "
            f"got {value!r} on call {call}. Subtract 1 if your source is 1-based."
        )
    return int(value)


def _checked(source: Callable[[], int], n: int, m: int) -> Callable[[], int]:
    """Validate the arguments shared by all samplers and return a range-checking source."""
    if not callable(source):
        raise TypeError(f"source must be a zero-argument callable; got {type(source).__name__}.")
    check_scalar(n, "n", kind="int", low=2)
    check_scalar(m, "m", kind="int", low=2)
    if isinstance(source, CountingSource):
        if source.n != n:
            raise ValueError(f"source was wrapped for n={source.n} but n={n} was passed.")
        return source
    counter = [0]

    def checked() -> int:
        counter[0] += 1
        return _check_value(source(), n, counter[0])

    return checked


def uniform_source(n: int, rng: np.random.Generator | int | None = None) -> Callable[[], int]:
    """Return a fair source on ``[0, n)`` backed by a numpy generator.

    Values are drawn in blocks of 4096 for speed, then handed out one per call.

    Parameters
    ----------
    n : int
        Alphabet size, ``n >= 2``.
    rng : numpy.random.Generator, int or None
        Randomness.

    Returns
    -------
    callable
        Zero-argument callable returning a Python ``int`` in ``[0, n)``.

    Notes
    -----
    See question q02-01.

    Examples
    --------
    >>> rand3 = uniform_source(3, rng=0)
    >>> sorted({rand3() for _ in range(100)})
    [0, 1, 2]
    """
    n = check_scalar(n, "n", kind="int", low=2)
    gen = as_generator(rng)
    buffer: list[int] = []

    def draw() -> int:
        if not buffer:
            buffer.extend(gen.integers(0, n, size=4096).tolist())
        return buffer.pop()

    return draw


def _digits_needed(n: int, m: int) -> tuple[int, int]:
    """Smallest ``k`` with ``n**k >= m``, and ``n**k``."""
    k, size = 1, n
    while size < m:
        k, size = k + 1, size * n
    return k, size


def rejection_sample(source: Callable[[], int], n: int, m: int) -> int:
    r"""Draw one integer uniform on ``[0, m)`` by plain rejection.

    Parameters
    ----------
    source : callable
        Fair source returning integers in ``[0, n)``.
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.

    Returns
    -------
    int
        A value in ``[0, m)``.

    Raises
    ------
    ValueError
        If ``n < 2`` or ``m < 2``, or the source returns a value outside ``[0, n)``.

    Notes
    -----
    With :math:`k = \lceil \log_n m \rceil` digits :math:`d_1 \dots d_k` the value
    :math:`v = \sum_i d_i n^{k-i}` is uniform on :math:`[0, n^k)`. Keep it when
    :math:`v < L = m \lfloor n^k / m \rfloor` and return :math:`v \bmod m` (each residue
    has exactly :math:`L/m` preimages); otherwise start again. The number of rounds is
    geometric, so the expected number of calls is :math:`k n^k / L` (:math:`18/7` for
    3 -> 7). See question q02-01.

    Examples
    --------
    >>> rand3 = uniform_source(3, rng=1)
    >>> 0 <= rejection_sample(rand3, 3, 7) < 7
    True
    """
    src = _checked(source, n, m)
    return _rejection_core(src, n, m)


def _rejection_core(src: Callable[[], int], n: int, m: int) -> int:
    k, size = _digits_needed(n, m)
    limit = size - size % m
    while True:
        value = 0
        for _ in range(k):
            value = value * n + src()
        if value < limit:
            return value % m


def recycling_sample(source: Callable[[], int], n: int, m: int) -> int:
    r"""Draw one integer uniform on ``[0, m)``, recycling the randomness of rejections.

    Parameters
    ----------
    source : callable
        Fair source returning integers in ``[0, n)``.
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.

    Returns
    -------
    int
        A value in ``[0, m)``.

    Raises
    ------
    ValueError
        If ``n < 2`` or ``m < 2``, or the source returns a value outside ``[0, n)``.

    Notes
    -----
    Invariant: ``value`` is uniform on ``[0, size)``. One call maps it to
    ``value * n + d``, uniform on ``[0, size * n)``. Once ``size >= m``, let
    ``L = size - size % m``; if ``value < L`` return ``value % m``, otherwise
    ``value - L`` is still uniform on ``[0, size % m)``, so it is kept instead of being
    thrown away. For 3 -> 7 a rejection leaves 2 equally likely values, i.e. one
    already-paid-for ``random(2)``. See question q02-01.

    Examples
    --------
    >>> rand3 = uniform_source(3, rng=2)
    >>> 0 <= recycling_sample(rand3, 3, 7) < 7
    True
    """
    src = _checked(source, n, m)
    return _recycling_core(src, n, m)


def _recycling_core(src: Callable[[], int], n: int, m: int) -> int:
    value, size = 0, 1
    while True:
        value, size = value * n + src(), size * n
        if size < m:
            continue
        limit = size - size % m
        if value < limit:
            return value % m
        value, size = value - limit, size - limit


class StreamSampler:
    r"""Stream of i.i.d. uniform integers on ``[0, m)`` that keeps all leftover randomness.

    Parameters
    ----------
    source : callable
        Fair source returning integers in ``[0, n)``.
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.
    min_range : int, default 2**64
        Digits are appended until the uniform state covers at least this many values
        before an output is extracted. Larger means fewer (rarer) rejections and calls
        per output closer to :math:`\log m / \log n`; any value ``>= m`` is exact.

    Raises
    ------
    ValueError
        If ``n < 2``, ``m < 2`` or ``min_range < m``; when called, if the source returns
        a value outside ``[0, n)``.

    Notes
    -----
    The state is an integer ``value`` uniform on ``[0, size)`` (an interval of width
    ``1/size`` in arithmetic-coding terms), independent of every output so far. Refill:
    ``value = value * n + d``. Extract: with ``L = size - size % m``, if ``value < L``
    then ``(value % m, value // m)`` is uniform on ``[0, m) x [0, L/m)``, so the output
    ``value % m`` is uniform and independent of the new state ``value // m``, which is
    kept; otherwise keep ``value - L`` on ``[0, size % m)``. Each output is therefore
    uniform given the whole past: the outputs are i.i.d. uniform, exactly. A rejection
    happens with probability below ``m / min_range``, so the information wasted per
    output vanishes and calls per output tend to :math:`\log m / \log n` (1.771 for
    3 -> 7), the entropy bound. See question q02-01.

    Examples
    --------
    >>> rand3 = CountingSource(uniform_source(3, rng=0), 3)
    >>> rand7 = StreamSampler(rand3, 3, 7)
    >>> out = rand7.sample(7000)
    >>> bool(out.min() >= 0 and out.max() <= 6)
    True
    >>> round(rand3.calls / 7000, 2)
    1.78
    """

    def __init__(self, source: Callable[[], int], n: int, m: int, *, min_range: int = DEFAULT_MIN_RANGE) -> None:
        self._src = _checked(source, n, m)
        self.n, self.m = int(n), int(m)
        self.min_range = check_scalar(min_range, "min_range", kind="int", low=m)
        self._value, self._size = 0, 1

    def __call__(self) -> int:
        n, m, src = self.n, self.m, self._src
        value, size = self._value, self._size
        while True:
            while size < self.min_range:
                value, size = value * n + src(), size * n
            limit = size - size % m
            if value < limit:
                out = value % m
                self._value, self._size = value // m, limit // m
                return out
            value, size = value - limit, size - limit

    def sample(self, size: int) -> np.ndarray:
        """Return the next ``size`` outputs as an int64 array of shape ``(size,)``."""
        size = check_scalar(size, "size", kind="int", low=0)
        return np.fromiter((self() for _ in range(size)), dtype=np.int64, count=size)


def sample_uniform(
    source: Callable[[], int],
    n: int,
    m: int,
    size: int,
    *,
    method: str = "stream",
    min_range: int = DEFAULT_MIN_RANGE,
) -> np.ndarray:
    """Draw ``size`` uniform integers on ``[0, m)`` with one of the three methods.

    Parameters
    ----------
    source : callable
        Fair source returning integers in ``[0, n)``; wrap it in ``CountingSource`` to
        count calls.
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.
    size : int
        Number of outputs, ``>= 0``.
    method : {"rejection", "recycling", "stream"}
        See the module docstring.
    min_range : int
        Only for ``"stream"``; see ``StreamSampler``.

    Returns
    -------
    numpy.ndarray of shape (size,)
        int64 values in ``[0, m)``.

    Raises
    ------
    ValueError
        On bad sizes, an unknown method, or a source value outside ``[0, n)``.

    Notes
    -----
    See question q02-01.

    Examples
    --------
    >>> rand3 = CountingSource(uniform_source(3, rng=0), 3)
    >>> x = sample_uniform(rand3, 3, 7, 7000, method="rejection")
    >>> round(rand3.calls / 7000, 1)  # 18/7 = 2.571...
    2.6
    """
    check_option(method, "method", METHODS)
    size = check_scalar(size, "size", kind="int", low=0)
    if method == "stream":
        return StreamSampler(source, n, m, min_range=min_range).sample(size)
    src = _checked(source, n, m)
    core = _rejection_core if method == "rejection" else _recycling_core
    return np.fromiter((core(src, n, m) for _ in range(size)), dtype=np.int64, count=size)


def entropy_bound(n: int, m: int) -> float:
    r"""Information-theoretic lower bound :math:`\log m / \log n` on calls per output.

    Each call yields :math:`\log_2 n` bits of entropy and each output needs
    :math:`\log_2 m` bits, so no exact method averages fewer calls per output in the
    long run (Knuth and Yao, 1976).

    Parameters
    ----------
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.

    Returns
    -------
    float

    Notes
    -----
    See question q02-01.

    Examples
    --------
    >>> round(entropy_bound(3, 7), 4)
    1.7712
    """
    n = check_scalar(n, "n", kind="int", low=2)
    m = check_scalar(m, "m", kind="int", low=2)
    return math.log(m) / math.log(n)


def expected_calls(n: int, m: int, *, method: str) -> Fraction:
    r"""Exact expected number of source calls for one output of a per-output method.

    Parameters
    ----------
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.
    method : {"rejection", "recycling"}
        The stream method has no finite closed form; measure it instead.

    Returns
    -------
    fractions.Fraction

    Notes
    -----
    Rejection: :math:`k n^k / L`. Recycling: the state ``size`` before each call moves
    deterministically (``size -> size*n``, after a rejection ``-> size*n % m``) and the
    run stops with a known probability at each step, so the states form a path that
    eventually cycles; summing survival probabilities along the path (with a geometric
    series over the cycle) gives the exact mean. See question q02-01.

    Examples
    --------
    >>> expected_calls(3, 7, method="rejection")
    Fraction(18, 7)
    >>> float(expected_calls(3, 7, method="recycling")) < 18 / 7
    True
    """
    n = check_scalar(n, "n", kind="int", low=2)
    m = check_scalar(m, "m", kind="int", low=2)
    check_option(method, "method", ("rejection", "recycling"))
    if method == "rejection":
        k, size = _digits_needed(n, m)
        return Fraction(k * size, size - size % m)
    # Walk the deterministic path of states; S = probability that the step is taken.
    seen: dict[int, tuple[int, Fraction]] = {}
    survival: list[Fraction] = []
    state, alive = 1, Fraction(1)
    while state not in seen:
        seen[state] = (len(survival), alive)
        survival.append(alive)
        grown = state * n
        if grown < m:
            state = grown
            continue
        rest = grown % m
        if rest == 0:
            return sum(survival, Fraction(0))
        alive *= Fraction(rest, grown)
        state = rest
    start, alive_at_start = seen[state]
    ratio = alive / alive_at_start  # survival factor per cycle
    before = sum(survival[:start], Fraction(0))
    cycle = sum(survival[start:], Fraction(0))
    return before + cycle / (1 - ratio)


class _Exhausted(Exception):
    """Raised by a replayed source when the algorithm asks for more digits."""


def exact_distribution(
    n: int,
    m: int,
    *,
    method: str,
    depth: int,
    n_outputs: int = 1,
    min_range: int | None = None,
) -> tuple[dict[tuple[int, ...], Fraction], Fraction]:
    """Exact probabilities of the first outputs over all source sequences up to a depth.

    Parameters
    ----------
    n, m : int
        Source and target alphabet sizes, both ``>= 2``.
    method : {"rejection", "recycling", "stream"}
        The sampler to analyse.
    depth : int
        Maximum number of source calls explored, ``1 <= depth <= 16``.
    n_outputs : int
        Length of the output prefix whose joint law is computed (``>= 1``).
    min_range : int, optional
        For ``"stream"``; defaults to ``m`` so that small depths already give outputs.

    Returns
    -------
    probs : dict
        Maps each tuple of ``n_outputs`` outputs to the exact probability that the
        sampler produces it within ``depth`` calls.
    unfinished : fractions.Fraction
        Probability that ``depth`` calls were not enough (the tail). Each output
        tuple's true probability lies in ``[probs[t], probs[t] + unfinished]``.

    Raises
    ------
    ValueError
        On bad sizes or an unknown method.

    Notes
    -----
    Depth-first search over the tree of source outcomes: a prefix of digits is
    replayed through the sampler; if the sampler asks for one more digit the prefix is
    extended by each of the ``n`` digits, else the outputs it produced get probability
    ``n**-len(prefix)``. If all tuples get equal probability at every depth and the tail
    tends to 0, the limit law is exactly uniform. See question q02-01.

    Examples
    --------
    >>> probs, tail = exact_distribution(3, 7, method="rejection", depth=4)
    >>> sorted(set(probs.values())), tail
    ([Fraction(11, 81)], Fraction(4, 81))
    """
    check_option(method, "method", METHODS)
    n = check_scalar(n, "n", kind="int", low=2)
    m = check_scalar(m, "m", kind="int", low=2)
    depth = check_scalar(depth, "depth", kind="int", low=1, high=16)
    n_outputs = check_scalar(n_outputs, "n_outputs", kind="int", low=1)
    min_range = m if min_range is None else check_scalar(min_range, "min_range", kind="int", low=m)

    def replay(prefix: tuple[int, ...]) -> tuple[int, ...]:
        it = iter(prefix)

        def src() -> int:
            try:
                return next(it)
            except StopIteration:
                raise _Exhausted from None

        if method == "stream":
            sampler = StreamSampler(src, n, m, min_range=min_range)
            return tuple(sampler() for _ in range(n_outputs))
        core = _rejection_core if method == "rejection" else _recycling_core
        return tuple(core(src, n, m) for _ in range(n_outputs))

    probs: dict[tuple[int, ...], Fraction] = {}
    unfinished = Fraction(0)
    stack: list[tuple[int, ...]] = [()]
    while stack:
        prefix = stack.pop()
        try:
            outs = replay(prefix)
        except _Exhausted:
            if len(prefix) == depth:
                unfinished += Fraction(1, n**depth)
            else:
                stack.extend(prefix + (d,) for d in range(n))
            continue
        probs[outs] = probs.get(outs, Fraction(0)) + Fraction(1, n ** len(prefix))
    return probs, unfinished
