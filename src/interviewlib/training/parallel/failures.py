r"""Failures, checkpoints and goodput of a long synchronous training job.

Model (Young 1974, Daly 2006): failures arrive as a Poisson process with mean time between
failures :math:`M` (for :math:`N` GPUs failing independently, :math:`M = M_{gpu}/N`). The job
computes for :math:`\tau`, then writes a checkpoint for :math:`\delta`; a failure at any moment
(computing, checkpointing or restarting) loses everything since the last completed checkpoint
and costs a restart :math:`R` before the work is redone. One segment takes, in expectation,

.. math:: E[T_{seg}] = M e^{R/M}\left(e^{(\tau+\delta)/M} - 1\right),

so the steady-state goodput (useful compute / wall time) is :math:`\tau / E[T_{seg}]`. See
question q08-15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..._validation import as_float_array, check_option, check_scalar

__all__ = [
    "LLAMA3_405B_INTERRUPTIONS",
    "cluster_mtbf",
    "expected_segment_time",
    "expected_goodput",
    "young_daly_interval",
    "JobSimulation",
    "simulate_job",
    "simulate_timeline",
]

# Dubey et al. 2024 (arXiv:2407.21783), Table 5: unexpected interruptions in a 54-day snapshot
# of Llama 3 405B pre-training on up to 16K H100s: (component, category, count, printed %).
LLAMA3_405B_INTERRUPTIONS: tuple[tuple[str, str, int, float], ...] = (
    ("Faulty GPU", "GPU", 148, 30.1), ("GPU HBM3 Memory", "GPU", 72, 17.2),
    ("Software Bug", "Dependency", 54, 12.9), ("Network Switch/Cable", "Network", 35, 8.4),
    ("Host Maintenance", "Unplanned Maintenance", 32, 7.6), ("GPU SRAM Memory", "GPU", 19, 4.5),
    ("GPU System Processor", "GPU", 17, 4.1), ("NIC", "Host", 7, 1.7),
    ("NCCL Watchdog Timeouts", "Unknown", 7, 1.7), ("Silent Data Corruption", "GPU", 6, 1.4),
    ("GPU Thermal Interface + Sensor", "GPU", 6, 1.4), ("SSD", "Host", 3, 0.7),
    ("Power Supply", "Host", 3, 0.7), ("Server Chassis", "Host", 2, 0.5),
    ("IO Expansion Board", "Host", 2, 0.5), ("Dependency", "Dependency", 2, 0.5),
    ("CPU", "Host", 2, 0.5), ("System Memory", "Host", 2, 0.5),
)  # fmt: skip


def _pos(v, name, zero=False):
    return float(check_scalar(v, name, low=0, low_inclusive=zero))


def cluster_mtbf(gpu_mtbf: float, n_gpus: int) -> float:
    """Mean time between failures of a job on ``n_gpus`` independent GPUs: rates add, so :math:`M_{gpu}/N`.

    Examples
    --------
    >>> cluster_mtbf(50_000.0, 1000)  # hours
    50.0
    """
    return _pos(gpu_mtbf, "gpu_mtbf") / check_scalar(n_gpus, "n_gpus", kind="int", low=1)


def _costs(checkpoint_cost, restart_cost, mtbf):
    return _pos(checkpoint_cost, "checkpoint_cost", True), _pos(restart_cost, "restart_cost", True), _pos(mtbf, "mtbf")


def _segment(tau, delta, r, m):
    return m * math.exp(r / m) * np.expm1((tau + delta) / m)


def expected_segment_time(interval, *, checkpoint_cost: float, restart_cost: float, mtbf: float) -> np.ndarray:
    r"""Expected wall time to complete one segment: :math:`\tau` of compute plus its checkpoint.

    Renewal argument: an attempt needs :math:`L = \tau + \delta` failure-free time (the first
    one) or :math:`R + L` (after a failure); with :math:`X \sim \mathrm{Exp}(1/M)`,
    :math:`E[T] = E[\min(X, L)] + P(X < L)\,(e^{(R+L)/M} - 1) M = M e^{R/M}(e^{L/M} - 1)`.

    Examples
    --------
    >>> float(expected_segment_time(1.0, checkpoint_cost=0.0, restart_cost=0.0, mtbf=1e9))  # no failures
    1.0000000005
    """
    tau = as_float_array(interval, "interval")
    if np.any(tau <= 0):
        raise ValueError("interval must be > 0 everywhere.")
    return _segment(tau, *_costs(checkpoint_cost, restart_cost, mtbf))


def expected_goodput(interval, *, checkpoint_cost: float, restart_cost: float, mtbf: float,
                     work: float | None = None) -> np.ndarray:  # fmt: skip
    r"""Useful compute over expected wall time, :math:`W / E[T_{wall}]`.

    With ``work=None`` the steady state :math:`\tau / E[T_{seg}]`; otherwise a job of ``work``
    compute hours in :math:`\lfloor W/\tau\rfloor` full segments and one shorter last one,
    the quantity :func:`simulate_job` estimates. See question q08-15.

    Examples
    --------
    >>> g = expected_goodput([0.5, 2.0, 8.0], checkpoint_cost=0.05, restart_cost=0.2, mtbf=50.0)
    >>> g.round(4).tolist()
    [0.9005, 0.9519, 0.9123]
    """
    tau = as_float_array(interval, "interval")
    if np.any(tau <= 0):
        raise ValueError("interval must be > 0 everywhere.")
    d, r, m = _costs(checkpoint_cost, restart_cost, mtbf)
    if work is None:
        return tau / _segment(tau, d, r, m)
    w = _pos(work, "work")
    n_full = np.floor(w / tau + 1e-9)
    rem = np.clip(w - n_full * tau, 0.0, None)
    last = np.where(rem > 1e-12 * w, m * math.exp(r / m) * np.expm1((rem + d) / m), 0.0)
    return w / (n_full * _segment(tau, d, r, m) + last)


def young_daly_interval(checkpoint_cost: float, mtbf: float, *, method: str = "daly") -> float:
    r"""Checkpoint interval :math:`\tau` (compute time between checkpoints) that maximises goodput.

    ``"young"``: :math:`\sqrt{2\delta M}` (Young 1974, first order). ``"daly"``: Daly's (2006)
    perturbation result :math:`\sqrt{2\delta M}\,[1 + \tfrac13\sqrt{\delta/2M} + \tfrac19\,\delta/2M]
    - \delta` for :math:`\delta < 2M`, else :math:`M`. ``"exact"``: the root of
    :math:`e^{(\tau+\delta)/M}(\tau/M - 1) + 1 = 0`, the stationary point of
    :func:`expected_goodput` (Newton from :math:`\tau = M`; the function is convex and
    increasing there). None depends on the restart cost :math:`R`.

    Examples
    --------
    >>> [round(young_daly_interval(5.0, 24 * 60.0, method=k), 1) for k in ("young", "daly", "exact")]  # minutes
    [120.0, 116.7, 116.7]
    """
    d, m = _pos(checkpoint_cost, "checkpoint_cost"), _pos(mtbf, "mtbf")
    method = check_option(method, "method", ("young", "daly", "exact"))
    if method == "young":
        return math.sqrt(2 * d * m)
    if method == "daly":
        if d >= 2 * m:
            return m
        z = d / (2 * m)
        return math.sqrt(2 * d * m) * (1 + math.sqrt(z) / 3 + z / 9) - d
    c, x = d / m, 1.0
    for _ in range(100):  # g(x) = e^{x+c}(x-1) + 1 is convex and increasing on (0, 1]: Newton from the right
        step = (math.exp(x + c) * (x - 1) + 1) / (math.exp(x + c) * x)
        x -= step
        if abs(step) < 1e-15:
            break
    return x * m


@dataclass(frozen=True)
class JobSimulation:
    """Per-run results of :func:`simulate_job`: wall times and failure counts for ``work`` of compute."""

    work: float
    wall_time: np.ndarray
    n_failures: np.ndarray

    @property
    def goodput(self) -> float:
        """Total useful compute over total wall time (the ratio estimator of :math:`W/E[T]`)."""
        return float(self.work / self.wall_time.mean())

    @property
    def goodput_stderr(self) -> float:
        """Standard error of :attr:`goodput` by the delta method."""
        n = self.wall_time.size
        return (
            float(self.goodput * self.wall_time.std(ddof=1) / (self.wall_time.mean() * math.sqrt(n)))
            if n > 1
            else math.nan
        )


def _truncated_exp_sum(rng, counts, limit, m):
    """Per-run sums of counts[i] draws of X ~ Exp(mean m) conditioned on X < limit (inverse CDF)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(counts.size)
    u = rng.random(total)
    x = -m * np.log1p(-u * -np.expm1(-limit / m))  # F^{-1}(u F(limit))
    return np.bincount(np.repeat(np.arange(counts.size), counts), weights=x, minlength=counts.size)


