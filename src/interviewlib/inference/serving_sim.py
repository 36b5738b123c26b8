r"""A discrete-event simulator of LLM serving: colocated vs prefill/decode-disaggregated.

Requests arrive (Poisson), every instance runs continuous batching under a per-step token
budget, and each step's duration comes from the roofline :func:`~interviewlib.inference.cost_model.step_time`. Two layouts:

* ``colocated``: ``n_instances`` identical replicas; each step decodes every running
  sequence and fills the rest of the budget with prompt chunks (chunked prefill, as in
  Sarathi-Serve and vLLM V1), or, with ``chunked_prefill=False``, runs whole prompts in
  prefill-only steps that stall decoding (prefill-first, as in vLLM V0 and Orca).
* ``disaggregated``: ``n_prefill`` prefill-only and ``n_decode`` decode-only instances
  (DistServe, Splitwise). A finished prompt emits its first token on the prefill GPU, then
  its KV cache crosses the link (:func:`~interviewlib.inference.cost_model.kv_transfer_time`, transfers from one prefill GPU
  queue on its link) to the least-loaded decode instance.

TTFT = first token - arrival; TPOT = (finish - first token) / (output_len - 1), 0 when only
one token is generated; goodput = requests per second that meet both SLOs.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..transformer._checks import check_int
from .cost_model import (
    GPUSpec,
    ModelShape,
    _check_specs,
    _positive,
    kv_capacity_tokens,
    kv_transfer_time,
    step_cost,
    step_time,
)

__all__ = ["Trace", "poisson_trace", "SimResult", "simulate", "drive_engine"]


@dataclass(frozen=True)
class Trace:
    """Requests: ``arrival`` (s, non-decreasing), ``prompt_len`` and ``output_len`` (>= 1), all shape (n,)."""

    arrival: np.ndarray
    prompt_len: np.ndarray
    output_len: np.ndarray

    def __post_init__(self) -> None:
        a = _as_array(self.arrival, "arrival", np.float64)
        if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(np.diff(a) < 0) or (a.size and a[0] < 0):
            raise ValueError("arrival must be a 1-D array of finite, non-negative, non-decreasing times.")
        for f in ("prompt_len", "output_len"):
            v = _as_array(getattr(self, f), f)
            if v.shape != a.shape or v.dtype.kind not in "iu" or (v.size and v.min() < 1):
                raise ValueError(f"{f} must be integers >= 1 with the shape of arrival {a.shape}; got {v!r}.")
        object.__setattr__(self, "arrival", a)


def _as_array(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:  # a ragged list, a string that is not a number
        raise ValueError(f"{name} must be a 1-D array of numbers; got {type(x).__name__} {x!r:.60} ({exc}).") from exc


def _lengths(spec: Any, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(spec, tuple) and len(spec) == 2:
        lo, hi = check_int(spec[0], f"{name}[0]", low=1), check_int(spec[1], f"{name}[1]", low=1)
        if hi < lo:
            raise ValueError(f"{name} must be (low, high) with low <= high; got {spec}.")
        return rng.integers(lo, hi + 1, size=n)
    return np.full(n, check_int(spec, name, low=1), dtype=np.int64)


def poisson_trace(n_requests: int, rate: float, *, prompt_len: Any, output_len: Any, rng: Any = None) -> Trace:
    """``n_requests`` Poisson arrivals at ``rate`` req/s; lengths fixed (int) or uniform on (low, high) inclusive.

    Examples
    --------
    >>> t = poisson_trace(3, 2.0, prompt_len=(10, 20), output_len=5, rng=0)
    >>> t.output_len.tolist(), bool(t.arrival[0] > 0)
    ([5, 5, 5], True)
    """
    n = check_int(n_requests, "n_requests", low=1)
    r = _positive(rate, "rate")
    g = np.random.default_rng(rng)
    arrival = np.cumsum(g.exponential(1.0 / r, size=n))
    return Trace(arrival, _lengths(prompt_len, "prompt_len", n, g), _lengths(output_len, "output_len", n, g))


@dataclass(frozen=True)
class SimResult:
    """Per-request times (s), shape (n,), and the step log ``steps`` (instance, start, duration, prefill, decode)."""

    arrival: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    output_len: np.ndarray
    n_gpus: int
    steps: np.ndarray

    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.arrival

    @property
    def tpot(self) -> np.ndarray:
        return np.where(self.output_len > 1, (self.finish - self.first_token) / np.maximum(self.output_len - 1, 1), 0.0)

    def attainment(self, *, ttft_slo: float, tpot_slo: float) -> float:
        """Fraction of requests meeting both SLOs."""
        ok = (self.ttft <= _positive(ttft_slo, "ttft_slo")) & (self.tpot <= _positive(tpot_slo, "tpot_slo"))
        return float(ok.mean())

    def goodput(self, *, ttft_slo: float, tpot_slo: float, per_gpu: bool = True) -> float:
        """Requests meeting both SLOs per second of the run (first arrival to last finish), per GPU by default."""
        span = float(self.finish.max() - self.arrival.min())
        good = self.attainment(ttft_slo=ttft_slo, tpot_slo=tpot_slo) * self.arrival.size
        return good / span / (self.n_gpus if per_gpu else 1)


class _Instance:
    def __init__(self, role: str, capacity: int) -> None:
        self.role, self.capacity, self.kv_used, self.link_free, self.inflight = role, capacity, 0, 0.0, 0
        self.waiting: deque[int] = deque()
        self.prefilling: list[int] = []
        self.running = np.zeros(0, dtype=np.int64)
        self.plan: tuple[np.ndarray, list[tuple[int, int]]] | None = None

    def load(self) -> int:
        return len(self.waiting) + len(self.prefilling) + self.running.size + self.inflight


def simulate(
    trace: Trace, gpu: GPUSpec, model: ModelShape, *, mode: str = "colocated", n_instances: int = 1,
    n_prefill: int = 1, n_decode: int = 1, max_num_seqs: int = 256, max_num_batched_tokens: int = 2048,
    chunked_prefill: bool = True, kv_bandwidth: float | None = None, kv_latency_s: float = 0.0,
    kv_capacity: int | None = None, **cost_kwargs: Any,
) -> SimResult:  # fmt: skip
    r"""Run ``trace`` through a colocated or disaggregated deployment of ``model`` on ``gpu``.

    Parameters
    ----------
    trace : Trace
    gpu, model : GPUSpec, ModelShape
        Every instance is one GPU of this kind (tensor parallelism is not modelled).
    mode : {"colocated", "disaggregated"}
    n_instances : int
        Replicas for ``colocated``.
    n_prefill, n_decode : int
        Instances of each role for ``disaggregated``.
    max_num_seqs, max_num_batched_tokens : int
        Per-instance limits on sequences in a step and tokens in a step (vLLM's knobs).
    chunked_prefill : bool
        Colocated only: False runs whole prompts in prefill-only steps first.
    kv_bandwidth : float, optional
        Bytes/s of one prefill GPU's outgoing link; default one NVLink direction,
        ``gpu.link_bandwidth / 2``; ``math.inf`` makes the transfer free.
    kv_latency_s : float
        Fixed latency added to each transfer.
    kv_capacity : int, optional
        KV positions per instance; default :func:`~interviewlib.inference.cost_model.kv_capacity_tokens`. A request reserves
        ``prompt_len + output_len`` positions when admitted, so nothing is ever preempted.
    **cost_kwargs
        ``flop_efficiency``, ``bandwidth_efficiency``, ``overhead_s`` of :func:`~interviewlib.inference.cost_model.step_cost`.

    Returns
    -------
    SimResult

    Raises
    ------
    TypeError, ValueError
        ``trace``, ``gpu`` or ``model`` of the wrong type, unknown ``mode``, a size < 1, or a
        request larger than ``kv_capacity``.

    Notes
    -----
    Events are arrivals, step completions and KV arrivals, processed in time order
    (ties by insertion). A step's plan is fixed when it starts and applied when it ends;
    the first token comes out of the step that finishes a prompt. Routing: least loaded
    instance (waiting + admitted + in flight). See question q09-08.

    Examples
    --------
    >>> from interviewlib.inference import H100_SXM, LLAMA_3_1_8B, step_time
    >>> tr = Trace(np.array([0.0]), np.array([1000]), np.array([1]))
    >>> r = simulate(tr, H100_SXM, LLAMA_3_1_8B)
    >>> bool(np.isclose(r.ttft[0], step_time(H100_SXM, LLAMA_3_1_8B, prefill_tokens=1000, decode_seqs=0,
    ...     kv_tokens_read=1000, attention_pairs=1000 * 1001 // 2)))
    True
    """
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a Trace; got {type(trace).__name__}.")
    _check_specs(gpu, model)
    if mode not in ("colocated", "disaggregated"):
        raise ValueError(f"mode must be 'colocated' or 'disaggregated'; got {mode!r}.")
    seqs, budget = check_int(max_num_seqs, "max_num_seqs", low=1), check_int(max_num_batched_tokens,
                                                                              "max_num_batched_tokens", low=1)
    cap = kv_capacity_tokens(gpu, model) if kv_capacity is None else check_int(kv_capacity, "kv_capacity", low=1)
    need = trace.prompt_len + trace.output_len
    if need.max() > cap:
        raise ValueError(f"a request needs {int(need.max())} KV positions but kv_capacity is {cap}.")
    bw = gpu.link_bandwidth / 2 if kv_bandwidth is None else _positive(kv_bandwidth, "kv_bandwidth", allow_inf=True)
    lat = _positive(kv_latency_s, "kv_latency_s", allow_zero=True)
    step_cost(gpu, model, prefill_tokens=0, decode_seqs=0, kv_tokens_read=0, **cost_kwargs)  # validates kwargs
    if mode == "colocated":
        insts = [_Instance("mixed", cap) for _ in range(check_int(n_instances, "n_instances", low=1))]
    else:
        insts = [_Instance("prefill", cap) for _ in range(check_int(n_prefill, "n_prefill", low=1))]
        insts += [_Instance("decode", cap) for _ in range(check_int(n_decode, "n_decode", low=1))]
    return _run(trace, gpu, model, insts, seqs, budget, bool(chunked_prefill), bw, lat, need, cost_kwargs)


def _run(tr, gpu, model, insts, seqs, budget, chunked, bw, lat, need, cost_kwargs) -> SimResult:
    n = tr.arrival.size
    P, O = tr.prompt_len.astype(np.int64), tr.output_len.astype(np.int64)
    done_p, gen = np.zeros(n, np.int64), np.zeros(n, np.int64)
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    events: list[tuple[float, int, int, int, int]] = []  # (time, order, kind, a, b); kind 0 arrive, 1 step, 2 kv
    order = iter(range(10**12))
    log: list[tuple[int, float, float, int, int]] = []
    entry = [i for i, s in enumerate(insts) if s.role != "decode"]
    decoders = [i for i, s in enumerate(insts) if s.role == "decode"]
    for r in range(n):
        heapq.heappush(events, (float(tr.arrival[r]), next(order), 0, r, 0))

    def admit(s: _Instance, limit_tokens: bool) -> None:
        tokens = 0
        while s.waiting and len(s.prefilling) + s.running.size < seqs:
            r = s.waiting[0]
            if s.kv_used + need[r] > s.capacity or (limit_tokens and s.prefilling and tokens + P[r] > budget):
                break
            s.waiting.popleft()
            s.kv_used += need[r]
            tokens += P[r]
            s.prefilling.append(r)

    def start(k: int, now: float) -> None:
        s = insts[k]
        if s.plan is not None:
            return
        if s.role == "decode":
            while s.waiting and s.running.size < seqs and s.kv_used + need[s.waiting[0]] <= s.capacity:
                r = s.waiting.popleft()
                s.kv_used += need[r]
                s.running = np.append(s.running, r)
        else:
            admit(s, limit_tokens=not chunked)
        fresh = not chunked and any(done_p[r] == 0 for r in s.prefilling)
        dec = s.running[:budget] if (s.role != "prefill" and not fresh) else s.running[:0]
        chunks, left = [], budget - dec.size
        for r in s.prefilling if (chunked or fresh) else []:
            c = int(P[r] - done_p[r]) if not chunked else min(int(P[r] - done_p[r]), left)
            if c <= 0:
                break
            chunks.append((r, c))
            left -= c
        if dec.size == 0 and not chunks:
            return
        ctx = P[dec] + gen[dec]
        pre = sum(c for _, c in chunks)
        read = int(ctx.sum()) + sum(int(done_p[r]) + c for r, c in chunks)
        pairs = int(ctx.sum()) + sum(c * int(done_p[r]) + c * (c + 1) // 2 for r, c in chunks)
        dt = step_cost(gpu, model, prefill_tokens=pre, decode_seqs=int(dec.size), kv_tokens_read=read,
                       attention_pairs=pairs, **cost_kwargs).time_s  # fmt: skip
        s.plan = (dec.copy(), chunks)
        log.append((k, now, dt, pre, int(dec.size)))
        heapq.heappush(events, (now + dt, next(order), 1, k, 0))

    def finish_step(k: int, t: float) -> None:
        s = insts[k]
        dec, chunks = s.plan
        s.plan = None
        if dec.size:
            gen[dec] += 1
            out = gen[dec] >= O[dec]
            finish[dec[out]] = t
            s.kv_used -= int(need[dec[out]].sum())
            s.running = s.running[~np.isin(s.running, dec[out])]
        for r, c in chunks:
            done_p[r] += c
            if done_p[r] < P[r]:
                continue
            s.prefilling.remove(r)
            first[r], gen[r] = t, 1
            if O[r] == 1:
                finish[r] = t
                s.kv_used -= int(need[r])
            elif s.role == "mixed":
                s.running = np.append(s.running, r)
            else:  # prefill instance: free its KV once sent, queue the transfer on this GPU's link
                s.kv_used -= int(need[r])
                d = min(decoders, key=lambda j: (insts[j].load(), j))
                insts[d].inflight += 1
                s.link_free = max(t, s.link_free) + kv_transfer_time(model, int(P[r]), bandwidth=bw, latency_s=lat)
                heapq.heappush(events, (s.link_free, next(order), 2, r, d))

    while events:
        t, _, kind, a, b = heapq.heappop(events)
        if kind == 0:
            k = min(entry, key=lambda j: (insts[j].load(), j))
            insts[k].waiting.append(a)
            start(k, t)
        elif kind == 1:
            finish_step(a, t)
            start(a, t)
        else:
            insts[b].inflight -= 1
            insts[b].waiting.append(a)
            start(b, t)
    steps = np.array(log, dtype=np.float64).reshape(-1, 5)
    return SimResult(tr.arrival.copy(), first, finish, O, len(insts), steps)


def drive_engine(engine: Any, trace: Trace, prompts: list[list[int]], gpu: GPUSpec, model: ModelShape,
                 **cost_kwargs: Any) -> SimResult:  # fmt: skip
    r"""Replay ``trace`` on a real :class:`~interviewlib.inference.engine.LLMEngine` with a simulated clock.

    The engine computes the tokens (any small model will do); the clock advances by
    :func:`~interviewlib.inference.cost_model.step_time` of each step's :class:`~interviewlib.inference.engine.StepStats` for ``model``
    on ``gpu``, so the latencies are what that model on that GPU would see under this
    scheduler. Requests whose arrival time has passed are added before each step (when the
    engine is idle the clock jumps to the next arrival); ``max_tokens = output_len``, greedy.

    Parameters
    ----------
    engine : LLMEngine
        Fresh (no requests yet).
    trace : Trace
    prompts : list of list of int
        ``prompts[i]`` has ``trace.prompt_len[i]`` token ids.
    gpu, model : GPUSpec, ModelShape
    **cost_kwargs
        Passed to :func:`~interviewlib.inference.cost_model.step_time`.

    Returns
    -------
    SimResult
        ``n_gpus = 1``; ``steps`` rows are (0, start, duration, prefill tokens, decode seqs).

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, ``prompts`` do not match the trace, or the engine
        is not fresh.

    Notes
    -----
    See question q09-01.
    """
    from .engine import LLMEngine, SamplingParams  # torch-side module; imported only when an engine is driven

    if not isinstance(engine, LLMEngine):
        raise TypeError(f"engine must be an LLMEngine; got {type(engine).__name__}.")
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a Trace; got {type(trace).__name__}.")
    _check_specs(gpu, model)
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"prompts must be a list of token-id lists; got {type(prompts).__name__}.")
    if len(prompts) != trace.arrival.size or any(len(p) != n for p, n in zip(prompts, trace.prompt_len)):
        raise ValueError("prompts must hold one token list per request, prompts[i] of length trace.prompt_len[i].")
    if engine.has_unfinished() or engine.stats_history:
        raise ValueError("engine must be fresh: no requests added and no steps run yet.")
    n = trace.arrival.size
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    log: list[tuple[int, float, float, int, int]] = []
    t, i = 0.0, 0
    while i < n or engine.has_unfinished():
        if not engine.has_unfinished():
            t = max(t, float(trace.arrival[i]))
        while i < n and trace.arrival[i] <= t:
            engine.add_request(f"r{i}", list(prompts[i]), SamplingParams(max_tokens=int(trace.output_len[i])))
            i += 1
        s = engine.step()
        if s.num_scheduled_tokens == 0 and s.num_preempted == 0:
            raise RuntimeError("the engine made no progress; its block pool or token budget is too small.")
        dt = step_time(gpu, model, prefill_tokens=s.num_prefill_tokens, decode_seqs=s.num_decode_seqs,
                       kv_tokens_read=s.kv_tokens_read, **cost_kwargs)  # fmt: skip
        log.append((0, t, dt, s.num_prefill_tokens, s.num_decode_seqs))
        t += dt
        for rid in s.new_tokens:
            r = int(rid[1:])
            first[r] = t if np.isnan(first[r]) else first[r]
        for rid in s.finished:
            finish[int(rid[1:])] = t
    steps = np.array(log, dtype=np.float64).reshape(-1, 5)
    return SimResult(trace.arrival.copy(), first, finish, trace.output_len.astype(np.int64), 1, steps)
