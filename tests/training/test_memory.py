import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from interviewlib.training import (
    MemoryEfficientAttention,
    SavedTensorCounter,
    TrainingMemory,
    activation_bytes_per_layer,
    bytes_per_param,
    checkpoint_blocks,
    dtype_bytes,
    model_state_bytes,
    training_memory,
)
from interviewlib.transformer import TransformerLM

REL = 1e-12  # the formulas divide by t in floating point: a few ulps (~1e-16) of rounding, nothing more




# --- model states ------------------------------------------------------------------------------


def test_zero_paper_figure_1():
    # Rajbhandari et al. 2019, Figure 1: Psi = 7.5B, N_d = 64, K = 12.
    psi, n_d = 7_500_000_000, 64
    got = [model_state_bytes(psi, zero_stage=s, dp_size=n_d)["total"] for s in range(4)]
    assert [round(g / 1e9, 1) for g in got] == [120.0, 31.4, 16.6, 1.9]
    # the closed forms of Section 5.1, written out
    assert got == [16 * psi, 4 * psi + 12 * psi / n_d, 2 * psi + 14 * psi / n_d, 16 * psi / n_d]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, (2, 2, 12)),  # ZeRO's mixed-precision Adam
        ({"weight_dtype": "fp32", "grad_dtype": "fp32", "master_dtype": None}, (4, 4, 8)),  # plain fp32 AdamW
        ({"grad_dtype": "fp32"}, (2, 4, 12)),  # Megatron-LM: fp32 main gradients, 18 bytes
        ({"optimizer_states": ("int8", "int8")}, (2, 2, 6)),  # 8-bit Adam states, fp32 master
        ({"weight_dtype": "fp16", "optimizer_states": ("fp32",)}, (2, 2, 8)),  # SGD + momentum
        ({"weight_dtype": torch.float32, "grad_dtype": torch.float32, "master_dtype": None, "optimizer_states": ()}, (4, 4, 0)),
    ],
)
def test_bytes_per_param_cases(kwargs, expected):
    got = bytes_per_param(**kwargs)
    assert (got["weights"], got["gradients"], got["optimizer_states"]) == expected
    assert got["total"] == sum(expected)


def _measured_state_bytes(params, opt):
    w = sum(p.untyped_storage().nbytes() for p in params)
    g = sum(p.grad.untyped_storage().nbytes() for p in params)
    big = sum(v.untyped_storage().nbytes() for st in opt.state.values() for k, v in st.items() if k != "step")
    steps = sum(st["step"].untyped_storage().nbytes() for st in opt.state.values())
    return w, g, big, steps


def test_fp32_adamw_state_bytes_measured():
    torch.manual_seed(0)
    lm = TransformerLM(vocab_size=13, d_model=16, n_heads=2, n_layers=2, max_len=8)
    params = list(lm.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    lm(torch.randint(0, 13, (2, 8))).float().pow(2).mean().backward()
    opt.step()
    psi = sum(p.numel() for p in params)
    w, g, big, steps = _measured_state_bytes(params, opt)
    est = model_state_bytes(psi, weight_dtype="fp32", grad_dtype="fp32", master_dtype=None)
    assert (w, g, big) == (est["weights"], est["gradients"], est["optimizer_states"])
    assert steps == 4 * len(params)  # torch also keeps one fp32 step counter per parameter tensor


def test_mixed_precision_adamw_state_bytes_measured():
    # bf16 working copy for forward/backward, fp32 master weights updated by AdamW (ZeRO's setting)
    torch.manual_seed(0)
    lm = TransformerLM(vocab_size=13, d_model=16, n_heads=2, n_layers=2, max_len=8).to(torch.bfloat16)
    params = list(lm.parameters())
    master = [p.detach().float().requires_grad_() for p in params]
    opt = torch.optim.AdamW(master, lr=1e-3)
    lm(torch.randint(0, 13, (2, 8))).float().pow(2).mean().backward()
    for m, p in zip(master, params):
        m.grad = p.grad.float()
    opt.step()
    psi = sum(p.numel() for p in params)
    w = sum(p.untyped_storage().nbytes() for p in params)
    g = sum(p.grad.untyped_storage().nbytes() for p in params)
    k = sum(m.untyped_storage().nbytes() for m in master)
    k += sum(v.untyped_storage().nbytes() for s in opt.state.values() for name, v in s.items() if name != "step")
    est = model_state_bytes(psi)
    assert (w, g, k) == (est["weights"], est["gradients"], est["optimizer_states"]) == (2 * psi, 2 * psi, 12 * psi)


def test_tensor_parallel_divides_states():
    a = model_state_bytes(10**6, zero_stage=1, dp_size=4)
    b = model_state_bytes(10**6, zero_stage=1, dp_size=4, tensor_parallel=8)
    assert all(b[k] * 8 == a[k] for k in a)


# --- activations -------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    s=st.integers(1, 4096),
    b=st.integers(1, 8),
    a_log=st.integers(0, 5),
    head=st.integers(1, 128),
    t_log=st.integers(0, 3),
)
def test_korthikanti_table_2(s, b, a_log, head, t_log):
    a, t = 2**a_log * 8, 2**t_log  # t divides a
    h = a * head
    sbh = s * b * h

    def total(**kw):
        return activation_bytes_per_layer(s, b, h, a, **kw)["total"]

    assert total() == 34 * sbh + 5 * a * s * s * b  # = sbh (34 + 5 a s / h), in integers
    assert total(tensor_parallel=t) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)), rel=REL)
    if s % t == 0:
        assert total(tensor_parallel=t, sequence_parallel=True) == pytest.approx(
            sbh * (34 / t + 5 * a * s / (h * t)), rel=REL
        )
        assert total(tensor_parallel=t, sequence_parallel=True, recompute="selective") == pytest.approx(
            sbh * 34 / t, rel=REL
        )
    assert total(tensor_parallel=t, recompute="selective") == pytest.approx(sbh * (10 + 24 / t), rel=REL)
    assert total(recompute="full") == 2 * sbh
    # FlashAttention removes exactly the score terms
    assert total() - total(attention="flash") == 5 * a * s * s * b


