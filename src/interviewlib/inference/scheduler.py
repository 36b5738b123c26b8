r"""Continuous batching with one token budget per step, chunked prefill and preemption.

The scheduler of vLLM's V1 engine has no separate "prefill phase" and "decode phase".
Every request carries ``num_computed_tokens`` (positions whose KV is in the cache) and
``num_tokens`` (prompt + generated so far); each step it gives each request up to
``num_tokens - num_computed_tokens`` new tokens out of one shared budget of
``max_num_batched_tokens``. A decode is the case "1 token left", a prefill chunk the case
"many left". Running requests are served first (oldest first); when the block pool runs
dry the *newest* running request is preempted, either by recompute (drop its blocks; it
re-enters the waiting queue and re-prefills prompt + generated tokens later) or by swap
(copy its blocks to a CPU pool, copy them back when there is room). Waiting requests are
admitted only in steps without preemption, while the budget, ``max_num_seqs`` and the free
blocks allow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..transformer._checks import check_int
from .block_manager import BlockManager

__all__ = ["Request", "Scheduler", "SchedulerOutput"]

WAITING, RUNNING, SWAPPED, FINISHED = "waiting", "running", "swapped", "finished"


@dataclass(eq=False)
class Request:
    """State of one request inside the scheduler (ids, tokens, progress, status).

    Built with ``request_id`` (a str), ``prompt_token_ids`` (at least one int id, kept as a
    list) and ``max_tokens`` (an int >= 1); the other fields are the scheduler's progress.
    """

    request_id: str
    prompt_token_ids: list[int]
    max_tokens: int
    params: Any = None
    output_token_ids: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    status: str = WAITING
    num_preemptions: int = 0
    recompute_until: int = 0  # positions computed before the last recompute preemption
    generator: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.request_id, str):
            raise TypeError(f"request_id must be a str; got {type(self.request_id).__name__}.")
        ids = self.prompt_token_ids
        if not isinstance(ids, (list, tuple)) or not all(isinstance(t, int) and not isinstance(t, bool) for t in ids):
            raise TypeError(f"prompt_token_ids must be a list of int token ids; got {type(ids).__name__} {ids!r:.60}.")
        if not ids or min(ids) < 0:
            raise ValueError(f"prompt_token_ids must hold at least one token id >= 0; got {list(ids)!r:.60}.")
        self.prompt_token_ids = list(ids)  # a tuple becomes a list, so all_token_ids (prompt + output) works
        check_int(self.max_tokens, "max_tokens", low=1)

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_token_ids) + len(self.output_token_ids)

    @property
    def all_token_ids(self) -> list[int]:
        return self.prompt_token_ids + self.output_token_ids


@dataclass
class SchedulerOutput:
    """What one step runs: ``scheduled`` (request, new tokens) pairs, and the block moves before it."""

    scheduled: list[tuple[Request, int]] = field(default_factory=list)
    preempted: list[Request] = field(default_factory=list)
    swap_out: list[tuple[int, int]] = field(default_factory=list)  # (gpu block, cpu block)
    swap_in: list[tuple[int, int]] = field(default_factory=list)  # (cpu block, gpu block)
    copies: list[tuple[int, int]] = field(default_factory=list)  # copy-on-write (gpu, gpu)
    prefix_cache_hit_tokens: int = 0
    recomputed_tokens: int = 0


class Scheduler:
    r"""vLLM-V1-style scheduler over a :class:`BlockManager` (and a CPU one for swapping).

    Parameters
    ----------
    block_manager : BlockManager
        The "GPU" block pool.
    max_num_seqs : int
        Most requests in the running set.
    max_num_batched_tokens : int
        Token budget per step, shared by decodes and prefill chunks.
    enable_chunked_prefill : bool
        Split a prompt over several steps when it exceeds the remaining budget; without it
        a prompt is admitted only when it fits whole.
    preemption_mode : {"recompute", "swap"}
        What to do with a preempted request's KV blocks.
    cpu_block_manager : BlockManager, optional
        The swap space (required for ``"swap"``); when it is full, a preemption falls back to
        recompute.
    batching : {"continuous", "static"}
        ``"static"`` admits a new batch of up to ``max_num_seqs`` requests only when the running
        set is empty, and nothing else until every request of the batch has finished (the
        baseline of request-level batching; its prompts are still chunked by the budget).

    Notes
    -----
    Algorithm per step (vLLM V1 ``Scheduler.schedule``, FCFS policy):

    1. For each running request, oldest first, while budget remains: take
       ``n = min(num_tokens - num_computed_tokens, budget)`` tokens and reserve their slots;
       if the pool is short, preempt the newest running request and retry; if that was the
       request itself, stop.
    2. Swap-mode only, and only if nothing was preempted: swap swapped requests back in,
       oldest first, while they fit.
    3. If nothing was preempted and nobody is swapped out: admit waiting requests (front
       first, preempted ones are put back at the front), reusing prefix-cached blocks, while
       the budget, ``max_num_seqs`` and the pool allow.

    Blocks are reserved only for the tokens scheduled now, so a long prompt holds no memory
    for its future output. Steps 1 and 3 follow vLLM V1 (0.33.0), which preempts only by
    recompute; the swap path follows vLLM V0 (0.10.1.1): swapped requests go before new
    prompts and are not swapped in during a step that preempted. Where V0 aborts when the
    CPU swap space is full, this scheduler falls back to recompute
    (``num_recompute_fallbacks``). See questions q09-04 and q09-06.

    Examples
    --------
    >>> sched = Scheduler(BlockManager(8, 4), max_num_seqs=4, max_num_batched_tokens=8)
    >>> sched.add(Request("a", [1, 2, 3, 4, 5, 6], max_tokens=2))
    >>> sched.add(Request("b", [7, 8, 9, 10, 11], max_tokens=2))
    >>> [(r.request_id, n) for r, n in sched.schedule().scheduled]  # b's prompt is chunked to the budget left
    [('a', 6), ('b', 2)]
    """

    def __init__(
        self,
        block_manager: BlockManager,
        *,
        max_num_seqs: int,
        max_num_batched_tokens: int,
        enable_chunked_prefill: bool = True,
        preemption_mode: str = "recompute",
        cpu_block_manager: BlockManager | None = None,
        batching: str = "continuous",
    ) -> None:
        if not isinstance(block_manager, BlockManager):
            raise TypeError(f"block_manager must be a BlockManager; got {type(block_manager).__name__}.")
        if preemption_mode not in ("recompute", "swap"):
            raise ValueError(f"preemption_mode must be 'recompute' or 'swap'; got {preemption_mode!r}.")
        if batching not in ("continuous", "static"):
            raise ValueError(f"batching must be 'continuous' or 'static'; got {batching!r}.")
        if preemption_mode == "swap" and not isinstance(cpu_block_manager, BlockManager):
            raise ValueError("preemption_mode='swap' needs a cpu_block_manager (swap space); got none.")
        self.bm = block_manager
        self.cpu_bm = cpu_block_manager
        self.max_num_seqs = check_int(max_num_seqs, "max_num_seqs", low=1)
        self.max_num_batched_tokens = check_int(max_num_batched_tokens, "max_num_batched_tokens", low=1)
        self.enable_chunked_prefill = bool(enable_chunked_prefill)
        self.preemption_mode = preemption_mode
        self.batching = batching
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.swapped: deque[Request] = deque()
        self.num_recompute_fallbacks = 0  # swap preemptions that found the CPU pool full

    def add(self, req: Request) -> None:
        req.status = WAITING
        self.waiting.append(req)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running or self.swapped)

    def finish(self, req: Request) -> None:
        """Remove a running request and free its blocks."""
        self.running.remove(req)
        self.bm.free(req.request_id)
        req.status = FINISHED

    # ------------------------------------------------------------------ the step
    def schedule(self) -> SchedulerOutput:
        out = SchedulerOutput()
        budget = self.max_num_batched_tokens
        if self.batching == "static" and not self.running and not self.swapped:
            self._admit_static_batch(out)
        i = 0
        while i < len(self.running) and budget > 0:
            req = self.running[i]
            n = min(req.num_tokens - req.num_computed_tokens, budget)
            if n == 0:  # nothing left to compute this step (cannot happen for unfinished requests)
                i += 1
                continue
            while not self._reserve(req, n, out):
                victim = self.running.pop()  # the newest running request
                self._preempt(victim, out)
                if victim is req:
                    break
            else:
                self._record(req, n, out)
                budget -= n
                i += 1
                continue
            break  # the request itself was preempted
        if out.preempted:
            return out
        while self.swapped and budget > 0 and len(self.running) < self.max_num_seqs:
            req = self.swapped[0]
            n = min(req.num_tokens - req.num_computed_tokens, budget)
            if not self._swap_in(req, n, out):
                break
            self.swapped.popleft()
            self._record(req, n, out)
            budget -= n
        if self.swapped or self.batching == "static":  # swapped requests go first; static batches admit above
            return out
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            req = self.waiting[0]
            tokens = req.all_token_ids
            hits = self.bm.lookup(tokens)[: (req.num_tokens - 1) // self.bm.block_size]
            cached = len(hits) * self.bm.block_size
            n = req.num_tokens - cached
            if not self.enable_chunked_prefill and n > budget:
                break
            n = min(n, budget)
            need = self.bm.blocks_needed(cached + n) - len(hits) + sum(1 for b in hits if self.bm.refcount(b) == 0)
            if not self.bm.can_allocate(need):
                break
            if self.bm.allocate(req.request_id, cached + n, token_ids=tokens, max_cached_tokens=cached) != cached:
                raise RuntimeError("prefix-cache lookup and allocation disagree; the block manager changed in between.")
            self.waiting.popleft()
            req.num_computed_tokens = cached
            req.status = RUNNING
            self.running.append(req)
            out.prefix_cache_hit_tokens += cached
            self._record(req, n, out)
            budget -= n
        return out

    # ------------------------------------------------------------------ helpers
    def _admit_static_batch(self, out: SchedulerOutput) -> None:
        """Static batching: move up to ``max_num_seqs`` waiting requests into the running set at once."""
        while self.waiting and len(self.running) < self.max_num_seqs:
            req = self.waiting[0]
            hits = self.bm.lookup(req.all_token_ids)[: (req.num_tokens - 1) // self.bm.block_size]
            if sum(1 for b in hits if self.bm.refcount(b) == 0) > self.bm.num_free_blocks:
                break
            cached = self.bm.allocate(
                req.request_id,
                len(hits) * self.bm.block_size,
                token_ids=req.all_token_ids,
                max_cached_tokens=len(hits) * self.bm.block_size,
            )
            self.waiting.popleft()
            req.num_computed_tokens = cached
            req.status = RUNNING
            self.running.append(req)
            out.prefix_cache_hit_tokens += cached

    def _record(self, req: Request, n: int, out: SchedulerOutput) -> None:
        lo, hi = req.num_computed_tokens, req.num_computed_tokens + n
        out.recomputed_tokens += max(0, min(hi, req.recompute_until) - lo)
        out.scheduled.append((req, n))

    def _reserve(self, req: Request, n: int, out: SchedulerOutput) -> bool:
        """Grow ``req``'s table to ``num_computed + n`` positions, if the pool allows."""
        grow = req.num_computed_tokens + n - self.bm.num_tokens(req.request_id)
        need = -(-(req.num_computed_tokens + n) // self.bm.block_size) - self.bm.num_seq_blocks(req.request_id)
        if need > self.bm.num_free_blocks:
            return False
        out.copies += self.bm.append_slots(req.request_id, grow)
        return True

    def _preempt(self, req: Request, out: SchedulerOutput) -> None:
        req.num_preemptions += 1
        out.preempted.append(req)
        if self.preemption_mode == "swap":
            n = self.bm.num_tokens(req.request_id)
            if self.cpu_bm.can_allocate(self.cpu_bm.blocks_needed(n)):
                self.cpu_bm.allocate(req.request_id, n)
                out.swap_out += list(zip(self.bm.block_table(req.request_id), self.cpu_bm.block_table(req.request_id)))
                self.bm.free(req.request_id)
                req.status = SWAPPED
                self.swapped.append(req)
                return
            self.num_recompute_fallbacks += 1
        self.bm.free(req.request_id)
        req.recompute_until = max(req.recompute_until, req.num_computed_tokens)
        req.num_computed_tokens = 0
        req.status = WAITING
        self.waiting.appendleft(req)

    def _swap_in(self, req: Request, n: int, out: SchedulerOutput) -> bool:
        held = self.cpu_bm.num_tokens(req.request_id)  # == req.num_computed_tokens
        if not self.bm.can_allocate(self.bm.blocks_needed(held + n)):
            return False
        self.bm.allocate(req.request_id, held + n)
        cpu_table = self.cpu_bm.block_table(req.request_id)
        out.swap_in += list(zip(cpu_table, self.bm.block_table(req.request_id)))
        self.cpu_bm.free(req.request_id)
        req.status = RUNNING
        self.running.append(req)
        return True
