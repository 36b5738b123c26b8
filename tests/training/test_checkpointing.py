import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from interviewlib.training import (
    Checkpointed,
    MemoryEfficientAttention,
    SavedTensorCounter,
    checkpoint_blocks,
    sqrt_segment_size,
)
from interviewlib.transformer import MultiHeadAttention, TransformerLM

FUSED_ATOL = 1e-5  # float32 flash kernel vs explicit softmax: different summation order, entries O(1)




def _lm(n_layers=4, d=16, h=2, vocab=11, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return TransformerLM(vocab_size=vocab, d_model=d, n_heads=h, n_layers=n_layers, max_len=16).to(dtype)


def _block_bytes_by_hand(B, T, d, H, e):
    """What one Pre-LN TransformerLM block saves, tensor by tensor (dropout=0, eager causal attention).

    LN1 input, the LN1 output (shared by the Q/K/V matmuls), Q and K copies made by matmul's
    reshape, V copy, output-projection input, LN2 input, LN2 output, GELU input (4d wide),
    second-matmul input (4d wide): 16 (B, T, d) tensors; the softmax output (B, H, T, T);
    the (T, T) bool causal mask; mean and rstd (B, T, 1) of both LayerNorms (CPU: input dtype).
    """
    return 16 * B * T * d * e + B * H * T * T * e + T * T + 4 * B * T * e


# --- SavedTensorCounter ----------------------------------------------------------------------


def test_counter_hand_worked_linear_relu():
    lin = nn.Linear(4, 3)
    x = torch.randn(2, 4, requires_grad=True)
    with SavedTensorCounter(exclude=lin.parameters()) as c:
        torch.relu(lin(x)).sum()
    assert c.nbytes == 2 * 4 * 4 + 2 * 3 * 4  # Linear keeps x, ReLU keeps its output
    assert c.excluded_nbytes == 3 * 4 * 4  # the weight (as W^T view) is saved but excluded


def test_counter_counts_each_storage_once_and_whole_storage():
    big = torch.randn(10, 8, requires_grad=True)
    with SavedTensorCounter() as c:
        x = big * 1.0  # new (10, 8) buffer, nothing saved (scalar multiply)
        y = x[:2] * x[:2]  # mul saves both operands: two views of one buffer
    assert len(c.records) == 2
    assert c.nbytes == x.untyped_storage().nbytes() == 10 * 8 * 4  # the whole buffer stays alive, once
    assert y.shape == (2, 8)


def test_counter_by_dtype_and_records():
    x = torch.randn(3, 5, requires_grad=True)
    with SavedTensorCounter() as c:
        x.bfloat16().exp()  # exp keeps its bf16 result
        x.sin()  # sin keeps x (fp32)
    assert c.nbytes_by_dtype() == {torch.bfloat16: 30, torch.float32: 60}
    assert sum(c.nbytes_by_dtype().values()) == c.nbytes


def test_counter_meta_device_equals_cpu():
    lm = _lm(n_layers=2)
    meta = copy.deepcopy(lm).to("meta")
    idx = torch.randint(0, 11, (2, 7))
    with SavedTensorCounter(exclude=lm.parameters()) as c_cpu:
        lm(idx)
    with SavedTensorCounter(exclude=meta.parameters()) as c_meta:
        meta(idx.to("meta"))
    assert c_meta.nbytes == c_cpu.nbytes > 0


@settings(max_examples=15, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 9),
    H=st.sampled_from([1, 2, 4]),
    dh=st.integers(1, 4),
    dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float64]),
)
def test_block_saved_bytes_equal_hand_count(B, T, H, dh, dtype):
    d = H * dh
    blk = _lm(n_layers=1, d=d, h=H, dtype=dtype).blocks[0]
    x = torch.randn(B, T, d, dtype=dtype, requires_grad=True)
    with SavedTensorCounter(exclude=blk.parameters()) as c:
        blk(x, is_causal=True)
    assert c.nbytes == _block_bytes_by_hand(B, T, d, H, dtype.itemsize)


def test_counter_bad_input():
    with pytest.raises(TypeError, match=r"exclude\[0\] must be a torch.Tensor"):
        SavedTensorCounter(exclude=[1.0])
    c = SavedTensorCounter()
    with c, pytest.raises(RuntimeError, match="already active"):
        c.__enter__()
    with pytest.raises(RuntimeError, match="already used"), c:
        pass


# --- Checkpointed / checkpoint_blocks ----------------------------------------------------------


