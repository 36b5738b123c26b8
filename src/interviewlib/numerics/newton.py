r"""Newton's method: scalar roots (with damping, line search and a trace), exact integer
square roots, vectorised roots over arrays (basins of attraction), optimisation with the
Hessian, and the Newton-Schulz matrix iterations (inverse and polar factor).

The scalar update comes from the first-order Taylor expansion
:math:`f(x + \delta) \approx f(x) + f'(x)\,\delta = 0`, i.e.
:math:`x_{k+1} = x_k - f(x_k) / f'(x_k)`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interviewlib._validation import as_float_array, as_matrix, check_scalar

__all__ = [
    "NewtonResult",
    "isqrt_newton",
    "newton",
    "newton_array",
    "newton_minimize",
    "newton_schulz_inverse",
    "newton_schulz_polar",
]


@dataclass
class NewtonResult:
    """Outcome of an iteration.

    Attributes
    ----------
    x : object
        Last iterate (a number for :func:`newton`, an array for :func:`newton_minimize`).
    converged : bool
        Whether the stopping test was met within ``maxiter`` iterations.
    iterations : int
        Number of Newton steps taken.
    reason : str
        ``"converged"``, ``"maxiter"``, ``"zero derivative"`` or ``"line search failed"``.
    trace : list
        Iterates ``x_0, x_1, ..., x_k`` (for :func:`newton_minimize`: the objective values).
    """

    x: Any
    converged: bool
    iterations: int
    reason: str
    trace: list = field(default_factory=list)


def _check_number(x: Any, name: str) -> None:
    if isinstance(x, bool) or not isinstance(x, numbers.Number):
        raise TypeError(f"{name} must be a number (int, float, complex, Fraction, ...); got {type(x).__name__}.")


def _newton_core(f, fprime, x0, tol, maxiter, multiplicity, damping, line_search):
    x = x0
    trace = [x]
    fx = f(x)
    for k in range(maxiter):
        if fx == 0:
            return NewtonResult(x, True, k, "converged", trace)
        d = fprime(x)
        if d == 0:
            return NewtonResult(x, False, k, "zero derivative", trace)
        step = fx / d if multiplicity == 1 else multiplicity * fx / d
        t = damping
        delta = step if t == 1 else t * step  # keep exact types (Fraction) for the pure step
        x_new = x - delta
        f_new = f(x_new)
        if line_search:
            # backtracking on |f|: halve the step until |f| decreases sufficiently
            while not abs(f_new) <= (1 - 1e-4 * t) * abs(fx):
                t = t / 2
                if t < 1e-10:
                    return NewtonResult(x, False, k, "line search failed", trace)
                delta = t * step
                x_new = x - delta
                f_new = f(x_new)
        x, fx = x_new, f_new
        trace.append(x)
        if abs(delta) <= tol * (1 + abs(x)):
            return NewtonResult(x, True, k + 1, "converged", trace)
    return NewtonResult(x, False, maxiter, "maxiter", trace)


def newton(
    f: Callable[[Any], Any],
    fprime: Callable[[Any], Any],
    x0,
    *,
    tol: float = 1e-12,
    maxiter: int = 50,
    multiplicity: int = 1,
    damping: float = 1.0,
    line_search: bool = False,
) -> NewtonResult:
    r"""Find a root of ``f`` by Newton's method, keeping the whole trace.

    Parameters
    ----------
    f, fprime : callable
        The function and its derivative, scalar to scalar. Only ``+ - * /``, ``abs`` and
        comparisons are applied to the iterates, so ``x0`` may be a ``float``, a
        ``complex`` or an exact ``fractions.Fraction``.
    x0 : number
        Starting point.
    tol : float
        Stop when the step satisfies ``|dx| <= tol * (1 + |x|)``. ``tol=0`` runs until an
        exact root, a zero derivative or ``maxiter``.
    maxiter : int
        Maximum number of steps.
    multiplicity : int
        Known multiplicity ``m`` of the root: the step ``m f/f'`` restores quadratic
        convergence at a multiple root.
    damping : float
        Step length ``0 < t <= 1`` (damped Newton); 1 is the pure method.
    line_search : bool
        Backtrack (halve ``t``) until ``|f|`` decreases by a factor ``1 - 1e-4 t``.

    Returns
    -------
    NewtonResult
        ``x``, ``converged``, ``iterations``, ``reason`` and ``trace`` (all iterates).

    Raises
    ------
    TypeError
        If ``f``/``fprime`` are not callable or ``x0`` is not a number.
    ValueError
        On out-of-range ``tol``, ``maxiter``, ``multiplicity`` or ``damping``.

    Notes
    -----
    Near a simple root the error obeys
    :math:`e_{k+1} \approx \frac{f''(r)}{2 f'(r)} e_k^2` (quadratic convergence: the
    number of correct digits doubles). At a root of multiplicity :math:`m` the
    convergence is only linear with ratio :math:`(m-1)/m`. Failure modes: a zero
    derivative (reported, not raised), cycles (``x**3 - 2x + 2`` from 0 alternates
    0, 1, 0, ...) and divergence (``arctan`` from :math:`|x_0| > 1.3917`). A backtracking
    line search on ``|f|`` cures overshooting such as the ``arctan`` case, but it cannot
    leave a local minimum of ``|f|`` that is not a root (for ``x**3 - 2x + 2`` from 0 it
    stalls near :math:`\sqrt{2/3}` and reports ``"line search failed"``). See question q03-02.

    References
    ----------
    Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006, ch. 3 and 11.

    Examples
    --------
    >>> r = newton(lambda x: x * x - 2, lambda x: 2 * x, 1.0)
    >>> r.converged, round(r.x, 12), r.iterations
    (True, 1.414213562373, 5)
    >>> newton(lambda x: x**3 - 2 * x + 2, lambda x: 3 * x**2 - 2, 0.0, maxiter=4).trace
    [0.0, 1.0, 0.0, 1.0, 0.0]
    """
    if not callable(f) or not callable(fprime):
        raise TypeError("f and fprime must be callable.")
    _check_number(x0, "x0")
    tol = check_scalar(tol, "tol", low=0)
    maxiter = check_scalar(maxiter, "maxiter", kind="int", low=1)
    multiplicity = check_scalar(multiplicity, "multiplicity", kind="int", low=1)
    damping = check_scalar(damping, "damping", low=0, low_inclusive=False, high=1)
    return _newton_core(f, fprime, x0, tol, maxiter, multiplicity, damping, bool(line_search))


def newton_array(f, fprime, z0, *, maxiter: int = 50, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Run Newton's method from every entry of ``z0`` at once (vectorised, real or complex).

    Parameters
    ----------
    f, fprime : callable
        Elementwise numpy functions (``f(z)`` returns an array shaped like ``z``).
    z0 : array_like
        Starting points, any shape; complex starting points give complex iterations.
    maxiter : int
        Number of iterations at most.
    tol : float
        An entry is frozen once its step is at most ``tol``.

    Returns
    -------
    z : numpy.ndarray
        Final iterates, same shape as ``z0`` (NaN where a derivative vanished).
    iterations : numpy.ndarray of int
        Steps each entry took before freezing (``maxiter`` if it never did).

    Raises
    ------
    ValueError
        On an empty or non-finite ``z0`` or bad ``maxiter``/``tol``.

    Notes
    -----
    Used for basins of attraction (which root each start converges to). See question q03-02.

    Examples
    --------
    >>> z, it = newton_array(lambda z: z**3 - 1, lambda z: 3 * z**2, [2.0, 1j, -1 - 1j])
    >>> np.round(z, 6).tolist()
    [(1+0j), (-0.5+0.866025j), (-0.5-0.866025j)]
    """
    for name, fn in (("f", f), ("fprime", fprime)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable (vectorised over arrays); got {type(fn).__name__}.")
    z = np.array(z0, dtype=np.complex128 if np.iscomplexobj(z0) else np.float64)
    if z.size == 0:
        raise ValueError(f"z0 must not be empty; got shape {z.shape}.")
    if not np.all(np.isfinite(z)):
        raise ValueError("z0 must contain only finite values.")
    maxiter = check_scalar(maxiter, "maxiter", kind="int", low=1)
    tol = check_scalar(tol, "tol", low=0)
    iterations = np.full(z.shape, maxiter, dtype=np.int64)
    active = np.ones(z.shape, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for k in range(maxiter):
            step = f(z[active]) / fprime(z[active])
            z[active] = z[active] - step
            done = ~(np.abs(step) > tol)  # NaN steps (zero derivative) also stop
            idx = np.flatnonzero(active)[done.ravel()]
            iterations.flat[idx] = k + 1
            active.flat[idx] = False
            if not active.any():
                break
    return z, iterations


def isqrt_newton(n: int) -> int:
    r"""Exact integer square root :math:`\lfloor\sqrt n\rfloor` by Newton's method on integers.

    Parameters
    ----------
    n : int
        Non-negative integer of any size.

    Returns
    -------
    int
        The largest ``r`` with ``r * r <= n`` (the same as ``math.isqrt``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer (``bool`` is rejected).
    ValueError
        If ``n < 0``.

    Notes
    -----
    Start above the root, :math:`x_0 = 2^{\lceil b/2 \rceil} \ge \sqrt n` (``b`` is the
    bit length), and iterate :math:`x \leftarrow \lfloor (x + \lfloor n/x \rfloor)/2 \rfloor`
    while it decreases. By AM-GM every iterate stays :math:`\ge \lfloor\sqrt n\rfloor`, so
    the first non-decrease is the answer; floats would lose digits beyond 2**53.
    About :math:`\log_2 b` steps after the start. See question q03-02.

    Examples
    --------
    >>> isqrt_newton(10**40 + 1)
    100000000000000000000
    >>> isqrt_newton(15), isqrt_newton(16)
    (3, 4)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer; got {type(n).__name__}.")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}.")
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + 1) // 2)
    while True:
        y = (x + n // x) // 2
        if y >= x:
            return x
        x = y


def newton_minimize(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    hess: Callable[[np.ndarray], np.ndarray],
    x0,
    *,
    tol: float = 1e-10,
    maxiter: int = 100,
    line_search: bool = True,
) -> NewtonResult:
    r"""Minimise a smooth function with Newton's method (solve :math:`H p = -g`).

    Parameters
    ----------
    fun : callable
        Objective, ``(d,) -> float``.
    grad : callable
        Gradient, ``(d,) -> (d,)``.
    hess : callable
        Hessian, ``(d,) -> (d, d)``.
    x0 : array_like, shape (d,)
        Starting point.
    tol : float
        Stop when ``||g||_2 <= tol``.
    maxiter : int
        Maximum number of Newton steps.
    line_search : bool
        Backtracking (Armijo) line search on ``fun``; if the Newton direction is not a
        descent direction (indefinite Hessian) the step falls back to ``-g``.

    Returns
    -------
    NewtonResult
        ``x`` (array), ``converged``, ``iterations``, ``reason``; ``trace`` holds the
        objective values.

    Raises
    ------
    ValueError
        If ``x0`` is not a finite 1-D array, or ``grad``/``hess`` return wrong shapes.

    Notes
    -----
    Newton for optimisation is Newton's root finding applied to :math:`\nabla f = 0`:
    the quadratic model :math:`f(x+p) \approx f + g^\top p + \tfrac12 p^\top H p` is
    minimised by :math:`p = -H^{-1} g`. On a strictly convex quadratic one step lands on
    the minimum. Each step costs a Hessian and an :math:`O(d^3)` solve, which is why deep
    learning uses first-order methods. See question q03-02.

    Examples
    --------
    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, 1.0])
    >>> r = newton_minimize(lambda x: 0.5 * x @ A @ x - b @ x, lambda x: A @ x - b, lambda x: A, [5.0, -3.0])
    >>> r.iterations, bool(np.allclose(r.x, np.linalg.solve(A, b)))
    (1, True)
    """
    for name, fn in (("fun", fun), ("grad", grad), ("hess", hess)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable; got {type(fn).__name__}.")
    x = as_float_array(x0, "x0", ndim=1, allow_empty=False).copy()
    tol = check_scalar(tol, "tol", low=0)
    maxiter = check_scalar(maxiter, "maxiter", kind="int", low=1)
    d = x.size
    fx = float(fun(x))
    trace = [fx]
    for k in range(maxiter):
        g = np.asarray(grad(x), dtype=np.float64)
        if g.shape != (d,):
            raise ValueError(f"grad must return shape ({d},); got {g.shape}.")
        if np.linalg.norm(g) <= tol:
            return NewtonResult(x, True, k, "converged", trace)
        H = np.asarray(hess(x), dtype=np.float64)
        if H.shape != (d, d):
            raise ValueError(f"hess must return shape ({d}, {d}); got {H.shape}.")
        try:
            p = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            p = -g
        if line_search:
            if not g @ p < 0:  # not a descent direction
                p = -g
            t = 1.0
            while float(fun(x + t * p)) > fx + 1e-4 * t * (g @ p):
                t /= 2
                if t < 1e-12:
                    return NewtonResult(x, False, k, "line search failed", trace)
            p = t * p
        x = x + p
        fx = float(fun(x))
        trace.append(fx)
    g = np.asarray(grad(x), dtype=np.float64)
    ok = bool(np.linalg.norm(g) <= tol)
    return NewtonResult(x, ok, maxiter, "converged" if ok else "maxiter", trace)


def newton_schulz_inverse(A, *, maxiter: int = 100, tol: float = 1e-12) -> tuple[np.ndarray, list[float]]:
    r"""Matrix inverse by the Newton-Schulz iteration :math:`X \leftarrow X(2I - AX)`.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Non-singular square matrix.
    maxiter : int
        Maximum number of iterations.
    tol : float
        Stop when the residual :math:`\lVert I - AX\rVert_F \le` ``tol``.

    Returns
    -------
    X : numpy.ndarray, shape (n, n)
        Approximate :math:`A^{-1}`.
    residuals : list of float
        :math:`\lVert I - A X_k \rVert_F` for ``k = 0, 1, ...``.

    Raises
    ------
    ValueError
        If ``A`` is not square, is empty or has non-finite entries, or the iteration
        does not reach ``tol`` (singular or badly conditioned ``A``).

    Notes
    -----
    This is Newton's method for :math:`f(X) = X^{-1} - A = 0`. With
    :math:`R_k = I - AX_k` one gets :math:`R_{k+1} = R_k^2`: quadratic convergence as
    soon as :math:`\rho(R_0) < 1`, which the start
    :math:`X_0 = A^\top / (\lVert A\rVert_1 \lVert A\rVert_\infty)` guarantees for any
    non-singular ``A``. Only matrix products: attractive on GPUs. See question q03-02.

    References
    ----------
    Pan & Schreiber (1991), An improved Newton iteration for the generalized inverse of a
    matrix, SIAM J. Sci. Stat. Comput. 12(5).

    Examples
    --------
    >>> X, res = newton_schulz_inverse([[4.0, 1.0], [2.0, 3.0]])
    >>> bool(np.allclose(X, np.linalg.inv([[4.0, 1.0], [2.0, 3.0]]))), res[-1] < 1e-12
    (True, True)
    """
    M = as_matrix(A, "A", square=True, allow_empty=False)
    maxiter = check_scalar(maxiter, "maxiter", kind="int", low=1)
    tol = check_scalar(tol, "tol", low=0, low_inclusive=False)
    n = M.shape[0]
    eye = np.eye(n)
    scale = np.linalg.norm(M, 1) * np.linalg.norm(M, np.inf)
    if scale == 0:
        raise ValueError("A must be non-singular; got the zero matrix.")
    X = M.T / scale
    residuals = [float(np.linalg.norm(eye - M @ X))]
    for _ in range(maxiter):
        X = X @ (2 * eye - M @ X)
        residuals.append(float(np.linalg.norm(eye - M @ X)))
        if residuals[-1] <= tol:
            return X, residuals
        if not np.isfinite(residuals[-1]):
            break
    raise ValueError(
        f"Newton-Schulz did not reach tol={tol} in {maxiter} iterations (last residual {residuals[-1]:.3g}); "
        "A is singular or badly conditioned: use numpy.linalg.inv or raise maxiter."
    )


def newton_schulz_polar(A, *, steps: int = 30, coefficients: tuple[float, ...] = (1.5, -0.5)) -> np.ndarray:
    r"""Orthogonal polar factor of ``A`` (:math:`UV^\top` from the SVD) by Newton-Schulz.

    Parameters
    ----------
    A : array_like, shape (m, n)
        Any real matrix (full rank for an exact orthogonal factor).
    steps : int
        Number of iterations (fixed: no convergence test, as in GPU optimizers).
    coefficients : tuple of float
        Coefficients :math:`(a, b)` or :math:`(a, b, c)` of the odd polynomial
        :math:`X \leftarrow aX + b\,XX^\top X + c\,(XX^\top)^2X`. The default
        ``(1.5, -0.5)`` is the classical cubic iteration, which converges to
        :math:`UV^\top`; Muon's quintic ``(3.4445, -4.7750, 2.0315)`` only pushes the
        singular values into a band around 1 (roughly 0.5 to 1.5, per the Muon source) in
        very few steps.

    Returns
    -------
    numpy.ndarray, shape (m, n)
        The iterate after ``steps`` steps.

    Raises
    ------
    ValueError
        If ``A`` is not a finite 2-D matrix, is zero or empty, or the coefficients are not
        a tuple of two or three real numbers.

    Notes
    -----
    Start from :math:`X_0 = A / \lVert A\rVert_F`, so all singular values lie in (0, 1].
    The iteration acts on each singular value separately,
    :math:`\sigma \leftarrow p(\sigma)`, leaving :math:`U` and :math:`V` unchanged; the
    cubic :math:`p(\sigma) = \tfrac32\sigma - \tfrac12\sigma^3` has the fixed point 1
    with :math:`p'(1) = 0` (quadratic convergence) and converges for
    :math:`0 < \sigma < \sqrt3`. Small singular values need :math:`\approx\log_{1.5}(1/\sigma)`
    steps to grow, hence the tuned quintic in Muon. See question q03-02 and chapter 6.

    References
    ----------
    Higham, *Functions of Matrices*, SIAM 2008, ch. 8. Jordan et al. (2024), Muon.

    Examples
    --------
    >>> from scipy.linalg import polar
    >>> A = np.array([[2.0, 1.0], [0.5, 3.0], [1.0, 0.0]])
    >>> bool(np.allclose(newton_schulz_polar(A), polar(A)[0]))
    True
    """
    M = as_matrix(A, "A", allow_empty=False)
    steps = check_scalar(steps, "steps", kind="int", low=0)
    if not isinstance(coefficients, (tuple, list)) or len(coefficients) not in (2, 3):
        raise ValueError(f"coefficients must be a tuple (a, b) or (a, b, c); got {coefficients!r}.")
    coef = [check_scalar(c, "coefficients[i]") for c in coefficients] + [0.0]
    a, b, c = coef[0], coef[1], coef[2]
    norm = np.linalg.norm(M)
    if norm == 0:
        raise ValueError("A must be non-zero; the polar factor of the zero matrix is not unique.")
    transpose = M.shape[0] > M.shape[1]
    X = (M.T if transpose else M) / norm  # work with the wide orientation: X X^T is the small Gram matrix
    for _ in range(steps):
        G = X @ X.T
        X = a * X + (b * G + c * (G @ G)) @ X
    return X.T if transpose else X