def _segments(rng, n_seg, compute, d, r, m, n_runs):
    """Wall time and failures of n_seg segments of `compute` each, for every run (renewal sampling)."""
    L = compute + d
    p1, p2 = -math.expm1(-L / m), -math.expm1(-(r + L) / m)
    first = rng.binomial(n_seg, p1, size=n_runs)  # segments whose first attempt fails
    again = np.zeros(n_runs, dtype=np.int64)
    pos = first > 0
    again[pos] = rng.negative_binomial(first[pos], 1 - p2)  # failed retries before each one succeeds
    lost = _truncated_exp_sum(rng, first, L, m) + _truncated_exp_sum(rng, again, r + L, m)
    return n_seg * L + first * r + lost, first + again


def simulate_job(work: float, interval: float, *, checkpoint_cost: float, restart_cost: float, mtbf: float,
                 n_runs: int = 1000, rng: np.random.Generator | int | None = None) -> JobSimulation:  # fmt: skip
    r"""Monte-Carlo of ``n_runs`` independent jobs of ``work`` compute time, vectorised over runs.

    Each segment's first attempt fails with :math:`p_1 = 1 - e^{-L/M}`, each retry (restart
    + segment) with :math:`p_2 = 1 - e^{-(R+L)/M}`; the number of failed first attempts per
    run is binomial, the retries negative binomial, and every failure loses an exponential
    time truncated to the attempt. Exact for Poisson failures (memorylessness); the
    loop-based :func:`simulate_timeline` checks it in the tests. See question q08-15.

    Examples
    --------
    >>> sim = simulate_job(100.0, 2.0, checkpoint_cost=0.05, restart_cost=0.2, mtbf=50.0, n_runs=20000, rng=0)
    >>> exact = expected_goodput(2.0, checkpoint_cost=0.05, restart_cost=0.2, mtbf=50.0, work=100.0)
    >>> bool(abs(sim.goodput - exact) < 4 * sim.goodput_stderr)
    True
    """
    w, tau = _pos(work, "work"), _pos(interval, "interval")
    d, r, m = _costs(checkpoint_cost, restart_cost, mtbf)
    n = check_scalar(n_runs, "n_runs", kind="int", low=1)
    rng = np.random.default_rng(rng)
    n_full = int(math.floor(w / tau + 1e-9))
    rem = max(w - n_full * tau, 0.0)
    wall, fails = _segments(rng, n_full, tau, d, r, m, n)
    if rem > 1e-12 * w:
        w2, f2 = _segments(rng, 1, rem, d, r, m, n)
        wall, fails = wall + w2, fails + f2
    return JobSimulation(w, wall, fails)


