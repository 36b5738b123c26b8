import math
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from interviewlib.training import AccumulationResult, accumulate_gradients, token_cross_entropy_sum
from interviewlib.transformer import TransformerLM

# float64: accumulated vs one-shot large-batch gradients differ only by the order of the
# floating-point sums (K smaller matmuls + K backward adds instead of one); observed ~1e-16.
GRAD_TOL_FP64 = 1e-12
# The naive per-micro-batch mean must be *measurably* different when token counts differ:
# the relative gradient error is O(0.1) here, far above round-off.
NAIVE_MIN_REL_ERR = 1e-3
# Wall-clock cap on the two-process DDP check (it takes a few seconds); beyond this the
# workers are killed and the test fails with a message instead of hanging CI.
DDP_TIMEOUT_S = 60.0
VOCAB, T = 13, 8


def _tiny_lm(seed: int = 0) -> TransformerLM:
    torch.manual_seed(seed)
    return TransformerLM(vocab_size=VOCAB, d_model=16, n_heads=2, n_layers=2, max_len=T).double()


def _micro_batch(gen: torch.Generator, valid_lengths: list[int], t: int = T):
    """(inputs, labels) of shape (B, t); labels are -100 after each row's valid length (right padding)."""
    b = len(valid_lengths)
    x = torch.randint(0, VOCAB, (b, t), generator=gen)
    y = torch.randint(0, VOCAB, (b, t), generator=gen)
    pad = torch.arange(t)[None, :] >= torch.tensor(valid_lengths)[:, None]  # (B, t)
    return x, y.masked_fill(pad, -100)


def _uneven_batches(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return [_micro_batch(gen, [8, 7]), _micro_batch(gen, [1]), _micro_batch(gen, [2, 1, 3])]


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


def _large_batch_reference(model: nn.Module, batches) -> tuple[float, list[torch.Tensor]]:
    """Independent reference: one forward pass over the concatenated batch, torch's token mean."""
    t_max = max(x.shape[1] for x, _ in batches)
    xs = torch.cat([F.pad(x, (0, t_max - x.shape[1])) for x, _ in batches])  # (sum B, t_max)
    ys = torch.cat([F.pad(y, (0, t_max - y.shape[1]), value=-100) for _, y in batches])
    logits = model(xs)  # (sum B, t_max, V)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), ys.reshape(-1), ignore_index=-100)
    return float(loss.detach()), [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


def _mean_of_means_reference(model: nn.Module, batches) -> list[torch.Tensor]:
    losses = [F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1), ignore_index=-100) for x, y in batches]
    loss = torch.stack(losses).mean()
    return [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


def _max_abs_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def _rel_err(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = sum(float(((x - y) ** 2).sum()) for x, y in zip(a, b)) ** 0.5
    return num / sum(float((y**2).sum()) for y in b) ** 0.5


# -- equality with the large batch ---------------------------------------------------------------


def test_global_tokens_equals_large_batch_float64():
    model, batches = _tiny_lm(), _uneven_batches()
    ref_loss, ref = _large_batch_reference(model, batches)
    res = accumulate_gradients(model, batches)
    assert isinstance(res, AccumulationResult)
    assert res.micro_batch_items == (15, 1, 6)
    assert res.num_items == 22
    assert float(res.loss) == pytest.approx(ref_loss, abs=GRAD_TOL_FP64)
    assert _max_abs_diff(_grads(model), ref) < GRAD_TOL_FP64


def test_per_micro_batch_is_mean_of_means_and_measurably_wrong():
    model, batches = _tiny_lm(), _uneven_batches()
    _, large = _large_batch_reference(model, batches)
    naive_ref = _mean_of_means_reference(model, batches)
    accumulate_gradients(model, batches, normalization="per_micro_batch")
    naive = _grads(model)
    assert _max_abs_diff(naive, naive_ref) < GRAD_TOL_FP64
    assert _rel_err(naive, large) > NAIVE_MIN_REL_ERR


def test_naive_equals_global_when_token_counts_are_equal():
    gen = torch.Generator().manual_seed(2)
    batches = [_micro_batch(gen, lengths) for lengths in ([5, 3], [8], [4, 4], [2, 6])]  # 8 valid tokens each
    model = _tiny_lm()
    accumulate_gradients(model, batches, normalization="per_micro_batch")
    naive = _grads(model)
    res = accumulate_gradients(model, batches)
    assert set(res.micro_batch_items) == {8}
    assert _max_abs_diff(naive, _grads(model)) < GRAD_TOL_FP64
    assert _max_abs_diff(naive, _large_batch_reference(model, batches)[1]) < GRAD_TOL_FP64


def test_variable_sequence_lengths_match_padded_large_batch():
    # Causal attention: right padding never changes the logits of the real positions.
    gen = torch.Generator().manual_seed(3)
    batches = [_micro_batch(gen, [5, 2], t=5), _micro_batch(gen, [8, 1, 7], t=8), _micro_batch(gen, [3], t=3)]
    model = _tiny_lm()
    ref_loss, ref = _large_batch_reference(model, batches)
    res = accumulate_gradients(model, batches)
    assert float(res.loss) == pytest.approx(ref_loss, abs=GRAD_TOL_FP64)
    assert _max_abs_diff(_grads(model), ref) < GRAD_TOL_FP64


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 7), min_size=0, max_size=4, unique=True), seed=st.integers(0, 2**16))
def test_any_split_into_micro_batches_gives_the_large_batch_gradient(cuts, seed):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, T + 1, (8,), generator=gen).tolist()
    lengths[0] = max(lengths[0], 1)  # at least one valid token in the step
    x, y = _micro_batch(gen, lengths)
    edges = [0, *sorted(cuts), 8]
    batches = [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    model = _tiny_lm()
    _, ref = _large_batch_reference(model, [(x, y)])
    accumulate_gradients(model, batches)
    assert _max_abs_diff(_grads(model), ref) < GRAD_TOL_FP64


# -- hand-worked case ---------------------------------------------------------------------------


class _Bias(nn.Module):
    """Logits = one learnable vector, the same at every position (zero: uniform)."""

    def __init__(self, v: int):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(v, dtype=torch.float64))

    def forward(self, x):
        return self.b.expand(*x.shape, self.b.shape[0])


