r"""One gloo worker that runs every from-scratch scheme next to torch's own version of it.

:func:`parallel_tour` is spawned once (``run_workers(parallel_tour, world=p, args=(seed,))``) so
that a notebook or a test pays for one start-up of the processes. Each rank returns our result,
torch's result and the bytes our :class:`~interviewlib.training.parallel.collectives.RingComm`
sent; the caller compares them with the single-process computation, which the toy builders
below (``toy_mlp``, ``toy_attention``, ``toy_data``) let it rebuild from the same seed.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ...transformer import GroupedQueryAttention, RotaryEmbedding
from ...transformer._checks import check_int
from .collectives import RingComm
from .context_parallel import ring_attention, sequence_shards
from .data_parallel import allreduce_gradients, batch_shard
from .tensor_parallel import TensorParallelAttention, TensorParallelMLP
from .zero import ZeroAdam

__all__ = ["TOUR_LR", "all_reduce_timing", "parallel_tour", "toy_attention", "toy_data", "toy_mlp"]

TOUR_LR, TOUR_STEPS, HEAD_DIM = 0.05, 3, 4


def toy_mlp(world: int, seed: int = 0) -> nn.Sequential:
    """``Linear(d, 4p) -> GELU -> Linear(4p, d)`` in float64 with ``d = 6``: every split is even."""
    world, seed = check_int(world, "world", low=1), check_int(seed, "seed")
    g = torch.Generator().manual_seed(seed)
    m = nn.Sequential(nn.Linear(6, 4 * world), nn.GELU(), nn.Linear(4 * world, 6)).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) / math.sqrt(p.shape[-1]))
    return m


def toy_attention(world: int, seed: int = 0) -> GroupedQueryAttention:
    """GQA with ``2p`` query heads, ``p`` KV heads, head_dim 4, float64 (one KV head per rank)."""
    world, seed = check_int(world, "world", low=1), check_int(seed, "seed")
    torch.manual_seed(seed)
    return GroupedQueryAttention(8 * world, n_heads=2 * world, n_kv_heads=world, head_dim=HEAD_DIM).double()


def toy_data(world: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded float64 inputs of every check (the same on every rank)."""
    world, seed = check_int(world, "world", low=1), check_int(seed, "seed")
    g = torch.Generator().manual_seed(seed + 1)
    T = 4 * world
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return {
        "x": r(4 * world, 6), "y": r(4 * world, 6),  # DP / ZeRO regression batch
        "h": r(2, T, 6), "h_out": r(2, T, 6),  # TP MLP input and a random cotangent
        "a": r(2, T, 8 * world), "a_out": r(2, T, 8 * world),  # TP attention
        "q": r(2, 2, T, HEAD_DIM), "k": r(2, 2, T, HEAD_DIM), "v": r(2, 2, T, HEAD_DIM),  # CP
        "ring": r(world, 1000 * world + 1),  # row r = rank r's tensor (odd length: uneven chunks)
    }  # fmt: skip


def _bytes(comm: RingComm, fn):
    comm.reset()
    out = fn()
    return out, comm.bytes_sent


