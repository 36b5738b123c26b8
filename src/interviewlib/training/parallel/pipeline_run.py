r"""A real pipeline-parallel step with ``torch.distributed.pipelining``, recording what each rank ran.

:func:`pipeline_step_worker` runs on every rank (through
:func:`~interviewlib.training.parallel.run_workers`): it builds the same seeded MLP everywhere,
keeps its own stages, runs torch's schedule for one step and returns the order in which the
stage's F / B / I / W calls really happened, torch's own action list, the per-micro-batch losses
and the gradients. :func:`single_process_step` computes the same step without a pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...transformer._checks import check_int
from .pipeline_schedule import split_layers

TORCH_SCHEDULES = ("GPipe", "1F1B", "interleaved 1F1B", "ZB-H1")  # names accepted in ``runs``


def make_mlp(n_layers: int, width: int, seed: int) -> nn.Sequential:
    """``n_layers`` blocks ``Linear(width, width) + Tanh`` in float64, identical for a given ``seed``."""
    n_layers, width = check_int(n_layers, "n_layers", low=1), check_int(width, "width", low=1)
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    layers = []
    for _ in range(n_layers):
        lin = nn.Linear(width, width, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(width, width, generator=gen, dtype=torch.float64) / width**0.5)
            lin.bias.copy_(0.1 * torch.randn(width, generator=gen, dtype=torch.float64))
        layers.append(nn.Sequential(lin, nn.Tanh()))
    return nn.Sequential(*layers)


def make_batch(batch: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded inputs and regression targets, both ``(batch, width)`` float64."""
    batch, width = check_int(batch, "batch", low=1), check_int(width, "width", low=1)
    gen = torch.Generator().manual_seed(check_int(seed, "seed") + 1)
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64)  # (B, d)
    return x, torch.randn(batch, width, generator=gen, dtype=torch.float64)  # (B, d)


def _grads(model: nn.Sequential, layers: Sequence[int]) -> dict[str, torch.Tensor]:
    return {f"{i}.{n}": p.grad.clone() for i in layers for n, p in model[i].named_parameters() if p.grad is not None}


def single_process_step(
    n_layers: int, width: int, batch: int, n_microbatches: int, seed: int
) -> tuple[list[float], dict[str, torch.Tensor]]:
    r"""The step a pipeline must reproduce: mean over micro-batches of ``mse_loss``, and its gradients.

    Returns
    -------
    losses : list of float
        ``mse_loss`` of each micro-batch (``torch.tensor_split`` of the batch along dim 0).
    grads : dict
        ``"layer.param"`` -> gradient of the mean of those losses.

    Examples
    --------
    >>> losses, grads = single_process_step(4, 3, 8, 4, seed=0)
    >>> len(losses), sorted(grads)[:2]
    (4, ['0.0.bias', '0.0.weight'])
    """
    m = check_int(n_microbatches, "n_microbatches", low=1)
    model = make_mlp(n_layers, width, seed)
    x, y = make_batch(check_int(batch, "batch", low=m), width, seed)
    losses = [F.mse_loss(model(xb), yb) for xb, yb in zip(x.tensor_split(m), y.tensor_split(m))]
    torch.stack(losses).mean().backward()
    return [float(v.detach()) for v in losses], _grads(model, range(n_layers))


def _record(stage, log: list[str]) -> None:
    """Wrap the stage's compute entry points so that each call appends e.g. ``"2F0"`` to ``log``."""
    fwd, bwd, wgt, s = (
        stage.forward_one_chunk,
        stage.backward_one_chunk,
        stage.backward_weight_one_chunk,
        stage.stage_index,
    )

    def forward_one_chunk(chunk_id, *args, **kwargs):
        log.append(f"{s}F{chunk_id}")
        return fwd(chunk_id, *args, **kwargs)

    def backward_one_chunk(chunk_id, *args, full_backward=True, **kwargs):
        log.append(f"{s}{'B' if full_backward else 'I'}{chunk_id}")
        return bwd(chunk_id, *args, full_backward=full_backward, **kwargs)

    def backward_weight_one_chunk(chunk_id, *args, **kwargs):
        log.append(f"{s}W{chunk_id}")
        return wgt(chunk_id, *args, **kwargs)

    stage.forward_one_chunk, stage.backward_one_chunk = forward_one_chunk, backward_one_chunk
    stage.backward_weight_one_chunk = backward_weight_one_chunk


def pipeline_step_worker(
    rank: int, world: int, runs: Sequence[tuple[str, int, int]], n_layers: int, width: int, batch: int, seed: int
) -> dict[str, dict]:
    r"""Worker: one training step per ``(schedule, n_microbatches, n_chunks)`` in ``runs`` with torch's schedules.

    ``schedule`` is one of :data:`TORCH_SCHEDULES`: ``ScheduleGPipe``, ``Schedule1F1B``,
    ``ScheduleInterleaved1F1B`` and ``ScheduleInterleavedZeroBubble`` (one stage per rank: ZB-H1).
    Stage ``s`` of ``world * n_chunks`` equal stages lives on rank ``s % world``.

    Returns
    -------
    dict
        ``name -> {"executed": [...], "torch_order": [...], "losses": [...], "grads": {...}}``:
        the F/B/I/W calls in the order this rank ran them, the compute actions of torch's
        ``pipeline_order[rank]``, the micro-batch losses (on the rank with the last stage) and
        the gradients of this rank's layers.

    Notes
    -----
    Meant for :func:`~interviewlib.training.parallel.run_workers`. See question q08-19.
    """
    from torch.distributed.pipelining import (
        PipelineStage,
        Schedule1F1B,
        ScheduleGPipe,
        ScheduleInterleaved1F1B,
        ScheduleInterleavedZeroBubble,
    )

    classes = {
        "GPipe": ScheduleGPipe,
        "1F1B": Schedule1F1B,
        "interleaved 1F1B": ScheduleInterleaved1F1B,
        "ZB-H1": ScheduleInterleavedZeroBubble,
    }
    rank, world = check_int(rank, "rank"), check_int(world, "world", low=1)
    if rank >= world:
        raise ValueError(f"rank must be < world; got rank={rank}, world={world}.")
    out = {}
    for name, m, v in runs:
        if name not in classes:
            raise ValueError(f"schedule must be one of {TORCH_SCHEDULES}; got {name!r}.")
        n_stages = world * v
        ranges = split_layers(n_layers, n_stages)
        model = make_mlp(n_layers, width, seed)
        x, y = make_batch(batch, width, seed)
        log: list[str] = []
        stages = []
        for s in range(rank, n_stages, world):
            stage = PipelineStage(nn.Sequential(*(model[i] for i in ranges[s])), s, n_stages, torch.device("cpu"))
            _record(stage, log)
            stages.append(stage)
        single = name in ("GPipe", "1F1B")
        sched = classes[name](stages[0] if single else stages, m, loss_fn=F.mse_loss)
        losses: list[torch.Tensor] = []
        holds_last = any(st.is_last for st in stages)
        args = (x,) if rank == 0 else ()
        sched.step(*args, target=y if holds_last else None, losses=losses if holds_last else None)
        torch_order = [
            str(a) for a in sched.pipeline_order[rank] if a is not None and a.computation_type.value in "FBIW"
        ]
        mine = [i for s in range(rank, n_stages, world) for i in ranges[s]]
        out[name] = {
            "executed": log,
            "torch_order": torch_order,
            "losses": [float(v.detach()) for v in losses],
            "grads": _grads(model, mine),
        }
    return out
