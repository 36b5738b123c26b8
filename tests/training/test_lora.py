import copy
import math
from collections import OrderedDict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from interviewlib.training import LoRALinear, apply_lora, count_parameters, lora_scaling, merge_lora

peft = pytest.importorskip("peft")
from peft import LoraConfig, get_peft_model  # noqa: E402

ATOL = 1e-12  # float64 on both sides, a few matmuls of width <= 16: rounding is ~1e-15
GAUSS_STD_RTOL = 0.1  # empirical std of 1600 normal draws: relative s.e. 1/sqrt(2n) = 1.8%, so 10% is ~5 s.e.




def _mlp(seed=0):
    torch.manual_seed(seed)
    layers = OrderedDict(
        fc1=nn.Linear(6, 5), act=nn.Tanh(), fc2=nn.Linear(5, 4), act2=nn.Tanh(), head=nn.Linear(4, 3, bias=False)
    )
    return nn.Sequential(layers).double()


class _Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q_proj, self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        return x + self.o_proj(torch.tanh(self.q_proj(x)) * self.v_proj(x))


class _Net(nn.Module):
    def __init__(self, d=8, n=2):
        super().__init__()
        self.layers = nn.ModuleList(_Block(d) for _ in range(n))
        self.lm_head = nn.Linear(d, 3)

    def forward(self, x):
        for block in self.layers:
            x = block(x)
        return self.lm_head(x)


def _peft_layers(ref):
    """name -> peft LoRA layer, names relative to the wrapped model."""
    out = {}
    for name, m in ref.base_model.model.named_modules():
        if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {}):
            out[name] = m
    return out


def _randomise_and_copy(ours, ref, seed=1):
    """Give our A, B random values (B != 0 so the adapter matters) and copy them into peft's."""
    g = torch.Generator().manual_seed(seed)
    ref_layers = _peft_layers(ref)
    ours_layers = {n: m for n, m in ours.named_modules() if isinstance(m, LoRALinear)}
    assert set(ours_layers) == set(ref_layers)
    with torch.no_grad():
        for name, layer in ours_layers.items():
            layer.lora_A.copy_(torch.randn(layer.lora_A.shape, generator=g, dtype=torch.float64))
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g, dtype=torch.float64))
            ref_layers[name].lora_A["default"].weight.copy_(layer.lora_A)
            ref_layers[name].lora_B["default"].weight.copy_(layer.lora_B)
    return ours_layers, ref_layers


@pytest.mark.parametrize(
    ("r", "alpha", "rslora"), [(1, 1, False), (2, 16, False), (4, 3.5, False), (4, 8, True), (3, 1, True)]
)
def test_outputs_scaling_and_merge_match_peft(r, alpha, rslora):
    model = _mlp()
    targets = ["fc1", "fc2", "head"]
    ours = apply_lora(model, target_modules=targets, r=r, alpha=alpha, rslora=rslora)
    ref = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, use_rslora=rslora)
    )
    ours_layers, ref_layers = _randomise_and_copy(ours, ref)
    for name, layer in ours_layers.items():
        assert layer.scaling == pytest.approx(ref_layers[name].scaling["default"], rel=1e-15)
    x = torch.randn(7, 6, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)
    merged_ours = merge_lora(ours)
    merged_ref = ref.merge_and_unload()
    for name in targets:
        torch.testing.assert_close(
            getattr(merged_ours, name).weight, getattr(merged_ref, name).weight, atol=ATOL, rtol=0
        )
        torch.testing.assert_close(
            ours_layers[name].merged_weight(), getattr(merged_ref, name).weight, atol=ATOL, rtol=0
        )
    torch.testing.assert_close(merged_ours(x), merged_ref(x), atol=ATOL, rtol=0)
    assert all(type(getattr(merged_ours, n)) is nn.Linear for n in targets)


