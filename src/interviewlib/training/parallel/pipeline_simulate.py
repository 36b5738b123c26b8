r"""Discrete-event simulation of a pipeline schedule: timeline, bubble fraction, peak activations.

Each rank executes its ordered actions one at a time; an action starts when the rank is free
and its inputs exist: F of stage ``s`` needs F of ``s-1``; B or I of ``s`` needs F of ``s``
and the input gradient (B or I) of ``s+1``; W needs I of the same stage and micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...nn._torch_checks import check_positive
from ...transformer._checks import check_int
from .pipeline_schedule import PipelineSchedule, _check_sizes


@dataclass(frozen=True)
class PipelineTimeline:
    """The result of :func:`simulate_pipeline`; ``start[r][i]``, ``end[r][i]`` belong to ``schedule.order[r][i]``."""

    schedule: PipelineSchedule
    start: tuple[tuple[float, ...], ...]
    end: tuple[tuple[float, ...], ...]
    makespan: float
    busy: tuple[float, ...]
    peak_activations: tuple[float, ...]

    @property
    def bubble_fraction(self) -> float:
        """Idle share of all ranks' time, ``1 - sum(busy) / (p * makespan)``."""
        return 1.0 - sum(self.busy) / (len(self.busy) * self.makespan)

    @property
    def bubble_ratio(self) -> float:
        """Idle time over busy time (the ``(p-1)/m`` form for GPipe and 1F1B)."""
        total = sum(self.busy)
        return (len(self.busy) * self.makespan - total) / total


def _check_complete(sched: PipelineSchedule) -> None:
    p, m, n_stages = sched.n_ranks, sched.n_microbatches, sched.n_stages
    seen: dict[tuple[str, int, int], int] = {}
    for r, acts in enumerate(sched.order):
        for a in acts:
            if a.kind not in "FBIW" or not (0 <= a.stage < n_stages and 0 <= a.microbatch < m):
                raise ValueError(f"schedule {sched.name!r}: rank {r} has an invalid action {a!r}.")
            if a.stage % p != r:
                raise ValueError(f"schedule {sched.name!r}: stage {a.stage} belongs to rank {a.stage % p}, not {r}.")
            seen[(a.kind, a.stage, a.microbatch)] = seen.get((a.kind, a.stage, a.microbatch), 0) + 1
    for s in range(n_stages):
        for j in range(m):
            f, b, i, w = (seen.get((k, s, j), 0) for k in "FBIW")
            if f != 1 or not ((b, i, w) == (1, 0, 0) or (b, i, w) == (0, 1, 1)):
                raise ValueError(
                    f"schedule {sched.name!r}: stage {s}, micro-batch {j} needs one F and one B (or one I and one W); "
                    f"got F={f}, B={b}, I={i}, W={w}."
                )


def simulate_pipeline(
    schedule: PipelineSchedule, *, t_f: float = 1.0, t_b: float = 2.0, t_w: float = 1.0, t_comm: float = 0.0
) -> PipelineTimeline:
    r"""Run a schedule on an idealised machine and measure its bubble and activation memory.

    Parameters
    ----------
    schedule : PipelineSchedule
        From :func:`~interviewlib.training.parallel.gpipe_schedule` and friends.
    t_f, t_b : float
        Time of a forward and of a full backward of one micro-batch through one rank's layers
        (a virtual stage costs ``1/n_chunks`` of it).
    t_w : float
        The weight-gradient part of ``t_b`` (W); the input-gradient part I costs ``t_b - t_w``.
    t_comm : float
        Latency added to every dependency that crosses ranks (0: ideal interconnect).

    Returns
    -------
    PipelineTimeline
        Per-action start/end, makespan, busy time and peak in-flight activations per rank, in
        micro-batches of one rank's layers (a forward adds ``1/n_chunks``; B or W frees it).

    Raises
    ------
    TypeError
        If ``schedule`` is not a ``PipelineSchedule`` or a time is not a number.
    ValueError
        If a time is not positive (``t_comm`` may be 0), ``t_w >= t_b``, the schedule misses or
        repeats an action, puts a stage on the wrong rank, or deadlocks.

    Notes
    -----
    Bubble fraction ``1 - sum busy / (p makespan)``; GPipe and 1F1B give exactly
    ``(p-1)/(m+p-1)`` for any ``t_f, t_b``. See question q08-19.

    Examples
    --------
    >>> from interviewlib.training.parallel import one_f_one_b_schedule
    >>> tl = simulate_pipeline(one_f_one_b_schedule(4, 8))
    >>> tl.makespan, round(tl.bubble_fraction, 4), tl.peak_activations
    (33.0, 0.2727, (4.0, 3.0, 2.0, 1.0))
    """
    if not isinstance(schedule, PipelineSchedule):
        raise TypeError(f"schedule must be a PipelineSchedule; got {type(schedule).__name__}.")
    t_f, t_b, t_w = check_positive(t_f, "t_f"), check_positive(t_b, "t_b"), check_positive(t_w, "t_w")
    t_comm = check_positive(t_comm, "t_comm", allow_zero=True)
    if t_w >= t_b:
        raise ValueError(f"t_w (the weight part of the backward) must be < t_b; got t_w={t_w}, t_b={t_b}.")
    _check_complete(schedule)
    return _simulate(schedule, t_f, t_b, t_w, t_comm)