def test_closed_form_gradients_of_a_bias_model():
    # d/db of the token-mean CE at b = 0 is softmax(0) - (label frequency) = 1/V - counts/N.
    # A: 1 token of class 0; B: 3 tokens of class 1 (V = 2).
    batches = [(torch.zeros(1, 2), torch.tensor([[0, -100]])), (torch.zeros(1, 3), torch.tensor([[1, 1, 1]]))]
    m = _Bias(2)
    res = accumulate_gradients(m, batches)
    torch.testing.assert_close(m.b.grad, torch.tensor([0.5 - 1 / 4, 0.5 - 3 / 4], dtype=torch.float64))
    assert float(res.loss) == pytest.approx(math.log(2), abs=GRAD_TOL_FP64)
    # naive: mean of ([1/2 - 1, 1/2], [1/2, 1/2 - 1]) = 0 -- the single class-0 token cancels three class-1 tokens
    accumulate_gradients(m, batches, normalization="per_micro_batch")
    torch.testing.assert_close(m.b.grad, torch.zeros(2, dtype=torch.float64))


def test_token_cross_entropy_sum_matches_torch_sum():
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(3, 4, VOCAB, generator=gen, dtype=torch.float64)
    _, y = _micro_batch(gen, [4, 0, 2], t=4)
    ref = F.cross_entropy(z.reshape(-1, VOCAB), y.reshape(-1), reduction="none", ignore_index=-100).sum()
    assert float(token_cross_entropy_sum(z, y)) == pytest.approx(float(ref), abs=GRAD_TOL_FP64)


# -- options ------------------------------------------------------------------------------------