def test_target_matching_and_trainable_count_match_peft():
    torch.manual_seed(0)
    net = _Net().double()
    targets = ["q_proj", "v_proj"]
    ours = apply_lora(net, target_modules=targets, r=2, alpha=4)
    ref = get_peft_model(copy.deepcopy(net), LoraConfig(r=2, lora_alpha=4, target_modules=targets))
    ours_names = {n for n, m in ours.named_modules() if isinstance(m, LoRALinear)}
    assert ours_names == set(_peft_layers(ref)) == {f"layers.{i}.{p}" for i in range(2) for p in targets}
    assert tuple(count_parameters(ours)) == ref.get_nb_trainable_parameters()
    _randomise_and_copy(ours, ref, seed=3)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)


def test_dropout_acts_on_adapter_path_like_peft():
    model = _mlp()
    ours = apply_lora(model, target_modules=["fc1"], r=2, alpha=2, dropout=0.5)
    ref = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, lora_alpha=2, target_modules=["fc1"], lora_dropout=0.5))
    _randomise_and_copy(ours, ref)
    x = torch.randn(9, 6, dtype=torch.float64)
    ours.train()
    ref.train()
    torch.manual_seed(5)
    y_ours = ours(x)
    torch.manual_seed(5)
    y_ref = ref(x)
    torch.testing.assert_close(y_ours, y_ref, atol=ATOL, rtol=0)
    # by hand: base(x) + s * B A drop(x), with the same dropout mask
    layer = ours.fc1
    torch.manual_seed(5)
    mask = torch.nn.functional.dropout(torch.ones_like(x), 0.5, training=True)
    by_hand = layer.base(x) + layer.scaling * (x * mask) @ layer.lora_A.T @ layer.lora_B.T
    torch.manual_seed(5)
    torch.testing.assert_close(layer(x), by_hand, atol=ATOL, rtol=0)
    # eval mode: dropout is off, so the output equals the merged layer
    ours.eval()
    torch.testing.assert_close(ours(x), merge_lora(ours)(x), atol=ATOL, rtol=0)


def test_a_init_follows_peft_and_torch():
    d_in, d_out, r = 40, 30, 4
    base = nn.Linear(d_in, d_out).double()
    # kaiming: the same draw as torch's kaiming_uniform_(a=sqrt 5) from the same generator
    ours = LoRALinear(base, r=r, alpha=1, generator=torch.Generator().manual_seed(7))
    want = torch.empty(r, d_in, dtype=torch.float64)
    torch.nn.init.kaiming_uniform_(want, a=math.sqrt(5), generator=torch.Generator().manual_seed(7))
    assert torch.equal(ours.lora_A, want)
    assert torch.equal(ours.lora_B, torch.zeros(d_out, r, dtype=torch.float64))
    # ... whose bound is 1/sqrt(d_in), as for peft's default init
    ref = get_peft_model(
        nn.Sequential(OrderedDict(fc=copy.deepcopy(base))), LoraConfig(r=r, lora_alpha=1, target_modules=["fc"])
    )
    ref_a = _peft_layers(ref)["fc"].lora_A["default"].weight
    bound = 1 / math.sqrt(d_in)
    assert ours.lora_A.abs().max() <= bound and ref_a.abs().max() <= bound
    assert ours.lora_A.abs().max() > 0.8 * bound and ref_a.abs().max() > 0.8 * bound  # 160 draws fill the interval
    assert not _peft_layers(ref)["fc"].lora_B["default"].weight.any()
    # gaussian: N(0, 1/r^2), as peft's init_lora_weights="gaussian"
    big = nn.Linear(400, 10).double()
    ours_g = LoRALinear(big, r=r, alpha=1, init="gaussian", generator=torch.Generator().manual_seed(8))
    want = torch.empty(r, 400, dtype=torch.float64)
    torch.nn.init.normal_(want, std=1 / r, generator=torch.Generator().manual_seed(8))
    assert torch.equal(ours_g.lora_A, want)
    ref_g = get_peft_model(
        nn.Sequential(OrderedDict(fc=big)),
        LoraConfig(r=r, lora_alpha=1, target_modules=["fc"], init_lora_weights="gaussian"),
    )
    for a in (ours_g.lora_A, _peft_layers(ref_g)["fc"].lora_A["default"].weight):
        assert a.std().item() == pytest.approx(1 / r, rel=GAUSS_STD_RTOL)


