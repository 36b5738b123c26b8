import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.transformer import (
    attention_mask,
    bigbird_mask,
    block_sparse_mask,
    causal_mask,
    dilated_mask,
    fixed_mask,
    longformer_mask,
    lsh_mask,
    mask_density,
    padding_mask,
    scaled_dot_product_attention,
    sliding_window_mask,
    strided_mask,
)

ATOL = 1e-12  # float64, only summation-order rounding


def brute(n, keep):
    """Reference: evaluate the paper's set definition pair by pair."""
    return torch.tensor([[bool(keep(i, j)) for j in range(n)] for i in range(n)])


# ---------- definitions (pair by pair) and closed-form counts ----------

@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 24), w=st.integers(1, 24))
def test_sliding_window_causal(n, w):
    m = sliding_window_mask(n, w)
    assert torch.equal(m, brute(n, lambda i, j: 0 <= i - j < w))
    w_eff = min(w, n)
    assert int(m.sum()) == n * w_eff - w_eff * (w_eff - 1) // 2


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 24), h=st.integers(0, 23))
def test_sliding_window_bidirectional(n, h):
    m = sliding_window_mask(n, h, causal=False)
    assert torch.equal(m, brute(n, lambda i, j: abs(i - j) <= h))
    he = min(h, n - 1)
    assert int(m.sum()) == n * (2 * he + 1) - he * (he + 1)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), w=st.integers(1, 6), dil=st.integers(1, 5))