@pytest.mark.parametrize(("f", "t"), [(11008, 1), (11008, 8), (4096, 2), (20480, 4)])
def test_megatron_formula_general_ffn(f, t):
    # Megatron-LM theoretical_memory_usage.py (selective recompute + sequence parallel): sbh(18 + 4 f/h) / t
    s, b, h, a = 4096, 2, 4096, 32
    got = activation_bytes_per_layer(s, b, h, a, ffn_hidden=f, recompute="selective", tensor_parallel=t,
                                     sequence_parallel=True)["total"]
    assert got == pytest.approx(s * b * h * (18 + 4 * f / h) / t, rel=REL)


def _lm(dtype, n_layers=1, d=16, h=2):
    torch.manual_seed(0)
    return TransformerLM(vocab_size=11, d_model=d, n_heads=h, n_layers=n_layers, max_len=16).to(dtype)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("variant", ["eager", "selective", "flash", "full"])
def test_formula_vs_measured_transformer_block(dtype, variant):
    B, T, d, H = 3, 7, 16, 2
    e = dtype.itemsize
    lm = _lm(dtype, n_layers=2, d=d, h=H)
    blocks = lm.blocks
    if variant in ("selective", "flash"):
        for blk in blocks:
            blk.self_attn = MemoryEfficientAttention(blk.self_attn, core="recompute" if variant == "selective" else "fused")
    if variant == "full":
        blocks = checkpoint_blocks(blocks)
    x = torch.randn(B, T, d, dtype=dtype, requires_grad=True)
    with SavedTensorCounter(exclude=lm.parameters()) as c:
        y = x
        for blk in blocks:
            y = blk(y, is_causal=True)
    kw = {"attention": "flash"} if variant == "flash" else {"recompute": {"eager": "none"}.get(variant, variant)}
    formula = activation_bytes_per_layer(T, B, d, H, activation_dtype=dtype, dropout=False, **kw)["total"]
    # small terms the paper neglects, exactly as this model stores them on CPU:
    # LayerNorm mean/rstd (4 sb values), the (T, T) bool causal mask, the flash logsumexp (a s b fp32)
    small = {"eager": 4 * B * T * e + T * T, "selective": 4 * B * T * e, "flash": 4 * B * T * e + 4 * H * T * B,
             "full": 0}[variant]
    assert c.nbytes == 2 * (formula + small)


def test_swiglu_term_vs_hf_llama_mlp():
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaMLP

    cfg = transformers.LlamaConfig(hidden_size=16, intermediate_size=44, num_attention_heads=2, hidden_act="silu")
    torch.manual_seed(0)
    mlp = LlamaMLP(cfg).to(torch.bfloat16)
    s, b = 5, 3
    x = torch.randn(b, s, 16, dtype=torch.bfloat16, requires_grad=True)
    with SavedTensorCounter(exclude=mlp.parameters()) as c:
        mlp(x)
    part = activation_bytes_per_layer(s, b, 16, 2, ffn_hidden=44, mlp="swiglu", dropout=False)["mlp"]
    assert c.nbytes == part == 2 * s * b * 16 + 4 * 2 * s * b * 44


