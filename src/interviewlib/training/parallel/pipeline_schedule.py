r"""Pipeline-parallel schedules as per-rank ordered action lists: GPipe, 1F1B, interleaved 1F1B, ZB-H1.

An action is ``(kind, stage, microbatch)`` with ``kind`` one of ``"F"`` (forward), ``"B"``
(full backward), ``"I"`` (backward for the input only) and ``"W"`` (backward for the weights),
the letters of ``torch.distributed.pipelining``. Stage ``s`` lives on rank ``s % n_ranks``
(one stage per rank, or ``n_chunks`` virtual stages per rank placed round-robin). A schedule
fixes only the *order* on each rank; :func:`~interviewlib.training.parallel.simulate_pipeline`
turns an order into a timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ...transformer._checks import check_int


class Action(NamedTuple):
    """One unit of work: ``kind`` in ``"FBIW"`` for micro-batch ``microbatch`` on ``stage``."""

    kind: str
    stage: int
    microbatch: int

    def __str__(self) -> str:  # torch's spelling, e.g. "2F0"
        return f"{self.stage}{self.kind}{self.microbatch}"


@dataclass(frozen=True)
class PipelineSchedule:
    """A named schedule: ``order[r]`` is the ordered tuple of actions rank ``r`` executes."""

    name: str
    n_ranks: int
    n_microbatches: int
    n_chunks: int
    order: tuple[tuple[Action, ...], ...]

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {type(self.name).__name__}.")
        for field in ("n_ranks", "n_microbatches", "n_chunks"):
            check_int(getattr(self, field), field, low=1)
        if not isinstance(self.order, tuple) or len(self.order) != self.n_ranks:
            raise ValueError(
                f"order must be a tuple with one tuple of actions per rank ({self.n_ranks}); got {self.order!r:.80}."
            )
        for r, acts in enumerate(self.order):
            if not isinstance(acts, tuple) or not all(isinstance(a, Action) for a in acts):
                raise TypeError(f"order[{r}] must be a tuple of Action; got {acts!r:.80}.")

    @property
    def n_stages(self) -> int:
        return self.n_ranks * self.n_chunks


def _check_sizes(n_ranks, n_microbatches, *, need_full: bool, name: str) -> tuple[int, int]:
    p = check_int(n_ranks, "n_ranks", low=1)
    m = check_int(n_microbatches, "n_microbatches", low=1)
    if need_full and m < p:
        raise ValueError(
            f"{name} needs n_microbatches >= n_ranks so that every rank reaches the steady state; "
            f"got n_microbatches={m} < n_ranks={p}. Use more micro-batches or gpipe_schedule."
        )
    return p, m


def gpipe_schedule(n_ranks: int, n_microbatches: int) -> PipelineSchedule:
    r"""GPipe: every rank runs all forwards, then all backwards (fill, drain).

    Parameters
    ----------
    n_ranks : int
        Pipeline ranks ``p`` (one stage each), at least 1.
    n_microbatches : int
        Micro-batches ``m`` per step, at least 1.

    Returns
    -------
    PipelineSchedule

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Notes
    -----
    Holds all ``m`` micro-batches' activations at the peak. See question q08-19.

    Examples
    --------
    >>> [str(a) for a in gpipe_schedule(2, 2).order[1]]
    ['1F0', '1F1', '1B0', '1B1']
    """
    p, m = _check_sizes(n_ranks, n_microbatches, need_full=False, name="GPipe")
    order = tuple(
        tuple(Action("F", r, j) for j in range(m)) + tuple(Action("B", r, j) for j in range(m)) for r in range(p)
    )
    return PipelineSchedule("GPipe", p, m, 1, order)


def _one_f_one_b_rank(r: int, p: int, m: int, split_backward: bool) -> tuple[Action, ...]:
    warmup = p - 1 - r
    acts = [Action("F", r, j) for j in range(warmup)]
    backward = "I" if split_backward else "B"
    w_delay = r  # ZB-H1: rank r postpones its first W by r backwards, so each rank holds p micro-batches
    n_w = 0
    for k in range(m):  # k-th backward; in the steady state it follows the forward of micro-batch warmup + k
        if warmup + k < m:
            acts.append(Action("F", r, warmup + k))
        acts.append(Action(backward, r, k))
        if split_backward and k >= w_delay:
            acts.append(Action("W", r, n_w))
            n_w += 1
    if split_backward:
        acts.extend(Action("W", r, j) for j in range(n_w, m))
    return tuple(acts)


def one_f_one_b_schedule(n_ranks: int, n_microbatches: int) -> PipelineSchedule:
    r"""1F1B (PipeDream-Flush): ``p-1-r`` warm-up forwards on rank ``r``, then alternate F and B.

    Parameters
    ----------
    n_ranks : int
        Pipeline ranks ``p``, at least 1.
    n_microbatches : int
        Micro-batches ``m``, at least ``n_ranks`` (as in ``torch``'s ``Schedule1F1B``).

    Returns
    -------
    PipelineSchedule

    Raises
    ------
    ValueError
        If ``n_microbatches < n_ranks`` or a size is not positive.

    Notes
    -----
    Same bubble as GPipe, but rank ``r`` holds at most ``p - r`` micro-batches. See question q08-19.

    Examples
    --------
    >>> [str(a) for a in one_f_one_b_schedule(2, 3).order[0]]
    ['0F0', '0F1', '0B0', '0F2', '0B1', '0B2']
    """
    p, m = _check_sizes(n_ranks, n_microbatches, need_full=True, name="1F1B")
    return PipelineSchedule("1F1B", p, m, 1, tuple(_one_f_one_b_rank(r, p, m, False) for r in range(p)))


def zb_h1_schedule(n_ranks: int, n_microbatches: int) -> PipelineSchedule:
    r"""ZB-H1 (Qi et al. 2023): 1F1B with the backward split into I (input grad) and W (weight grad).

    Rank ``r`` runs ``p-1-r`` warm-up forwards, then ``F, I`` pairs; it starts emitting W passes
    after its first ``r`` backwards and drains the remaining W passes at the end, where they fill
    the idle time of the cool-down.

    Parameters
    ----------
    n_ranks : int
        Pipeline ranks ``p``, at least 1.
    n_microbatches : int
        Micro-batches ``m``, at least ``n_ranks``.

    Returns
    -------
    PipelineSchedule

    Raises
    ------
    ValueError
        If ``n_microbatches < n_ranks`` or a size is not positive.

    Notes
    -----
    With equal F, I, W times the bubble is a third of 1F1B's and every rank holds ``p``
    micro-batches (activations count until W). The order equals ``torch``'s
    ``ScheduleInterleavedZeroBubble`` with one stage per rank. See question q08-19.

    Examples
    --------
    >>> [str(a) for a in zb_h1_schedule(2, 2).order[1]]
    ['1F0', '1I0', '1F1', '1I1', '1W0', '1W1']
    """
    p, m = _check_sizes(n_ranks, n_microbatches, need_full=True, name="ZB-H1")
    return PipelineSchedule("ZB-H1", p, m, 1, tuple(_one_f_one_b_rank(r, p, m, True) for r in range(p)))


def interleaved_1f1b_schedule(n_ranks: int, n_microbatches: int, n_chunks: int) -> PipelineSchedule:
    r"""Interleaved 1F1B (Megatron-LM, Narayanan et al. 2021) with ``v = n_chunks`` stages per rank.

    Rank ``r`` holds stages ``r, r + p, ..., r + (v-1)p``. Micro-batches go through in groups of
    ``p``: the ``k``-th forward of a rank is micro-batch ``(k // (p v)) p + k % p`` on its chunk
    ``(k // p) % v``; backwards walk the chunks in reverse. Warm-up: ``(v-1)p + 2(p-1-r)`` forwards.

    Parameters
    ----------
    n_ranks : int
        Pipeline ranks ``p``, at least 1.
    n_microbatches : int
        Micro-batches ``m``, a positive multiple of ``n_ranks`` (Megatron-LM's requirement).
    n_chunks : int
        Virtual stages per rank ``v``, at least 2 (``v = 1`` is :func:`one_f_one_b_schedule`).

    Returns
    -------
    PipelineSchedule

    Raises
    ------
    ValueError
        If ``n_microbatches`` is not a multiple of ``n_ranks`` or ``n_chunks < 2``.

    Notes
    -----
    Each action costs ``1/v`` of a rank's work for one micro-batch, so the warm-up and
    cool-down shrink ``v``-fold; ``v`` times more point-to-point messages. See question q08-19.

    Examples
    --------
    >>> [str(a) for a in interleaved_1f1b_schedule(2, 2, 2).order[1]][:4]
    ['1F0', '1F1', '3F0', '3B0']
    """
    p, m = _check_sizes(n_ranks, n_microbatches, need_full=False, name="interleaved 1F1B")
    v = check_int(n_chunks, "n_chunks", low=2)
    if m % p:
        raise ValueError(
            f"interleaved 1F1B needs n_microbatches to be a multiple of n_ranks; got n_microbatches={m}, n_ranks={p}."
        )
    total = m * v

    def action(kind: str, r: int, k: int) -> Action:
        chunk = (k // p) % v
        if kind == "B":
            chunk = v - 1 - chunk
        return Action(kind, chunk * p + r, (k // (p * v)) * p + k % p)

    order = []
    for r in range(p):
        warmup = min((v - 1) * p + 2 * (p - 1 - r), total)
        acts = [action("F", r, k) for k in range(warmup)]
        for k in range(total):
            if warmup + k < total:
                acts.append(action("F", r, warmup + k))
            acts.append(action("B", r, k))
        order.append(tuple(acts))
    return PipelineSchedule(f"interleaved 1F1B (v={v})", p, m, v, tuple(order))


def split_layers(n_layers: int, n_stages: int) -> list[range]:
    r"""Contiguous layer ranges of ``n_stages`` equal stages (``n_stages = p v`` when interleaving).

    Raises
    ------
    ValueError
        If ``n_stages`` does not divide ``n_layers`` (unequal stages would make the slowest one
        set the pace and break the closed forms).

    Examples
    --------
    >>> split_layers(8, 4)
    [range(0, 2), range(2, 4), range(4, 6), range(6, 8)]
    """
    n_layers = check_int(n_layers, "n_layers", low=1)
    n_stages = check_int(n_stages, "n_stages", low=1)
    if n_layers % n_stages:
        raise ValueError(
            f"n_stages must divide n_layers into equal stages; got n_layers={n_layers}, n_stages={n_stages}."
        )
    k = n_layers // n_stages
    return [range(s * k, (s + 1) * k) for s in range(n_stages)]