def test_dilated(n, w, dil):
    m = dilated_mask(n, w, dil)
    assert torch.equal(m, brute(n, lambda i, j: any(j == i - k * dil for k in range(w))))
    assert int(m.sum()) == sum(min(w, i // dil + 1) for i in range(n))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), l=st.integers(1, 8))
def test_strided_matches_child_et_al_sets(n, l):
    # A1 = {max(0, i-l), ..., i}, A2 = {j <= i : (i-j) mod l == 0}  (Child et al. 2019, sec. 4.1)
    m = strided_mask(n, l)
    assert torch.equal(m, brute(n, lambda i, j: (max(0, i - l) <= j <= i) or (j <= i and (i - j) % l == 0)))
    assert int(m.sum()) == sum(min(i + 1, l) + i // l for i in range(n))


@settings(max_examples=30, deadline=None)
@given(blocks=st.integers(1, 6), l=st.integers(1, 6), data=st.data())
def test_fixed_matches_child_et_al_sets(blocks, l, data):
    c = data.draw(st.integers(1, l))
    n = blocks * l
    m = fixed_mask(n, l, c)
    ref = brute(n, lambda i, j: j <= i and (i // l == j // l or j % l in range(l - c, l)))
    assert torch.equal(m, ref)
    assert int(m.sum()) == sum(i % l + 1 + c * (i // l) for i in range(n))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 30), h=st.integers(0, 5), g=st.integers(0, 3))
def test_longformer_count_with_leading_globals(n, h, g):
    m = longformer_mask(n, 2 * h, range(g))
    ref = brute(n, lambda i, j: abs(i - j) <= h or i < g or j < g)
    assert torch.equal(m, ref)
    if h <= n - g - 1:
        assert int(m.sum()) == n * n - (n - g) ** 2 + (n - g) * (2 * h + 1) - h * (h + 1)
    assert torch.equal(m, m.T)


@settings(max_examples=25, deadline=None)
@given(nb=st.integers(4, 10), b=st.integers(1, 4), g=st.integers(0, 2), data=st.data(), seed=st.integers(0, 999))
def test_bigbird_structure_and_count(nb, b, g, data, seed):
    m_blocks = nb - g
    if m_blocks < 3:
        return
    r = data.draw(st.integers(0, m_blocks - 3))
    m = bigbird_mask(nb, b, n_global=g, n_random=r, generator=seed)
    layout = m[::b, ::b]
    assert torch.equal(block_sparse_mask(layout, b), m)  # block-constant
    assert layout[:g].all() and layout[:, :g].all()  # global rows / columns
    i = torch.arange(nb)
    assert layout[i[1:], i[:-1]].all() and layout[i, i].all()  # 3-block window
    assert int(layout.sum()) == nb * nb - m_blocks**2 + 3 * m_blocks - 2 + r * m_blocks
    # reproducible
    assert torch.equal(m, bigbird_mask(nb, b, n_global=g, n_random=r, generator=seed))


def test_block_sparse_hand_case():
    layout = torch.tensor([[True, False], [False, True]])
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(block_sparse_mask(layout, 2), expected)


def test_lsh_same_bucket_definition():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 8, generator=g, dtype=torch.float64)
    m = lsh_mask(x, 4, generator=3)
    R = torch.randn(8, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    h = torch.cat([x @ R, -(x @ R)], -1).argmax(-1)
    assert torch.equal(m, brute(20, lambda i, j: h[i] == h[j]))
    # collinear vectors share a bucket: angular LSH
    y = torch.stack([x[0], 2.0 * x[0], -x[0]])
    my = lsh_mask(y, 8, generator=1)
    assert my[0, 1] and not my[0, 2]
    assert torch.equal(lsh_mask(x, 4, causal=True, generator=3), m & causal_mask(20))


# ---------- masked attention == dense attention restricted to kept pairs ----------

@pytest.mark.parametrize(
    "mask",
    [
        sliding_window_mask(12, 3),
        dilated_mask(12, 3, 2),
        strided_mask(12, 4),
        fixed_mask(12, 4, 2),
        longformer_mask(12, 4, [0, 7]),
        bigbird_mask(6, 2, n_global=1, n_random=1, generator=0),
    ],
)
def test_masked_attention_equals_restricted_dense(mask):
    n, d = mask.shape[0], 5
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 1, n, d, generator=g, dtype=torch.float64) for _ in range(3))
    out = scaled_dot_product_attention(q, k, v, mask)
    for i in range(n):  # reference: softmax over the kept keys only
        idx = mask[i].nonzero().squeeze(1)
        s = (q[0, 0, i] @ k[0, 0, idx].T) / d**0.5
        ref = torch.softmax(s, -1) @ v[0, 0, idx]
        torch.testing.assert_close(out[0, 0, i], ref, atol=ATOL, rtol=0)


# ---------- padding and causal ----------

def test_causal_matches_torch_tril():
    assert torch.equal(causal_mask(5), torch.ones(5, 5, dtype=torch.bool).tril())
    assert torch.equal(causal_mask(2, 5), torch.ones(2, 5, dtype=torch.bool).tril(3))
    assert mask_density(causal_mask(10)) == pytest.approx(11 / 20)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4), causal=st.booleans())
def test_padding_and_causal_property(lengths, causal):
    S = max(lengths)
    km = padding_mask(lengths, S)
    assert km.sum().item() == sum(lengths)
    m = attention_mask(km, causal=causal)
    for b, L in enumerate(lengths):
        ref = brute(S, lambda i, j, L=L: j < L and (j <= i or not causal))
        assert torch.equal(m[b, 0], ref)
    # with right padding no real query row is empty
    for b, L in enumerate(lengths):
        assert m[b, 0, :L].any(-1).all()


def test_padding_attention_matches_torch_sdpa_on_real_tokens():
    lengths = [5, 3]
    km = padding_mask(lengths)
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 2, 5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    m = attention_mask(km, causal=True)
    ours = scaled_dot_product_attention(q, k, v, m)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    for b, L in enumerate(lengths):
        torch.testing.assert_close(ours[b, :, :L], ref[b, :, :L], atol=ATOL, rtol=0)


def test_bad_mask_arguments():
    with pytest.raises(ValueError, match="s must be >= t"):
        causal_mask(4, 2)
    with pytest.raises(ValueError, match="t must be >= 1"):
        causal_mask(0)
    with pytest.raises(TypeError, match="integer"):
        causal_mask(2.5)
    with pytest.raises(ValueError, match="lengths must be <= max_len"):
        padding_mask([3, 5], 4)
    with pytest.raises(ValueError, match="lengths must be >= 0"):
        padding_mask([-1, 2])
    with pytest.raises(ValueError, match="integers"):
        padding_mask([1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        padding_mask([])
    with pytest.raises(TypeError, match="lengths must be a sequence of ints or a 1-D integer tensor .B,.; got None"):
        padding_mask(None)  # torch.as_tensor(None) raises RuntimeError
    with pytest.raises(TypeError, match="lengths must be a sequence of ints or a 1-D integer tensor .B,.; got str"):
        padding_mask("34")
    with pytest.raises(TypeError, match=r"lengths must be a sequence of ints \(B,\); got \[2, None\]"):
        padding_mask([2, None])
    with pytest.raises(ValueError, match="lengths must be a flat sequence of ints"):
        padding_mask([[1, 2], [3]])
    with pytest.raises(ValueError, match="2-D bool"):
        attention_mask(torch.ones(2, 3))
    with pytest.raises(ValueError, match="window must be even"):
        longformer_mask(8, 3)
    with pytest.raises(ValueError, match="global_idx"):
        longformer_mask(8, 2, [8])
    with pytest.raises(ValueError, match="c must be <= stride"):
        fixed_mask(8, 2, 3)
    with pytest.raises(ValueError, match="n_random must be <="):
        bigbird_mask(5, 2, n_global=1, n_random=2)
    with pytest.raises(ValueError, match=">= 3"):
        bigbird_mask(3, 2, n_global=1)
    with pytest.raises(TypeError, match="generator"):
        bigbird_mask(8, 2, generator="x")
    with pytest.raises(ValueError, match="layout"):
        block_sparse_mask(torch.ones(2, 2), 2)
    with pytest.raises(ValueError, match="even"):
        lsh_mask(torch.randn(4, 2), 3)
    with pytest.raises(ValueError, match="floating tensor"):
        lsh_mask(torch.randn(4), 2)
    with pytest.raises(ValueError, match="non-empty bool"):
        mask_density(torch.ones(2))
    with pytest.raises(ValueError, match="window must be >= 1"):
        sliding_window_mask(4, 0)