def test_hf_llama_decoder_layer_vs_formula():
    # transformers 5.23 LlamaDecoderLayer, bf16, sdpa (CPU flash kernel), no dropout. The
    # attention and MLP terms equal the formula's; each LlamaRMSNorm upcasts to fp32 and keeps
    # the fp32 input (4 sbh) and the bf16 normalised x (2 sbh) instead of one 2 sbh input,
    # plus an fp32 rstd (4 sb); the kernel adds its fp32 logsumexp (4 a s b).
    transformers = pytest.importorskip("transformers")
    s, b, h, a, f = 16, 2, 64, 4, 176
    cfg = transformers.LlamaConfig(vocab_size=50, hidden_size=h, intermediate_size=f, num_hidden_layers=1,
                                   num_attention_heads=a, max_position_embeddings=64, attn_implementation="sdpa")
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16)
    x = torch.randn(b, s, h, dtype=torch.bfloat16, requires_grad=True)
    pos = torch.arange(s)[None]
    cos, sin = model.model.rotary_emb(x, pos)
    with SavedTensorCounter(exclude=[*model.parameters(), cos, sin]) as c:
        model.model.layers[0](x, position_embeddings=(cos, sin), attention_mask=None, position_ids=pos)
    formula = activation_bytes_per_layer(s, b, h, a, ffn_hidden=f, mlp="swiglu", dropout=False, attention="flash")
    sbh = s * b * h
    rmsnorm_extra = 2 * (4 * sbh + 2 * sbh + 4 * s * b) - formula["norms"]
    assert c.nbytes == formula["total"] + rmsnorm_extra + 4 * a * s * b
    assert c.nbytes == 24 * sbh + 8 * s * b * f + 4 * a * s * b + 8 * s * b


# --- training_memory ---------------------------------------------------------------------------


def _cfg(**kw):
    base = dict(n_layers=4, hidden=64, n_heads=4, seq_len=32, micro_batch=2, vocab_size=100)
    base.update(kw)
    return base


def test_training_memory_sums_its_parts():
    psi = 10**7
    m = training_memory(psi, **_cfg(), zero_stage=2, dp_size=8, comm_buffer_bytes=1000)
    assert isinstance(m, TrainingMemory)
    states = model_state_bytes(psi, zero_stage=2, dp_size=8)
    assert (m.weights, m.gradients, m.optimizer_states) == (states["weights"], states["gradients"], states["optimizer_states"])
    s, b, h, v, L = 32, 2, 64, 100, 4
    layer = activation_bytes_per_layer(s, b, h, 4)["total"]
    assert m.activations == L * layer + (8 * s * b + s * b * h) + (4 * s * b * h + 4 * s * b * v)
    assert m.temporaries == 4 * s * b * v + 1000
    d = m.as_dict()
    assert d["total"] == m.total == m.model_states + m.activations + m.temporaries
    assert d["model_states"] == states["total"]


def test_training_memory_full_recompute_adds_one_layer():
    m = training_memory(10**7, **_cfg(), recompute="full", dropout=False)
    s, b, h = 32, 2, 64
    one_layer = activation_bytes_per_layer(s, b, h, 4, dropout=False)["total"]
    assert m.detail["recompute_buffer"] == one_layer
    assert m.detail["layers"] == 4 * 2 * s * b * h


def test_training_memory_measured_whole_model_activations():
    # whole bf16 TransformerLM + cross-entropy, reconciled term by term with the estimator
    B, T, d, H, V, L = 2, 6, 16, 2, 11, 3
    e, sb = 2, B * T
    lm = _lm(torch.bfloat16, n_layers=L, d=d, h=H)
    idx, tgt = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    with SavedTensorCounter(exclude=lm.parameters()) as c:
        torch.nn.functional.cross_entropy(lm(idx).reshape(-1, V), tgt.reshape(-1))
    m = training_memory(sum(p.numel() for p in lm.parameters()), n_layers=L, hidden=d, n_heads=H, seq_len=T,
                        micro_batch=B, vocab_size=V, dropout=False)
    small_per_layer = 4 * sb * e + T * T  # LayerNorm mean/rstd, (T, T) bool causal mask
    positions = 8 * T  # int64 position ids (the estimator counts only the token ids)
    # the estimator assumes fp32 log-probs (4 s b v); with bf16 logits torch keeps them in bf16
    output = m.detail["output_layer"] - 4 * sb * V + e * sb * V + 2 * sb * e  # + final-norm stats
    loss_extras = 8 * sb + e  # int64 targets, the 0-d total weight
    expected = m.detail["layers"] + L * small_per_layer + m.detail["embedding"] + positions + output + loss_extras
    assert c.nbytes == expected