def _simulate(sched: PipelineSchedule, t_f: float, t_b: float, t_w: float, t_comm: float) -> PipelineTimeline:
    p, v, m, n_stages = sched.n_ranks, sched.n_chunks, sched.n_microbatches, sched.n_stages
    cost = {"F": t_f / v, "B": t_b / v, "I": (t_b - t_w) / v, "W": t_w / v}
    # done[c][s * m + j]: end time of F (c=0), input grad B/I (c=1), W (c=2) of stage s, micro-batch j
    done = [[-1.0] * (n_stages * m) for _ in range(3)]
    slot = {"F": 0, "B": 1, "I": 1, "W": 2}
    order = sched.order
    start = [[0.0] * len(acts) for acts in order]
    end = [[0.0] * len(acts) for acts in order]
    ptr, free = [0] * p, [0.0] * p
    remaining = sum(len(acts) for acts in order)
    while remaining:
        progressed = False
        for r in range(p):
            acts, i, ready_r = order[r], ptr[r], free[r]
            while i < len(acts):
                kind, s, j = acts[i]
                if kind == "F":  # needs the previous stage's forward
                    deps = ((0, s - 1),) if s else ()
                elif kind == "W":  # needs this stage's input gradient
                    deps = ((1, s),)
                else:  # needs this stage's forward and the next stage's input gradient
                    deps = ((0, s), (1, s + 1)) if s + 1 < n_stages else ((0, s),)
                t0 = ready_r
                for c, ds in deps:
                    t = done[c][ds * m + j]
                    if t < 0:
                        break
                    t0 = max(t0, t + (t_comm if ds % p != r else 0.0))
                else:
                    ready_r = t0 + cost[kind]
                    start[r][i], end[r][i] = t0, ready_r
                    done[slot[kind]][s * m + j] = ready_r
                    i += 1
                    continue
                break
            if i > ptr[r]:
                remaining -= i - ptr[r]
                ptr[r], free[r], progressed = i, ready_r, True
        if not progressed:
            stuck = {r: str(order[r][ptr[r]]) for r in range(p) if ptr[r] < len(order[r])}
            raise ValueError(f"schedule {sched.name!r} deadlocks: ranks wait forever at {stuck}.")
    peaks = []
    for acts in order:
        held = peak = 0
        for a in acts:
            held += a.kind == "F"
            held -= a.kind in "BW"
            peak = max(peak, held)
        peaks.append(peak / v)
    busy = tuple(sum(cost[a.kind] for a in acts) for acts in order)
    makespan = max(max(e) if e else 0.0 for e in end)
    return PipelineTimeline(
        sched, tuple(map(tuple, start)), tuple(map(tuple, end)), makespan, busy, tuple(float(x) for x in peaks)
    )


def closed_form_bubble(
    name: str,
    n_ranks: int,
    n_microbatches: int,
    *,
    n_chunks: int = 1,
    t_f: float = 1.0,
    t_b: float = 2.0,
    t_w: float = 1.0,
) -> float:
    r"""The textbook bubble fraction (idle / total time) of ``"GPipe"``, ``"1F1B"``, ``"interleaved"`` or ``"ZB-H1"``.

    Idle time per rank: ``(p-1)(t_f+t_b)`` for GPipe and 1F1B, ``(p-1)(t_f+t_b)/v`` interleaved,
    ``(p-1)(t_f + t_i - t_w)`` for ZB-H1 with ``t_i = t_b - t_w`` (Qi et al. 2023; it needs
    ``t_w <= min(t_f, t_i)``); busy time ``m (t_f + t_b)``. The fraction is idle / (idle + busy),
    e.g. ``(p-1)/(m+p-1)``; interleaving assumes ``m`` is a multiple of ``p``.

    Raises
    ------
    TypeError
        If ``name`` is not a str or a size or time has the wrong type.
    ValueError
        If ``name`` is not one of the four, a size or time is invalid, or ZB-H1 is asked with
        ``t_w > min(t_f, t_b - t_w)``.

    Notes
    -----
    See question q08-19.

    Examples
    --------
    >>> closed_form_bubble("1F1B", 4, 8)
    0.2727272727272727
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}.")
    p, m = _check_sizes(n_ranks, n_microbatches, need_full=False, name=name)
    v = check_int(n_chunks, "n_chunks", low=1)
    t_f, t_b, t_w = check_positive(t_f, "t_f"), check_positive(t_b, "t_b"), check_positive(t_w, "t_w")
    idle = {
        "GPipe": (p - 1) * (t_f + t_b),
        "1F1B": (p - 1) * (t_f + t_b),
        "interleaved": (p - 1) * (t_f + t_b) / v,
        "ZB-H1": (p - 1) * (t_f + (t_b - t_w) - t_w),
    }
    if name not in idle:
        raise ValueError(f"name must be one of {sorted(idle)}; got {name!r}.")
    if name == "ZB-H1" and t_w > min(t_f, t_b - t_w):
        raise ValueError(
            f"the ZB-H1 formula assumes W is no longer than F and I (t_w <= t_f and t_w <= t_b - t_w); "
            f"got t_f={t_f}, t_b={t_b}, t_w={t_w}. Simulate the schedule instead."
        )
    return idle[name] / (idle[name] + m * (t_f + t_b))