def _loss(model, idx, tgt, vocab=11):
    return F.cross_entropy(model(idx).reshape(-1, vocab), tgt.reshape(-1))


@pytest.mark.parametrize("segment_size", [1, 2, "sqrt", 4])
def test_checkpointed_model_same_loss_and_grads(segment_size):
    lm = _lm(n_layers=4)
    ck = copy.deepcopy(lm)
    ck.blocks = checkpoint_blocks(ck.blocks, segment_size=segment_size)
    idx, tgt = torch.randint(0, 11, (3, 6)), torch.randint(0, 11, (3, 6))
    l0, l1 = _loss(lm, idx, tgt), _loss(ck, idx, tgt)
    l0.backward()
    l1.backward()
    assert torch.equal(l0, l1)
    for p0, p1 in zip(lm.parameters(), ck.parameters()):
        assert torch.equal(p0.grad, p1.grad)  # same kernels, same order: bitwise equal


def test_checkpointed_dropout_rng_restored():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5), nn.Linear(6, 6))
    x = torch.randn(4, 6, requires_grad=True)
    torch.manual_seed(1)
    y0 = seq(x)
    g0 = torch.autograd.grad(y0.sum(), x)[0]
    torch.manual_seed(1)
    y1 = Checkpointed(seq)(x)
    g1 = torch.autograd.grad(y1.sum(), x)[0]
    assert torch.equal(y0, y1)
    assert torch.equal(g0, g1)


@pytest.mark.parametrize(("segment_size", "n_saved"), [(1, 8), (2, 4), (3, 3), (8, 1)])
def test_checkpoint_saves_only_segment_inputs(segment_size, n_saved):
    B, T, d, L = 2, 5, 8, 8
    lm = _lm(n_layers=L, d=d)
    ck = copy.deepcopy(lm)
    ck.blocks = checkpoint_blocks(ck.blocks, segment_size=segment_size)
    idx = torch.randint(0, 11, (B, T))
    with SavedTensorCounter(exclude=lm.parameters()) as c_plain:
        lm(idx)
    with SavedTensorCounter(exclude=ck.parameters()) as c_ck:
        ck(idx)
    blocks = L * _block_bytes_by_hand(B, T, d, 2, 4)
    # everything outside the blocks is unchanged; the blocks keep one (B, T, d) input per segment
    assert c_plain.nbytes - c_ck.nbytes == blocks - n_saved * B * T * d * 4


def test_checkpoint_blocks_structure_and_which():
    blocks = nn.ModuleList(nn.Linear(3, 3) for _ in range(7))
    out = checkpoint_blocks(blocks, segment_size=3, which=range(0, 3, 2))
    assert [type(b).__name__ for b in out] == ["Checkpointed", "Linear", "Linear", "Linear", "Checkpointed"]
    assert list(out[0].segment) == list(blocks[:3]) and list(out[-1].segment) == [blocks[6]]
    assert len(blocks) == 7 and all(isinstance(b, nn.Linear) for b in blocks)  # input untouched
    x = torch.randn(2, 3)
    y_ref = x
    for b in blocks:
        y_ref = b(y_ref)
    y = x
    for b in out:
        y = b(y)
    assert torch.equal(y, y_ref)