def test_llama2_7b_param_count_vs_hf():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.LlamaConfig()  # defaults: Llama-2-7B shapes (v 32000, h 4096, f 11008, 32 layers)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(cfg)
    v, h, f, L = cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    assert sum(p.numel() for p in model.parameters()) == 2 * v * h + L * (4 * h * h + 3 * h * f + 2 * h) + h


def test_llama2_7b_example():
    m = training_memory(6_738_415_616, n_layers=32, hidden=4096, n_heads=32, seq_len=4096, micro_batch=1,
                        vocab_size=32000, ffn_hidden=11008, mlp="swiglu", dropout=False, attention="flash")
    assert m.model_states == 16 * 6_738_415_616
    sbh, sbf = 4096 * 4096, 4096 * 11008
    assert m.detail["layers"] == 32 * (16 * sbh + 8 * sbf)


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match="dtype must be one of"):
        dtype_bytes("fp12")
    with pytest.raises(TypeError, match="dtype must be a dtype name or torch.dtype"):
        dtype_bytes(2)
    with pytest.raises(ValueError, match="master_dtype must be one of"):
        bytes_per_param(master_dtype="double-ish")
    with pytest.raises(TypeError, match="optimizer_states must be a sequence"):
        bytes_per_param(optimizer_states="fp32")
    with pytest.raises(ValueError, match=r"optimizer_states\[1\] must be one of"):
        bytes_per_param(optimizer_states=("fp32", "fp33"))
    for stage in (4, -1, True, "1", 1.5):
        with pytest.raises(ValueError, match="zero_stage must be 0, 1, 2 or 3"):
            model_state_bytes(10, zero_stage=stage)
    with pytest.raises(ValueError, match="n_params must be >= 1"):
        model_state_bytes(0)
    with pytest.raises(TypeError, match="n_params must be an integer"):
        model_state_bytes(7.5e9)
    with pytest.raises(ValueError, match="dp_size must be >= 1"):
        model_state_bytes(10, dp_size=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        model_state_bytes(10, weight_type="bf16")
    args = (128, 2, 64, 4)
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        activation_bytes_per_layer(-1, 2, 64, 4)
    with pytest.raises(ValueError, match="hidden must be divisible by n_heads"):
        activation_bytes_per_layer(128, 2, 64, 5)
    with pytest.raises(ValueError, match="mlp must be one of"):
        activation_bytes_per_layer(*args, mlp="relu2")
    with pytest.raises(ValueError, match="attention must be one of"):
        activation_bytes_per_layer(*args, attention="sparse")
    with pytest.raises(ValueError, match="recompute must be one of"):
        activation_bytes_per_layer(*args, recompute="partial")
    with pytest.raises(ValueError, match="activation_dtype must be one of"):
        activation_bytes_per_layer(*args, activation_dtype="bf17")
    with pytest.raises(TypeError, match="dropout must be a bool"):
        activation_bytes_per_layer(*args, dropout=0)
    with pytest.raises(ValueError, match="tensor_parallel must divide n_heads and ffn_hidden"):
        activation_bytes_per_layer(*args, tensor_parallel=3)
    with pytest.raises(ValueError, match="sequence_parallel needs seq_len % tensor_parallel == 0"):
        activation_bytes_per_layer(126, 2, 64, 4, tensor_parallel=4, sequence_parallel=True)
    with pytest.raises(ValueError, match="vocab_size must be >= 1"):
        training_memory(10, **_cfg(vocab_size=0))
    with pytest.raises(ValueError, match="comm_buffer_bytes must be >= 0"):
        training_memory(10, **_cfg(), comm_buffer_bytes=-1)


def test_inputs_not_mutated():
    states = ("fp32", "fp32")
    bytes_per_param(optimizer_states=states)
    assert states == ("fp32", "fp32")
    lm = _lm(torch.float32)
    before = copy.deepcopy(lm.state_dict())
    checkpoint_blocks(lm.blocks)
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())
    assert isinstance(lm.blocks[0], nn.Module) and type(lm.blocks[0]).__name__ == "EncoderLayer"
