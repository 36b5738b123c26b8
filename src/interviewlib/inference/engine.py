r"""A small serving engine: requests in, tokens out, over a paged KV cache with continuous batching.

The loop of vLLM's ``LLMEngine`` reduced to its ideas: :meth:`LLMEngine.add_request` queues a
request; every :meth:`LLMEngine.step` asks the :class:`~interviewlib.inference.scheduler.Scheduler`
which requests get how many tokens, moves blocks (swap / copy-on-write), runs the model on
paged memory (decodes batched, prefill chunks one sequence at a time), samples a token for
every request whose scheduled tokens reach its end, and frees finished requests. Each step
reports a :class:`StepStats` from which a cost model can turn the step into time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..transformer._checks import check_int
from ..transformer.generate import sample_next
from .block_manager import BlockManager
from .paged_attention import PagedKVPool, paged_batch
from .scheduler import Request, Scheduler

__all__ = ["SamplingParams", "StepStats", "LLMEngine"]


@dataclass(frozen=True)
class SamplingParams:
    r"""How to decode one request.

    Parameters
    ----------
    max_tokens : int
        Tokens to generate (>= 1); fewer if ``eos_token_id`` comes first.
    temperature : float
        0 = greedy (argmax); > 0 samples from ``softmax(logits / temperature)``.
    top_k : int, optional
        Keep the ``k`` most likely tokens before sampling.
    top_p : float, optional
        Nucleus filter in (0, 1].
    seed : int, optional
        Seed of this request's own ``torch.Generator``: its tokens do not depend on what
        else is batched with it. None draws a fresh nondeterministic seed.
    eos_token_id : int, optional
        Stop after this token (it is included in the output).

    Notes
    -----
    With the same seed a request's tokens equal ``generate(model, prompt[None], max_tokens,
    do_sample=True, temperature=..., top_k=..., top_p=..., rng=seed)`` (greedy when
    ``temperature == 0``). vLLM's ``SamplingParams`` has the same fields (and many more).
    See question q09-06.

    Examples
    --------
    >>> SamplingParams(max_tokens=4).temperature
    0.0
    """

    max_tokens: int = 16
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self) -> None:
        check_int(self.max_tokens, "max_tokens", low=1)
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t >= 0):
            raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy); got {t!r}.")
        if self.top_k is not None:
            check_int(self.top_k, "top_k", low=1)
        p = self.top_p
        if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1):
            raise ValueError(f"top_p must be a number in (0, 1] or None; got {p!r}.")
        if self.seed is not None:
            check_int(self.seed, "seed")
        if self.eos_token_id is not None:
            check_int(self.eos_token_id, "eos_token_id")


@dataclass
class StepStats:
    r"""What one engine step did (inputs of a cost model).

    Attributes
    ----------
    num_prefill_tokens : int
        Prompt (or re-prefill) tokens computed this step, summed over requests.
    num_decode_seqs : int
        Requests that computed exactly their newest generated token (one decode each).
    num_running, num_waiting : int
        Queue lengths at the end of the step (``num_swapped`` too).
    kv_tokens_read : int
        Sum over scheduled requests of the context length attended (cached + new positions).
    num_preempted : int
        Requests preempted this step.
    blocks_swapped_out, blocks_swapped_in : int
        KV blocks copied GPU -> CPU and CPU -> GPU before the forward pass.
    recomputed_tokens : int
        Computed tokens whose KV had been computed before and dropped by a recompute preemption.
    prefix_cache_hit_tokens : int
        Tokens of newly admitted requests served from cached blocks (not computed).
    free_blocks : int
        Free GPU blocks after the step (cached-but-free blocks count as free).
    finished : list of str
        Requests finished this step.
    new_tokens : dict
        request id -> token id sampled this step.
    step_index, num_swapped, num_prefill_seqs, num_scheduled_tokens, num_forward_passes, blocks_copied
        Extra bookkeeping (the step's number, swapped queue length, requests with a prefill
        chunk, total tokens, model calls, copy-on-write block copies).
    """

    num_prefill_tokens: int = 0
    num_decode_seqs: int = 0
    num_running: int = 0
    num_waiting: int = 0
    kv_tokens_read: int = 0
    num_preempted: int = 0
    blocks_swapped_out: int = 0
    blocks_swapped_in: int = 0
    recomputed_tokens: int = 0
    prefix_cache_hit_tokens: int = 0
    free_blocks: int = 0
    finished: list[str] = field(default_factory=list)
    new_tokens: dict[str, int] = field(default_factory=dict)
    step_index: int = 0
    num_swapped: int = 0
    num_prefill_seqs: int = 0
    num_scheduled_tokens: int = 0
    num_forward_passes: int = 0
    blocks_copied: int = 0


class LLMEngine:
    r"""Serve many generation requests on one :class:`~interviewlib.transformer.decoder.DecoderLM`.

    Parameters
    ----------
    model : DecoderLM
        With GQA attention; put in eval mode, never trained here.
    num_gpu_blocks : int
        Blocks in the KV pool (the "GPU memory" of the engine).
    block_size : int
        Positions per block.
    max_num_seqs : int
        Most requests running at once.
    max_num_batched_tokens : int
        Tokens per step, decodes and prefill chunks together.
    max_model_len : int, optional
        Longest prompt + output (default ``model.config.max_len``).
    enable_chunked_prefill : bool
        Split prompts across steps; without it ``max_num_batched_tokens`` must be
        ``>= max_model_len`` (a whole prompt must fit one step, the rule vLLM enforces).
    enable_prefix_caching : bool
        Reuse KV blocks of identical prefixes (chained block hashes, LRU eviction).
    preemption_mode : {"recompute", "swap"}
        How to free blocks when the pool runs out.
    num_cpu_blocks : int
        Swap space in blocks (needed for ``"swap"``).
    batching : {"continuous", "static"}
        ``"static"`` is the baseline that admits a new batch only when the last one finished.

    Attributes
    ----------
    stats_history : list of StepStats
        One entry per :meth:`step`.
    outputs : dict
        request id -> generated ids of every finished request.

    Raises
    ------
    TypeError, ValueError
        On a model without GQA attention or invalid sizes.

    Notes
    -----
    Exactness: a request's tokens equal ``interviewlib.transformer.generate`` on its prompt
    alone, whatever it was batched with, however its prompt was chunked, and whether it was
    preempted (recompute or swap) or hit the prefix cache: batching only adds masked padding,
    chunking and preemption only change *when* a position's K/V is computed, not its value,
    and sampling uses the request's own generator. The tests check this token for token in
    float64. See questions q09-04 and q09-06.

    Examples
    --------
    >>> from interviewlib.transformer import DecoderConfig, DecoderLM, generate
    >>> _ = torch.manual_seed(0)
    >>> lm = DecoderLM(DecoderConfig(vocab_size=32, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=32)).eval()
    >>> engine = LLMEngine(lm, num_gpu_blocks=8, block_size=4, max_num_seqs=4, max_num_batched_tokens=8)
    >>> engine.add_request("a", [1, 2, 3, 4, 5], SamplingParams(max_tokens=6))
    >>> engine.add_request("b", [7, 8], SamplingParams(max_tokens=3))
    >>> out = engine.run()
    >>> out["a"] == generate(lm, torch.tensor([[1, 2, 3, 4, 5]]), 6)[0, 5:].tolist()
    True
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_gpu_blocks: int = 64,
        block_size: int = 16,
        max_num_seqs: int = 8,
        max_num_batched_tokens: int = 64,
        max_model_len: int | None = None,
        enable_chunked_prefill: bool = True,
        enable_prefix_caching: bool = False,
        preemption_mode: str = "recompute",
        num_cpu_blocks: int = 0,
        batching: str = "continuous",
    ) -> None:
        config = getattr(model, "config", None)
        if not isinstance(model, nn.Module) or config is None or getattr(config, "attention", None) != "gqa":
            raise TypeError(f"model must be a DecoderLM with GQA attention; got {type(model).__name__}.")
        self.model = model
        self.block_size = check_int(block_size, "block_size", low=1)
        self.max_model_len = (
            config.max_len if max_model_len is None else check_int(max_model_len, "max_model_len", low=1)
        )
        if self.max_model_len > config.max_len:
            raise ValueError(
                f"max_model_len must be <= the model's max_len={config.max_len}; got {self.max_model_len}."
            )
        max_num_batched_tokens = check_int(max_num_batched_tokens, "max_num_batched_tokens", low=1)
        if not enable_chunked_prefill and max_num_batched_tokens < self.max_model_len:
            raise ValueError(
                f"without chunked prefill max_num_batched_tokens must be >= max_model_len={self.max_model_len} "
                f"(a whole prompt must fit one step); got {max_num_batched_tokens}. Enable chunked prefill or raise it."
            )
        num_cpu_blocks = check_int(num_cpu_blocks, "num_cpu_blocks")
        if preemption_mode == "swap" and num_cpu_blocks == 0:
            raise ValueError("preemption_mode='swap' needs num_cpu_blocks >= 1 (the swap space); got 0.")
        self.block_manager = BlockManager(
            check_int(num_gpu_blocks, "num_gpu_blocks", low=1), self.block_size, enable_prefix_caching
        )
        self.cpu_block_manager = BlockManager(num_cpu_blocks, self.block_size) if num_cpu_blocks else None
        self.scheduler = Scheduler(
            self.block_manager,
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens,
            enable_chunked_prefill=enable_chunked_prefill,
            preemption_mode=preemption_mode,
            cpu_block_manager=self.cpu_block_manager,
            batching=batching,
        )
        dtype = next(model.parameters()).dtype
        shape = dict(
            n_layers=config.n_layers,
            block_size=self.block_size,
            n_kv_heads=config.n_kv_heads or config.n_heads,
            head_dim=config.resolved_head_dim(),
            dtype=dtype,
        )
        self.gpu_pool = PagedKVPool(num_blocks=num_gpu_blocks, **shape)
        self.cpu_pool = PagedKVPool(num_blocks=num_cpu_blocks, **shape) if num_cpu_blocks else None
        self._requests: dict[str, Request] = {}
        self.outputs: dict[str, list[int]] = {}
        self.stats_history: list[StepStats] = []

    # ------------------------------------------------------------------ requests
    def add_request(self, request_id: str, prompt_token_ids: list[int], params: SamplingParams | None = None) -> None:
        r"""Queue a request; it starts in a later :meth:`step`.

        Raises
        ------
        TypeError, ValueError
            On an id already used, an empty prompt, ids outside the vocabulary, prompt +
            ``max_tokens`` longer than ``max_model_len``, or a request whose KV cache could
            never fit the block pool. The engine is unchanged then.
        """
        if not isinstance(request_id, str):
            raise TypeError(f"request_id must be a str; got {type(request_id).__name__}.")
        if request_id in self._requests or request_id in self.outputs:
            raise ValueError(f"request_id {request_id!r} is already in use; pick a new id.")
        params = SamplingParams() if params is None else params
        if not isinstance(params, SamplingParams):
            raise TypeError(f"params must be a SamplingParams; got {type(params).__name__}.")
        if isinstance(prompt_token_ids, torch.Tensor):
            prompt_token_ids = prompt_token_ids.tolist()
        if not isinstance(prompt_token_ids, (list, tuple)) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in prompt_token_ids
        ):
            raise TypeError("prompt_token_ids must be a list of int token ids.")
        prompt = list(prompt_token_ids)
        vocab = self.model.config.vocab_size
        if not prompt:
            raise ValueError("prompt_token_ids must hold at least one token; got an empty prompt.")
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"prompt_token_ids must lie in [0, {vocab}); got [{min(prompt)}, {max(prompt)}].")
        if params.eos_token_id is not None and params.eos_token_id >= vocab:
            raise ValueError(f"eos_token_id must be < vocab_size={vocab}; got {params.eos_token_id}.")
        total = len(prompt) + params.max_tokens
        if total > self.max_model_len:
            raise ValueError(
                f"prompt length {len(prompt)} + max_tokens {params.max_tokens} = {total} exceeds max_model_len={self.max_model_len}."
            )
        need = self.block_manager.blocks_needed(total - 1)  # the last token's KV is never needed
        if need > self.block_manager.num_blocks:
            raise ValueError(
                f"request {request_id!r} needs {need} KV blocks but the pool has only {self.block_manager.num_blocks}; "
                "raise num_gpu_blocks or lower max_tokens."
            )
        gen = None
        if params.temperature > 0:
            gen = torch.Generator()
            if params.seed is None:
                gen.seed()
            else:
                gen.manual_seed(params.seed)
        req = Request(request_id, prompt, params.max_tokens, params=params, generator=gen)
        self._requests[request_id] = req
        self.scheduler.add(req)

    def has_unfinished(self) -> bool:
        """Whether any request is waiting, running or swapped out."""
        return self.scheduler.has_unfinished()

    def get_output(self, request_id: str) -> list[int]:
        """Tokens generated so far for ``request_id`` (finished or not)."""
        if request_id in self.outputs:
            return list(self.outputs[request_id])
        if request_id not in self._requests:
            raise ValueError(f"unknown request_id {request_id!r}.")
        return list(self._requests[request_id].output_token_ids)

    # ------------------------------------------------------------------ the loop
    def step(self) -> StepStats:
        """Schedule, move blocks, run the model once per group, sample, free finished requests."""
        sched = self.scheduler
        out = sched.schedule()
        # Block moves come before the forward pass. A step never both swaps out and in.
        if out.swap_out:
            self.gpu_pool.copy_blocks(out.swap_out, self.cpu_pool)
        if out.swap_in:
            self.cpu_pool.copy_blocks(out.swap_in, self.gpu_pool)
        self.gpu_pool.copy_blocks(out.copies)
        stats = StepStats(
            step_index=len(self.stats_history),
            num_preempted=len(out.preempted),
            blocks_swapped_out=len(out.swap_out),
            blocks_swapped_in=len(out.swap_in),
            blocks_copied=len(out.copies),
            recomputed_tokens=out.recomputed_tokens,
            prefix_cache_hit_tokens=out.prefix_cache_hit_tokens,
        )
        logits = self._execute(out.scheduled, stats)
        for req, n in out.scheduled:
            stats.num_scheduled_tokens += n
            stats.kv_tokens_read += req.num_computed_tokens + n
            if n == 1 and req.num_computed_tokens >= len(req.prompt_token_ids):
                stats.num_decode_seqs += 1
            else:
                stats.num_prefill_tokens += n
                stats.num_prefill_seqs += 1
            req.num_computed_tokens += n
            self.block_manager.cache_full_blocks(req.request_id, req.all_token_ids[: req.num_computed_tokens])
            if req.num_computed_tokens < req.num_tokens:
                continue  # a prefill chunk that does not reach the end: nothing to sample
            tok = self._sample(req, logits[req.request_id])
            req.output_token_ids.append(tok)
            stats.new_tokens[req.request_id] = tok
            eos = req.params.eos_token_id
            if len(req.output_token_ids) >= req.max_tokens or (eos is not None and tok == eos):
                sched.finish(req)
                self.outputs[req.request_id] = list(req.output_token_ids)
                del self._requests[req.request_id]
                stats.finished.append(req.request_id)
        stats.num_running, stats.num_waiting, stats.num_swapped = (
            len(sched.running),
            len(sched.waiting),
            len(sched.swapped),
        )
        stats.free_blocks = self.block_manager.num_free_blocks
        self.stats_history.append(stats)
        return stats

    def run(self, max_steps: int | None = None) -> dict[str, list[int]]:
        """Step until no request is left; returns ``outputs`` (every finished request so far)."""
        steps = 0
        while self.has_unfinished():
            if max_steps is not None and steps >= max_steps:
                break
            stats = self.step()
            steps += 1
            if stats.num_scheduled_tokens == 0 and stats.num_preempted == 0:
                raise RuntimeError("the scheduler made no progress; the pool or budget is too small for the queue.")
        return dict(self.outputs)

    # ------------------------------------------------------------------ internals
    def _execute(self, scheduled: list[tuple[Request, int]], stats: StepStats) -> dict[str, torch.Tensor]:
        """Run the model: one padded batch for all 1-token rows, one call per longer chunk."""
        rows = []
        for req, n in scheduled:
            start = req.num_computed_tokens
            rows.append(
                (req, (req.all_token_ids[start : start + n], start, self.block_manager.block_table(req.request_id)))
            )
        groups = [[r for r in rows if len(r[1][0]) == 1]] + [[r] for r in rows if len(r[1][0]) > 1]
        last: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for group in groups:
                if not group:
                    continue
                idx, pos, mask, view = paged_batch(self.gpu_pool, [r[1] for r in group])
                logits = self.model(idx, position_ids=pos, mask=mask, cache=view)  # (B, T, V)
                stats.num_forward_passes += 1
                for b, (req, _) in enumerate(group):
                    last[req.request_id] = logits[b, -1]  # (V,): the row's last real token (left padding)
        return last

    @staticmethod
    def _sample(req: Request, logits: torch.Tensor) -> int:
        p = req.params
        if p.temperature == 0:
            return int(sample_next(logits[None]))
        return int(
            sample_next(
                logits[None],
                do_sample=True,
                temperature=p.temperature,
                top_k=p.top_k,
                top_p=p.top_p,
                generator=req.generator,
            )
        )
