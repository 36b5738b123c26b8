import pytest
import torch

from interviewlib.transformer import TransformerLM, block_grad_norms


def _lm(**kw):
    torch.manual_seed(0)
    cfg = {"vocab_size": 7, "d_model": 8, "n_heads": 2, "n_layers": 3, "max_len": 10}
    cfg.update(kw)
    return TransformerLM(**cfg).double()


@pytest.mark.parametrize("norm_first", [True, False])
def test_causality_future_tokens_do_not_change_past_logits(norm_first):
    lm = _lm(norm_first=norm_first)
    idx = torch.randint(0, 7, (2, 6))
    idx2 = idx.clone()
    idx2[:, 4:] = (idx2[:, 4:] + 1) % 7
    a, b = lm(idx), lm(idx2)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=1e-12, rtol=0)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_structure_pre_vs_post():
    assert isinstance(_lm(norm_first=True).final_norm, torch.nn.LayerNorm)
    assert isinstance(_lm(norm_first=False).final_norm, torch.nn.Identity)
    assert _lm(norm_first=False).blocks[0].norm_first is False


def test_deepnorm_constants_and_init_scale():
    N = 16
    lm = TransformerLM(vocab_size=5, d_model=64, n_heads=2, n_layers=N, norm_first=False, deepnorm=True)
    assert lm.blocks[0].residual_alpha == pytest.approx((2 * N) ** 0.25)
    w = torch.cat([b.ffn.linear2.weight.flatten() for b in lm.blocks])
    # xavier normal std = gain * sqrt(2 / (fan_in + fan_out)), fan_in=256, fan_out=64
    expected = (8 * N) ** -0.25 * (2 / (256 + 64)) ** 0.5
    assert w.std().item() == pytest.approx(expected, rel=0.02)  # 16*64*256 samples: ~0.3% std error


def test_block_grad_norms_match_manual():
    lm = _lm()
    idx = torch.randint(0, 7, (2, 5))
    torch.nn.functional.cross_entropy(lm(idx).flatten(0, 1), idx.flatten()).backward()
    g = block_grad_norms(lm)
    manual = [torch.sqrt(sum((p.grad**2).sum() for p in b.parameters())).item() for b in lm.blocks]
    torch.testing.assert_close(g, torch.tensor(manual), atol=1e-10, rtol=0)


def test_key_mask_padding_does_not_affect_real_tokens():
    lm = _lm()
    idx = torch.randint(0, 7, (1, 6))
    km = torch.tensor([[True] * 4 + [False] * 2])
    a = lm(idx, key_mask=km)[:, :4]
    b = lm(idx[:, :4])
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="deepnorm applies to Post-LN"):
        TransformerLM(vocab_size=5, d_model=8, n_heads=2, n_layers=2, deepnorm=True, norm_first=True)
    lm = _lm()
    with pytest.raises(ValueError, match="max_len=10"):
        lm(torch.zeros(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="2-D integer"):
        lm(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="divisible"):
        TransformerLM(vocab_size=5, d_model=9, n_heads=2, n_layers=1)


def test_block_grad_norms_rejects_what_is_not_a_model():
    msg = r"model must be a TransformerLM \(an nn.Module with an nn.ModuleList .blocks\); got NoneType"
    with pytest.raises(TypeError, match=msg):
        block_grad_norms(None)
    with pytest.raises(TypeError, match="got Linear without .blocks"):
        block_grad_norms(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="got list"):
        block_grad_norms(list(_lm().blocks))


@pytest.mark.parametrize("scale", [1.0, 0.02])
def test_embedding_scale(scale):
    torch.manual_seed(0)
    lm = TransformerLM(vocab_size=500, d_model=64, n_heads=2, n_layers=1, max_len=8, emb_scale=scale)
    # N(0, scale^2) entries: 32000 samples -> relative std error of the std ~0.4%
    assert lm.tok_emb.weight.std().item() == pytest.approx(scale, rel=0.03)