def _tp_section(comm, world, seed, data):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    mesh = init_device_mesh("cpu", (world,))
    mlp, res = toy_mlp(world, seed), {}

    def run(module, x, cot, *extra):
        x = x.clone().requires_grad_(True)  # a middle layer: its input needs a gradient (f's all-reduce)
        y = module(x, *extra)
        (y * cot).sum().backward()
        return y.detach(), x.grad

    tp = TensorParallelMLP(mlp[0], mlp[2], comm)
    (y, gx), b = _bytes(comm, lambda: run(tp, data["h"], data["h_out"]))
    res["mlp"] = {"y": y, "x_grad": gx, "w1_grad": tp.fc1.weight.grad, "w2_grad": tp.fc2.weight.grad, "bytes": b}
    ref = parallelize_module(copy.deepcopy(mlp), mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
    y, gx = run(ref, data["h"], data["h_out"])
    res["mlp_dtensor"] = {"y": y, "x_grad": gx, "w1_grad": ref[0].weight.grad.to_local(),
                          "w2_grad": ref[2].weight.grad.to_local()}
    # sequence parallel: this rank's slice of the sequence in and out
    sp = TensorParallelMLP(mlp[0], mlp[2], comm, sequence_parallel=True)
    n = data["h"].shape[1] // world
    sl = slice(comm.rank * n, (comm.rank + 1) * n)
    (y, gx), b = _bytes(comm, lambda: run(sp, data["h"][:, sl].contiguous(), data["h_out"][:, sl]))
    res["sp"] = {"y": y, "x_grad": gx, "w1_grad": sp.fc1.weight.grad, "bytes": b}
    # attention, split by heads
    attn = toy_attention(world, seed)
    rope = RotaryEmbedding(HEAD_DIM)(torch.arange(data["a"].shape[1]))
    rope = tuple(t.double() for t in rope)
    tpa = TensorParallelAttention(attn, comm)
    (y, gx), b = _bytes(comm, lambda: run(tpa, data["a"], data["a_out"], rope))
    res["attn"] = {"y": y, "x_grad": gx, "wq_grad": tpa.shard.q_proj.weight.grad, "bytes": b}
    ref = parallelize_module(copy.deepcopy(attn), mesh, {"q_proj": ColwiseParallel(), "k_proj": ColwiseParallel(),
                                                         "v_proj": ColwiseParallel(), "o_proj": RowwiseParallel()})
    ref.n_heads, ref.n_kv_heads = attn.n_heads // world, attn.n_kv_heads // world  # local heads for the reshape
    y, gx = run(ref, data["a"], data["a_out"], rope)
    res["attn_dtensor"] = {"y": y, "x_grad": gx, "wq_grad": ref.q_proj.weight.grad.to_local()}
    return res


def _zero_section(comm, world, seed, data):
    from torch.distributed.fsdp import fully_shard

    xs, ys = batch_shard(data["x"], comm.rank, world), batch_shard(data["y"], comm.rank, world)
    res = {}
    for stage in range(4):
        opt = ZeroAdam(toy_mlp(world, seed), comm, stage=stage, lr=TOUR_LR)
        comm.reset()
        for _ in range(TOUR_STEPS):
            opt.step(xs, ys)
        b = comm.bytes_sent / TOUR_STEPS
        res[stage] = {"params": opt.gather(), "bytes": b, "state": opt.state_bytes(), "padded": opt.padded}
    model = toy_mlp(world, seed)
    for layer in (model[0], model[2]):
        fully_shard(layer)
    fully_shard(model)
    adam = torch.optim.Adam(model.parameters(), lr=TOUR_LR)
    for _ in range(TOUR_STEPS):
        F.mse_loss(model(xs), ys).backward()
        adam.step()
        adam.zero_grad()
    res["fsdp2"] = {"params": {k: v.full_tensor().detach() for k, v in model.named_parameters()},
                    "local_numel": sum(v.to_local().numel() for v in model.parameters())}
    return res


def parallel_tour(rank: int, world: int, seed: int = 0) -> dict:
    """Every scheme on this rank: ring collectives, DP vs DDP, TP/SP vs DTensor, ZeRO vs FSDP2, ring attention.

    A worker for :func:`~interviewlib.training.parallel.launch.run_workers`; returns a dict of
    tensors and byte counts (see the notebook of question q08-18 for how each is checked).
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    rank, world = check_int(rank, "rank"), check_int(world, "world", low=1)
    comm, data, res = RingComm(), toy_data(world, seed), {}
    # 1. collectives
    t = data["ring"][rank].clone()
    ours, b = _bytes(comm, lambda: comm.all_reduce(t.clone()))
    ref = t.clone()
    dist.all_reduce(ref)
    even = t[: 1000 * world]
    rs_ref, ag_ref = torch.empty(1000, dtype=t.dtype), torch.empty(1000 * world * world, dtype=t.dtype)
    dist.reduce_scatter_single(rs_ref, even.clone())
    dist.all_gather_single(ag_ref, even.clone())
    res["ring"] = {"ours": ours, "torch": ref, "bytes": b, "n": t.numel(),
                   "rs": (comm.reduce_scatter(even), rs_ref), "ag": (comm.all_gather(even), ag_ref)}
    # 2. data parallel
    xs, ys = batch_shard(data["x"], rank, world), batch_shard(data["y"], rank, world)
    model = toy_mlp(world, seed)
    F.mse_loss(model(xs), ys).backward()
    n, b = _bytes(comm, lambda: allreduce_gradients(model, comm))
    ddp = DDP(toy_mlp(world, seed))
    F.mse_loss(ddp(xs), ys).backward()
    res["dp"] = {"ours": {k: p.grad for k, p in model.named_parameters()},
                 "ddp": {k: p.grad for k, p in ddp.module.named_parameters()}, "bytes": b, "n": n}
    # 3. tensor / sequence parallel, 4. ZeRO
    res["tp"] = _tp_section(comm, world, seed, data)
    res["zero"] = _zero_section(comm, world, seed, data)
    # 5. context parallel
    res["cp"] = {}
    for causal, layout in ((False, "contiguous"), (True, "contiguous"), (True, "zigzag")):
        pos = sequence_shards(data["q"].shape[2], world, layout=layout)[rank]
        q, k, v = (data[c][:, :, pos].contiguous() for c in "qkv")
        out, b = _bytes(comm, lambda q=q, k=k, v=v, c=causal, lay=layout: ring_attention(q, k, v, comm, causal=c, layout=lay))
        res["cp"][(causal, layout)] = {"out": out, "pos": pos, "bytes": b}
    return res


def all_reduce_timing(rank: int, world: int, sizes: tuple[int, ...] = (1000,), repeats: int = 5) -> list[dict]:
    """Worker: median seconds of :meth:`RingComm.all_reduce` vs ``dist.all_reduce`` (float32, interleaved).

    Each call is timed between two barriers; the medians are over ``repeats`` after one warm-up.
    Returns one dict per size: ``ours_s``, ``ref_s``, ``error`` (largest difference), ``bytes``.
    """
    import statistics
    import time

    rank, world = check_int(rank, "rank"), check_int(world, "world", low=1)
    if not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(f"sizes must be a non-empty tuple of element counts; got {sizes!r:.60}.")
    sizes = [check_int(n, "sizes[i]", low=1) for n in sizes]
    repeats = check_int(repeats, "repeats", low=1)
    comm, out = RingComm(), []
    g = torch.Generator().manual_seed(rank)
    for n in sizes:
        x = torch.randn(n, generator=g)
        times = {"ours": [], "ref": []}
        for i in range(repeats + 1):
            for name in ("ours", "ref"):
                y = x.clone()
                dist.barrier()
                t0 = time.perf_counter()
                if name == "ours":
                    comm.reset()
                    comm.all_reduce(y)
                    mine = y
                else:
                    dist.all_reduce(y)
                    ref = y
                dt = time.perf_counter() - t0
                if i:
                    times[name].append(dt)
        out.append({"n": n, "ours_s": statistics.median(times["ours"]), "ref_s": statistics.median(times["ref"]),
                    "error": float((mine - ref).abs().max()), "bytes": comm.bytes_sent})
    return out
