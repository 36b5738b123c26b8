"""Question q08-18 on real gloo processes: one spawn of ``parallel_tour`` (2 ranks), many checks.

Each from-scratch scheme is compared twice: with the single-process computation rebuilt here
from the same seed, and with torch's own implementation run in the same workers (DDP, DTensor
tensor parallel, FSDP2, ``dist.all_reduce``). Bytes are what our ring collectives sent.
"""

import pytest
import torch
import torch.nn.functional as F

from interviewlib.training.parallel import (
    TOUR_LR,
    comm_bytes_per_rank,
    parallel_tour,
    ring_all_reduce_bytes,
    run_workers,
    toy_attention,
    toy_data,
    toy_mlp,
)
from interviewlib.transformer import RotaryEmbedding

WORLD, SEED, STEPS = 2, 3, 3  # STEPS = parallel_tour's Adam steps (TOUR_STEPS)
# float64 throughout: sharded and unsharded runs add the same products in another order (~1e-16 seen);
# three Adam steps divide by sqrt(v) ~ |g|, which can amplify that to ~1e-14.
TOL_FP64 = 1e-12
# Two spawned interpreters importing torch plus one DTensor/FSDP2 warm-up: a few seconds; killed beyond.
GLOO_TIMEOUT_S = 120.0
F64 = 8

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def tour():
    return run_workers(parallel_tour, world=WORLD, args=(SEED,), timeout_s=GLOO_TIMEOUT_S)


@pytest.fixture(scope="module")
def data():
    return toy_data(WORLD, SEED)


def close(a, b, tol=TOL_FP64):
    torch.testing.assert_close(a, b, rtol=0, atol=tol)


def test_ring_collectives_equal_sums_and_torch(tour, data):
    full = data["ring"].sum(0)  # every rank's tensor, summed in this process
    even = data["ring"][:, : 1000 * WORLD]
    for r, res in enumerate(tour):
        ring = res["ring"]
        close(ring["ours"], full)
        close(ring["ours"], ring["torch"])
        rs, rs_ref = ring["rs"]
        close(rs, even.sum(0)[r * 1000 : (r + 1) * 1000])
        close(rs, rs_ref)
        ag, ag_ref = ring["ag"]
        assert torch.equal(ag, even.reshape(-1)) and torch.equal(ag, ag_ref)
        # N = 2001 on 2 ranks: chunks 1001 + 1000; a rank sends both chunks except its own, then except r+1
        n = ring["n"]
        assert ring["bytes"] == (2 * n - 1001 - 1000) * F64
        assert abs(ring["bytes"] - ring_all_reduce_bytes(n, WORLD, F64)) <= F64


def test_data_parallel_equals_single_process_and_ddp(tour, data):
    model = toy_mlp(WORLD, SEED)
    F.mse_loss(model(data["x"]), data["y"]).backward()  # the whole batch in one process
    for res in tour:
        dp = res["dp"]
        for name, p in model.named_parameters():
            close(dp["ours"][name], p.grad)
            close(dp["ours"][name], dp["ddp"][name])
        assert dp["n"] == sum(p.numel() for p in model.parameters())
        assert dp["bytes"] == comm_bytes_per_rank("dp", world=WORLD, n_params=dp["n"], elem_bytes=F64)


def _grads(module, x, cot, *extra):
    x = x.clone().requires_grad_(True)
    y = module(x, *extra)
    (y * cot).sum().backward()
    return y.detach(), x.grad


def test_tensor_and_sequence_parallel_mlp_equal_unsharded_and_dtensor(tour, data):
    mlp = toy_mlp(WORLD, SEED)
    y, gx = _grads(mlp, data["h"], data["h_out"])
    f, n = mlp[0].out_features // WORLD, data["h"].shape[1] // WORLD
    tokens, hidden = data["h"].shape[0] * data["h"].shape[1], data["h"].shape[2]
    for r, res in enumerate(tour):
        tp, ref, sp = res["tp"]["mlp"], res["tp"]["mlp_dtensor"], res["tp"]["sp"]
        close(tp["y"], y)
        close(tp["x_grad"], gx)
        close(tp["w1_grad"], mlp[0].weight.grad[r * f : (r + 1) * f])  # column shard's gradient
        close(tp["w2_grad"], mlp[2].weight.grad[:, r * f : (r + 1) * f])  # row shard's gradient
        for key in ("y", "x_grad", "w1_grad", "w2_grad"):
            close(tp[key], ref[key])
        close(sp["y"], y[:, r * n : (r + 1) * n])
        close(sp["x_grad"], gx[:, r * n : (r + 1) * n])
        close(sp["w1_grad"], mlp[0].weight.grad[r * f : (r + 1) * f])
        # one MLP block is half a layer: 1 all-reduce forward + 1 backward; SP: 2 gathers + 2 scatters
        half_layer = comm_bytes_per_rank("tp", world=WORLD, tokens=tokens, hidden=hidden, elem_bytes=F64) / 2
        assert tp["bytes"] == half_layer == sp["bytes"]