@pytest.mark.parametrize(("n", "k"), [(1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (9, 3), (10, 4), (16, 4), (17, 5)])
def test_sqrt_segment_size(n, k):
    assert sqrt_segment_size(n) == k
    assert (k - 1) ** 2 < n <= k * k  # k = ceil(sqrt(n))


def _flops(fn):
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


@pytest.mark.parametrize("early_stop", [False, True])
def test_recompute_flops_are_one_extra_block_forward(early_stop):
    B, T, d, L = 2, 6, 16, 3
    lm = _lm(n_layers=L, d=d)
    ck = copy.deepcopy(lm)
    ck.blocks = checkpoint_blocks(ck.blocks, early_stop=early_stop)
    idx, tgt = torch.randint(0, 11, (B, T)), torch.randint(0, 11, (B, T))
    with torch.no_grad():
        fwd = _flops(lambda: _loss(lm, idx, tgt))
        x = torch.randn(B, T, d)
        blocks_fwd = _flops(lambda: [blk(x, is_causal=True) for blk in lm.blocks])
    plain = _flops(lambda: _loss(lm, idx, tgt).backward())
    ckpt = _flops(lambda: _loss(ck, idx, tgt).backward())
    assert plain == 3 * fwd  # matmul backward = two matmuls of the same size
    last_linear = L * 2 * B * T * 4 * d * d  # early stop: the final FFN matmul is not rerun
    assert ckpt - plain == blocks_fwd - (last_linear if early_stop else 0)


def test_checkpoint_bad_input():
    with pytest.raises(ValueError, match="at least one module"):
        Checkpointed()
    with pytest.raises(TypeError, match=r"modules\[0\] must be an nn.Module"):
        Checkpointed(lambda x: x)
    with pytest.raises(TypeError, match="early_stop must be a bool"):
        Checkpointed(nn.Identity(), early_stop=1)
    blocks = [nn.Identity(), nn.Identity()]
    with pytest.raises(ValueError, match="at least one module"):
        checkpoint_blocks([])
    with pytest.raises(TypeError, match=r"blocks\[1\] must be an nn.Module"):
        checkpoint_blocks([nn.Identity(), 3])
    with pytest.raises(ValueError, match="segment_size must be >= 1"):
        checkpoint_blocks(blocks, segment_size=0)
    with pytest.raises(TypeError, match="segment_size must be an integer"):
        checkpoint_blocks(blocks, segment_size=1.5)
    with pytest.raises(ValueError, match="positive int or 'sqrt'"):
        checkpoint_blocks(blocks, segment_size="log")
    with pytest.raises(ValueError, match=r"which must index the 2 segments"):
        checkpoint_blocks(blocks, which=[2])
    with pytest.raises(ValueError, match="n_blocks must be >= 1"):
        sqrt_segment_size(0)


# --- MemoryEfficientAttention ------------------------------------------------------------------


@pytest.mark.parametrize("core", ["recompute", "fused"])
@pytest.mark.parametrize("masks", ["none", "key", "key+bool", "key+additive"])
def test_memory_efficient_attention_matches_mha(core, masks):
    torch.manual_seed(0)
    B, T, d, H = 2, 6, 8, 2
    mha = MultiHeadAttention(d, H)
    x = torch.randn(B, T, d, requires_grad=True)
    kw = {"is_causal": True}
    if masks != "none":
        kw["key_mask"] = torch.tensor([[True] * T, [True] * 4 + [False] * 2])
    if masks == "key+bool":
        kw["attn_mask"] = torch.rand(T, T, generator=torch.Generator().manual_seed(1)) > 0.3
        kw["attn_mask"].fill_diagonal_(True)
    if masks == "key+additive":
        kw["attn_mask"] = torch.randn(T, T)
    ref = mha(x, **kw)
    ours = MemoryEfficientAttention(mha, core=core)(x, **kw)
    g_ref = torch.autograd.grad(ref.sum(), [x, mha.q_proj.weight])
    g_ours = torch.autograd.grad(ours.sum(), [x, mha.q_proj.weight])
    atol = 0.0 if core == "recompute" else FUSED_ATOL
    torch.testing.assert_close(ours, ref, atol=atol, rtol=0)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("core", ["recompute", "fused"])
def test_memory_efficient_attention_saved_bytes(core, dtype):
    B, T, d, H = 3, 5, 16, 2
    e = dtype.itemsize
    blk = _lm(n_layers=1, d=d, h=H, dtype=dtype).blocks[0]
    blk.self_attn = MemoryEfficientAttention(blk.self_attn, core=core)
    x = torch.randn(B, T, d, dtype=dtype, requires_grad=True)
    with SavedTensorCounter(exclude=blk.parameters()) as c:
        blk(x, is_causal=True)
    # no (B, H, T, T) scores and no (T, T) mask; Q, K, V are kept instead of matmul copies;
    # the fused kernel adds a (B, H, T) fp32 logsumexp and its output is the out-proj input
    lse = 4 * B * H * T if core == "fused" else 0
    assert c.nbytes == 16 * B * T * d * e + 4 * B * T * e + lse


def test_memory_efficient_attention_bad_input():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(TypeError, match="mha must be an interviewlib MultiHeadAttention"):
        MemoryEfficientAttention(nn.MultiheadAttention(8, 2))
    with pytest.raises(ValueError, match="core must be 'recompute' or 'fused'"):
        MemoryEfficientAttention(mha, core="flash")
    att = MemoryEfficientAttention(mha)
    with pytest.raises(ValueError, match="must be 3-D"):
        att(torch.randn(5, 8))
    with pytest.raises(ValueError, match="last dimension d_model=8"):
        att(torch.randn(1, 5, 4))
    with pytest.raises(ValueError, match="key_mask must be a bool tensor of shape"):
        att(torch.randn(1, 5, 8), key_mask=torch.ones(1, 4, dtype=torch.bool))