@pytest.mark.parametrize(
    ("r", "alpha", "rslora", "want"),
    [(8, 16, False, 2.0), (16, 16, True, 4.0), (1, 3, True, 3.0), (64, 16, False, 0.25)],
)
def test_lora_scaling_closed_form(r, alpha, rslora, want):
    assert lora_scaling(r, alpha, rslora=rslora) == want
    assert LoRALinear(nn.Linear(2, 2), r=r, alpha=alpha, rslora=rslora).scaling == want


def test_zero_b_means_base_output_and_only_b_gets_gradient_at_step_zero():
    model = _mlp()
    ours = apply_lora(model, target_modules=["fc1", "fc2", "head"], r=3, alpha=6)
    x = torch.randn(10, 6, dtype=torch.float64)
    assert torch.equal(ours(x), model(x))  # B = 0: exactly the base model
    ours(x).square().sum().backward()
    for name, p in ours.named_parameters():
        if "lora_" in name:
            assert p.grad is not None
        else:
            assert p.grad is None and not p.requires_grad, name
    # dL/dA = s B^T (dL/dh) x^T = 0 while B = 0; dL/dB = s (dL/dh) (A x)^T != 0
    assert not ours.fc1.lora_A.grad.any()
    assert ours.fc1.lora_B.grad.abs().sum() > 0


def test_only_a_and_b_change_when_training():
    model = _mlp()
    ours = apply_lora(model, target_modules=["fc1", "fc2"], r=2, alpha=2)
    frozen = {n: p.detach().clone() for n, p in ours.named_parameters() if "lora_" not in n}
    opt = torch.optim.SGD([p for p in ours.parameters() if p.requires_grad], lr=0.1)
    x, y = torch.randn(16, 6, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    for _ in range(3):
        opt.zero_grad()
        (ours(x) - y).square().mean().backward()
        opt.step()
    for n, p in ours.named_parameters():
        if "lora_" in n:
            continue
        assert torch.equal(p, frozen[n]), n
    assert ours.fc1.lora_B.abs().sum() > 0 and ours.fc1.lora_A.grad.abs().sum() > 0


@settings(max_examples=25, deadline=None)
@given(
    d_in=st.integers(1, 12),
    d_out=st.integers(1, 12),
    r=st.integers(1, 6),
    alpha=st.floats(0.1, 64.0),
    rslora=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_merged_equals_unmerged_property(d_in, d_out, r, alpha, rslora, bias, seed):
    g = torch.Generator().manual_seed(seed)
    base = nn.Linear(d_in, d_out, bias=bias).double()
    layer = LoRALinear(base, r=r, alpha=alpha, rslora=rslora, generator=g)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(d_out, r, generator=g, dtype=torch.float64))
    w0 = base.weight.detach().clone()
    x = torch.randn(4, 3, d_in, generator=g, dtype=torch.float64)
    s = alpha / math.sqrt(r) if rslora else alpha / r
    # closed form, written out: W0 + s * sum_k b_k a_k^T
    want_w = w0 + s * sum(torch.outer(layer.lora_B[:, k], layer.lora_A[k]) for k in range(r))
    torch.testing.assert_close(layer.merged_weight(), want_w, atol=ATOL, rtol=0)
    y = layer(x)
    torch.testing.assert_close(y, torch.nn.functional.linear(x, want_w, base.bias), atol=ATOL, rtol=0)
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer(x), y, atol=ATOL, rtol=0)
    torch.testing.assert_close(layer.merged_weight(), want_w, atol=ATOL, rtol=0)
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, w0, atol=ATOL, rtol=0)
    assert torch.equal(base.weight, w0)  # the caller's layer was copied, never written