def test_custom_loss_fn_label_smoothing_matches_torch_mean():
    model, batches = _tiny_lm(), _uneven_batches()

    def smoothed_sum(z, y):
        return F.cross_entropy(z.reshape(-1, VOCAB), y.reshape(-1), label_smoothing=0.1, reduction="sum")

    xs = torch.cat([x for x, _ in batches])
    ys = torch.cat([y for _, y in batches])
    ref_loss = F.cross_entropy(model(xs).reshape(-1, VOCAB), ys.reshape(-1), label_smoothing=0.1)
    ref = torch.autograd.grad(ref_loss, list(model.parameters()))
    res = accumulate_gradients(model, batches, loss_fn=smoothed_sum)
    assert float(res.loss) == pytest.approx(float(ref_loss.detach()), abs=GRAD_TOL_FP64)
    assert _max_abs_diff(_grads(model), list(ref)) < GRAD_TOL_FP64


def test_num_items_override_and_zero_grad_false():
    model, batches = _tiny_lm(), _uneven_batches()
    accumulate_gradients(model, batches)
    g = _grads(model)
    accumulate_gradients(model, batches, num_items_in_batch=44)  # twice the true N: half the gradient
    assert _max_abs_diff(_grads(model), [0.5 * x for x in g]) < GRAD_TOL_FP64
    accumulate_gradients(model, batches, num_items_in_batch=44, zero_grad=False)  # adds to the half
    assert _max_abs_diff(_grads(model), g) < GRAD_TOL_FP64


def test_custom_ignore_index_and_inputs_not_mutated():
    model, batches = _tiny_lm(), _uneven_batches()
    _, ref = _large_batch_reference(model, batches)
    relabelled = [(x.clone(), y.masked_fill(y == -100, VOCAB + 5)) for x, y in batches]
    before = [y.clone() for _, y in relabelled]
    accumulate_gradients(model, relabelled, ignore_index=VOCAB + 5)
    assert _max_abs_diff(_grads(model), ref) < GRAD_TOL_FP64
    assert all(torch.equal(a, y) for a, (_, y) in zip(before, relabelled))


def test_micro_batch_with_no_valid_token_is_fine_for_global_tokens():
    model, batches = _tiny_lm(), _uneven_batches()
    gen = torch.Generator().manual_seed(5)
    batches = [*batches, _micro_batch(gen, [0, 0])]
    _, ref = _large_batch_reference(model, batches)
    res = accumulate_gradients(model, batches)
    assert res.micro_batch_items[-1] == 0
    assert _max_abs_diff(_grads(model), ref) < GRAD_TOL_FP64


def test_batchnorm_breaks_the_equivalence_in_train_mode_only():
    # BN normalises with the statistics of the micro-batch it sees, so the accumulated
    # gradient is that of a different function; in eval mode (fixed statistics) it is exact.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=gen)
    batches = [(x[:4], y[:4]), (x[4:8], y[4:8]), (x[8:], y[8:])]
    for train, equal in ((True, False), (False, True)):
        net.train(train)
        ref = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
        accumulate_gradients(net, batches)
        if equal:
            assert _max_abs_diff(_grads(net), list(ref)) < GRAD_TOL_FP64
        else:
            assert _rel_err(_grads(net), list(ref)) > NAIVE_MIN_REL_ERR


# -- bad input ----------------------------------------------------------------------------------