def test_tensor_parallel_attention_equals_unsharded_and_dtensor(tour, data):
    attn = toy_attention(WORLD, SEED)
    rope = tuple(t.double() for t in RotaryEmbedding(4)(torch.arange(data["a"].shape[1])))
    y, gx = _grads(attn, data["a"], data["a_out"], rope)
    rows = attn.q_proj.weight.shape[0] // WORLD
    for r, res in enumerate(tour):
        tp, ref = res["tp"]["attn"], res["tp"]["attn_dtensor"]
        close(tp["y"], y)
        close(tp["x_grad"], gx)
        close(tp["wq_grad"], attn.q_proj.weight.grad[r * rows : (r + 1) * rows])
        close(ref["y"], tp["y"])
        close(ref["x_grad"], tp["x_grad"])
        close(ref["wq_grad"], tp["wq_grad"])
        tokens, hidden = data["a"].shape[0] * data["a"].shape[1], data["a"].shape[2]
        assert tp["bytes"] == comm_bytes_per_rank("tp", world=WORLD, tokens=tokens, hidden=hidden, elem_bytes=F64) / 2


def test_zero_stages_equal_adam_and_fsdp2(tour, data):
    model = toy_mlp(WORLD, SEED)
    adam = torch.optim.Adam(model.parameters(), lr=TOUR_LR)
    for _ in range(STEPS):
        F.mse_loss(model(data["x"]), data["y"]).backward()
        adam.step()
        adam.zero_grad()
    psi = sum(p.numel() for p in model.parameters())
    for res in tour:
        z = res["zero"]
        for stage in range(4):
            for name, p in model.named_parameters():
                close(z[stage]["params"][name], p.detach())
                close(z[stage]["params"][name], z["fsdp2"]["params"][name])
        for name, p in model.named_parameters():
            close(z["fsdp2"]["params"][name], p.detach())
        padded = z[1]["padded"]
        assert padded == psi + psi % WORLD
        assert z[0]["bytes"] == comm_bytes_per_rank("dp", world=WORLD, n_params=psi, elem_bytes=F64)
        for stage, scheme in ((1, "zero1"), (2, "zero2"), (3, "zero3")):
            assert z[stage]["bytes"] == comm_bytes_per_rank(scheme, world=WORLD, n_params=padded, elem_bytes=F64)
        # memory held between steps: weights / gradients / both Adam moments, sharded stage by stage
        b = padded * F64
        assert z[0]["state"] == {"weights": psi * F64, "grads": psi * F64, "optimizer": 2 * psi * F64}
        assert z[1]["state"] == {"weights": b, "grads": b, "optimizer": 2 * b // WORLD}
        assert z[2]["state"] == {"weights": b, "grads": b // WORLD, "optimizer": 2 * b // WORLD}
        assert z[3]["state"] == {"weights": b // WORLD, "grads": b // WORLD, "optimizer": 2 * b // WORLD}


def test_ring_attention_equals_full_attention(tour, data):
    q, k, v = data["q"], data["k"], data["v"]
    T = q.shape[2]
    for (causal, layout), _ in tour[0]["cp"].items():
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        seen = torch.zeros(T, dtype=torch.int64)
        for res in tour:
            cp = res["cp"][(causal, layout)]
            close(cp["out"], ref[:, :, cp["pos"]])
            seen[cp["pos"]] += 1
            kv_hidden = k.shape[1] * k.shape[3]
            assert cp["bytes"] == comm_bytes_per_rank(
                "cp", world=WORLD, tokens=q.shape[0] * T, kv_hidden=kv_hidden, elem_bytes=F64
            )
        assert torch.equal(seen, torch.ones(T, dtype=torch.int64))  # every position on exactly one rank