def simulate_timeline(work: float, interval: float, *, checkpoint_cost: float, restart_cost: float, mtbf: float,
                      rng: np.random.Generator | int | None = None) -> list[tuple[str, float, float]]:  # fmt: skip
    """Discrete-event simulation of one job on a wall clock with Poisson failures.

    Returns the events ``(kind, start, end)`` in order, kinds ``"compute"``, ``"checkpoint"``,
    ``"lost"`` (compute or checkpoint cut by a failure), ``"restart"`` and ``"failure"``
    (``start == end``). The job ends when ``work`` of compute is checkpointed; the last
    event's end is its wall time. See question q08-15.

    Examples
    --------
    >>> ev = simulate_timeline(3.0, 1.0, checkpoint_cost=0.1, restart_cost=0.2, mtbf=1e9, rng=0)
    >>> [k for k, _, _ in ev], round(ev[-1][2], 6)
    (['compute', 'checkpoint', 'compute', 'checkpoint', 'compute', 'checkpoint'], 3.3)
    """
    w, tau = _pos(work, "work"), _pos(interval, "interval")
    d, r, m = _costs(checkpoint_cost, restart_cost, mtbf)
    rng = np.random.default_rng(rng)
    t, done, events = 0.0, 0.0, []
    next_fail = rng.exponential(m)
    restarting = False
    while done < w - 1e-12 * w:
        if restarting:
            if next_fail < t + r:  # failure during the restart: restart again
                events += [("restart", t, next_fail), ("failure", next_fail, next_fail)]
                t, next_fail = next_fail, next_fail + rng.exponential(m)
                continue
            events.append(("restart", t, t + r))
            t, restarting = t + r, False
        c = min(tau, w - done)
        if next_fail < t + c + d:  # the segment (or its checkpoint) is cut: all of it is lost
            events += [("lost", t, next_fail), ("failure", next_fail, next_fail)]
            t, next_fail, restarting = next_fail, next_fail + rng.exponential(m), True
            continue
        events += [("compute", t, t + c), ("checkpoint", t + c, t + c + d)]
        t, done = t + c + d, done + c
    return events