def test_bad_input():
    model, batches = _tiny_lm(), _uneven_batches()
    x, y = batches[0]
    with pytest.raises(ValueError, match="at least one"):
        accumulate_gradients(model, [])
    with pytest.raises(ValueError, match="normalization must be one of"):
        accumulate_gradients(model, batches, normalization="mean")
    with pytest.raises(ValueError, match=r"micro_batches\[1\] must be an \(inputs, labels\) pair"):
        accumulate_gradients(model, [batches[0], x])
    with pytest.raises(TypeError, match="labels must be an integer"):
        accumulate_gradients(model, [(x, y.double())])
    with pytest.raises(TypeError, match="labels must be an integer"):
        accumulate_gradients(model, [(x, y > 0)])
    with pytest.raises(ValueError, match=r"must have shape labels.shape \+ \(V,\)"):
        accumulate_gradients(model, [(x, y[:, :-1])])
    with pytest.raises(ValueError, match=r"must be in \[0, 12\] or ignore_index=-100"):
        accumulate_gradients(model, [(x, y.masked_fill(y == -100, VOCAB))])
    with pytest.raises(ValueError, match="no valid label"):
        accumulate_gradients(model, [(x, torch.full_like(y, -100))])
    with pytest.raises(ValueError, match=r"micro-batches \[1\] have none"):
        accumulate_gradients(model, [batches[0], (x, torch.full_like(y, -100))], normalization="per_micro_batch")
    with pytest.raises(ValueError, match="only used with normalization='global_tokens'"):
        accumulate_gradients(model, batches, normalization="per_micro_batch", num_items_in_batch=3)
    with pytest.raises(ValueError, match="num_items_in_batch must be >= 1"):
        accumulate_gradients(model, batches, num_items_in_batch=0)
    with pytest.raises(TypeError, match="0-D tensor"):
        accumulate_gradients(model, batches, loss_fn=lambda z, t: z.sum(-1))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        accumulate_gradients(lambda x: x, batches)
    with pytest.raises(TypeError, match="micro_batches must be a sequence"):
        accumulate_gradients(model, iter(batches))


# -- DDP (gloo, 2 CPU processes) ----------------------------------------------------------------


def _rank_batches(rank: int):
    """Rank 0 and rank 1 see different micro-batches with very different token counts."""
    gen = torch.Generator().manual_seed(100 + rank)
    lengths = ([[8, 8], [1], [6, 2]], [[3], [8, 5, 1], [2, 2]])[rank]
    return [_micro_batch(gen, row) for row in lengths]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, timeout=timedelta(seconds=30)
    )
    try:
        model = nn.parallel.DistributedDataParallel(_tiny_lm())
        calls = {"n": 0}

        def counting_allreduce(state, bucket):  # DDP's default all-reduce + mean, counted
            state["n"] += 1
            return allreduce_hook(None, bucket)

        model.register_comm_hook(calls, counting_allreduce)
        batches = _rank_batches(rank)
        local = sum(int((y != -100).sum()) for _, y in batches)
        runs = {
            "no_sync": {},
            "sync_every": {"sync_every_micro_batch": True},
            "local_count": {"num_items_in_batch": local},
        }
        out = {}
        for name, kwargs in runs.items():
            calls["n"] = 0
            res = accumulate_gradients(model, batches, **kwargs)
            out[name] = {
                "grads": _grads(model.module),
                "loss": res.loss,
                "n": res.num_items,
                "allreduce_calls": calls["n"],
            }
        torch.save(out, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_ddp_no_sync_accumulation_equals_single_process_large_batch(tmp_path, spawn_workers):
    spawn_workers(_ddp_worker, world=2, out_dir=tmp_path, timeout_s=DDP_TIMEOUT_S)
    out = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    all_batches = _rank_batches(0) + _rank_batches(1)
    ref_loss, ref = _large_batch_reference(_tiny_lm(), all_batches)
    n_global = sum(int((y != -100).sum()) for _, y in all_batches)
    for rank in range(2):
        for run in ("no_sync", "sync_every"):
            assert out[rank][run]["n"] == n_global  # the token count was all-reduced
            assert _max_abs_diff(out[rank][run]["grads"], ref) < GRAD_TOL_FP64
        # each rank's loss is W * (its share); their mean is the global token-mean loss
        assert _max_abs_diff(out[rank]["no_sync"]["grads"], out[1 - rank]["no_sync"]["grads"]) == 0.0
    mean_loss = (float(out[0]["no_sync"]["loss"]) + float(out[1]["no_sync"]["loss"])) / 2
    assert mean_loss == pytest.approx(ref_loss, abs=GRAD_TOL_FP64)
    # no_sync: one all-reduce round (per bucket) per step instead of one per micro-batch
    buckets = out[0]["no_sync"]["allreduce_calls"]
    assert buckets >= 1
    assert out[0]["sync_every"]["allreduce_calls"] == 3 * buckets
    # forgetting to all-reduce the token count: each rank divides by its own N -> wrong gradient
    assert _rel_err(out[0]["local_count"]["grads"], ref) > NAIVE_MIN_REL_ERR