@pytest.mark.parametrize("r", [1, 4, 16])
def test_parameter_count_closed_form(r):
    torch.manual_seed(0)
    net = _Net(d=16, n=3).double()
    total0 = count_parameters(net).total
    targets = ["q_proj", "v_proj", "o_proj", "lm_head"]
    ours = apply_lora(net, target_modules=targets, r=r, alpha=1)
    shapes = [m.weight.shape for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    want = sum(r * (d_in + d_out) for d_out, d_in in shapes)
    pc = count_parameters(ours)
    assert pc.trainable == want == 3 * 3 * r * 32 + r * (16 + 3)
    assert pc.total == total0 + want
    assert pc.fraction == pytest.approx(want / (total0 + want))
    assert count_parameters(net).trainable == total0  # input untouched, still fully trainable


def test_apply_and_merge_do_not_modify_inputs():
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    ours = apply_lora(model, target_modules=["fc1"], r=2, alpha=2)
    with torch.no_grad():
        ours.fc1.lora_B.fill_(1.0)
    merge_lora(ours)
    assert not ours.fc1.merged and type(model.fc1) is nn.Linear
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())
    assert isinstance(merge_lora(ours.fc1), nn.Linear)


def test_merge_state_errors_and_repr():
    layer = LoRALinear(nn.Linear(3, 2), r=1, alpha=2, rslora=True)
    assert "r=1" in repr(layer) and "rslora" in repr(layer)
    with pytest.raises(RuntimeError, match="not merged"):
        layer.unmerge()
    layer.merge()
    with pytest.raises(RuntimeError, match="already merged"):
        layer.merge()


def test_bad_input():
    lin = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="r must be >= 1"):
        LoRALinear(lin, r=0, alpha=1)
    with pytest.raises(ValueError, match="r must be >= 1"):
        lora_scaling(-2, 1)
    with pytest.raises(TypeError, match="r must be an integer"):
        LoRALinear(lin, r=2.0, alpha=1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        LoRALinear(lin, r=2, alpha=0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        lora_scaling(2, -1.0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        LoRALinear(lin, r=2, alpha="16")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        LoRALinear(lin, r=2, alpha=1, dropout=1.0)
    with pytest.raises(TypeError, match="rslora must be a bool"):
        LoRALinear(lin, r=2, alpha=1, rslora=1)
    with pytest.raises(ValueError, match="init must be one of"):
        LoRALinear(lin, r=2, alpha=1, init="xavier")
    with pytest.raises(TypeError, match="base must be a torch.nn.Linear"):
        LoRALinear(nn.Conv1d(4, 3, 1), r=2, alpha=1)
    with pytest.raises(TypeError, match="not already wrapped"):
        LoRALinear(LoRALinear(lin, r=1, alpha=1), r=2, alpha=1)
    layer = LoRALinear(lin, r=2, alpha=1)
    with pytest.raises(ValueError, match="last dimension d_in = 4"):
        layer(torch.randn(2, 5))
    with pytest.raises(ValueError, match="floating dtype"):
        layer(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        layer([[1.0, 2.0, 3.0, 4.0]])

    model = _mlp()
    with pytest.raises(ValueError, match=r"\['fc9'\] match no submodule.*'fc1'"):
        apply_lora(model, target_modules=["fc1", "fc9"], r=2, alpha=1)
    with pytest.raises(TypeError, match="target module 'act' must be an nn.Linear; got Tanh"):
        apply_lora(model, target_modules=["act"], r=2, alpha=1)
    with pytest.raises(TypeError, match="not a string"):
        apply_lora(model, target_modules="fc1", r=2, alpha=1)
    with pytest.raises(ValueError, match="at least one module"):
        apply_lora(model, target_modules=[], r=2, alpha=1)
    with pytest.raises(TypeError, match="non-empty strings"):
        apply_lora(model, target_modules=["fc1", 3], r=2, alpha=1)
    with pytest.raises(ValueError, match="r must be >= 1"):
        apply_lora(model, target_modules=["fc1"], r=0, alpha=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        apply_lora({"fc1": lin}, target_modules=["fc1"], r=2, alpha=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        merge_lora("model")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters(None)
    wrapped = apply_lora(model, target_modules=["fc1"], r=2, alpha=1)
    with pytest.raises(TypeError, match="must be an nn.Linear; got LoRALinear"):
        apply_lora(wrapped, target_modules=["fc1"], r=2, alpha=1)
