import pytest
import torch
from torch import nn

from interviewlib.transformer import DecoderLayer, EncoderLayer, FeedForward, padding_mask

ATOL = 1e-12  # float64 on both sides


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_matches_torch(norm_first, activation):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    ).double()
    ours = EncoderLayer.from_torch(ref)
    assert ours.norm_first == norm_first
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), atol=ATOL, rtol=0)
    km = padding_mask([6, 4], 6)
    causal = ~torch.ones(6, 6, dtype=torch.bool).tril()  # torch: True = blocked
    rout = ref(x, src_mask=causal, src_key_padding_mask=~km, is_causal=True)
    out = ours(x, key_mask=km, is_causal=True)
    torch.testing.assert_close(out[0], rout[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(out[1, :4], rout[1, :4], atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_matches_torch(norm_first):
    torch.manual_seed(1)
    ref = nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    ours = DecoderLayer.from_torch(ref)
    y = torch.randn(2, 5, 16, dtype=torch.float64)
    mem = torch.randn(2, 7, 16, dtype=torch.float64)
    tkm, mkm = padding_mask([5, 3], 5), padding_mask([7, 2], 7)
    causal = ~torch.ones(5, 5, dtype=torch.bool).tril()  # torch: True = blocked
    rout = ref(y, mem, tgt_mask=causal, tgt_key_padding_mask=~tkm, memory_key_padding_mask=~mkm, tgt_is_causal=True)
    out = ours(y, mem, tgt_key_mask=tkm, memory_key_mask=mkm)
    torch.testing.assert_close(out[0], rout[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(out[1, :3], rout[1, :3], atol=ATOL, rtol=0)
    # non-causal decoder (tgt_is_causal=False) with no masks
    torch.testing.assert_close(ours(y, mem, tgt_is_causal=False), ref(y, mem), atol=ATOL, rtol=0)


def test_dropout_train_mode_is_random_and_eval_is_not():
    torch.manual_seed(2)
    ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True).double()
    ours = EncoderLayer.from_torch(ref)
    x = torch.randn(1, 4, 8, dtype=torch.float64)
    ours.train()
    assert not torch.equal(ours(x), ours(x))
    ours.eval()
    ref.eval()
    torch.testing.assert_close(ours(x), ref(x), atol=1e-12, rtol=0)


def test_post_ln_output_is_normalised_and_residual_switch():
    torch.manual_seed(3)
    layer = EncoderLayer(8, 2, 16).double()
    x = 10 * torch.randn(2, 3, 8, dtype=torch.float64)
    y = layer(x)
    # LayerNorm with default affine (1, 0): each token has mean 0, var 1
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 3, dtype=torch.float64), atol=1e-12, rtol=0)
    # var = s^2 / (s^2 + eps) with eps = 1e-5 and s^2 of order 1 here: off by ~1e-5; 1e-4 leaves room
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 3, dtype=torch.float64), atol=1e-4, rtol=0)
    # residual=False, Pre-LN: output = F(LN(.)) without the skip
    pre = EncoderLayer(8, 2, 16, norm_first=True, residual=False).double()
    h = pre.self_attn(pre.norm1(x))
    torch.testing.assert_close(pre(x), pre.ffn(pre.norm2(h)), atol=1e-12, rtol=0)


def test_residual_alpha_scales_skip():
    torch.manual_seed(4)
    layer = EncoderLayer(8, 2, 16, residual_alpha=2.0).double()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    h = layer.norm1(2.0 * x + layer.self_attn(x))
    torch.testing.assert_close(layer(x), layer.norm2(2.0 * h + layer.ffn(h)), atol=1e-12, rtol=0)


def test_feedforward_by_hand():
    torch.manual_seed(5)
    f = FeedForward(4, 6).double()
    x = torch.randn(2, 4, dtype=torch.float64)
    ref = torch.relu(x @ f.linear1.weight.T + f.linear1.bias) @ f.linear2.weight.T + f.linear2.bias
    torch.testing.assert_close(f(x), ref, atol=1e-12, rtol=0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="activation must be one of"):
        FeedForward(4, 8, activation="tanh")
    with pytest.raises(ValueError, match="divisible"):
        EncoderLayer(10, 4, 20)
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        EncoderLayer.from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="TransformerDecoderLayer"):
        DecoderLayer.from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="relu or gelu"):
        EncoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2, 16, activation=torch.tanh, batch_first=True))
