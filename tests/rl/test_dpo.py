"""Tests for interviewlib.rl.dpo and interviewlib.rl.preference_losses.

Every loss is compared with a direct transcription of its paper's formula in float64 numpy
(independent of torch's logsigmoid), its gradient is checked against finite differences
(torch.autograd.gradcheck) and, for DPO, against the closed-form gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.rl.dpo import dpo_loss, implicit_reward
from interviewlib.rl.preference_losses import kto_loss, kto_reference_point, orpo_loss, simpo_loss

# float64 throughout; the formulas are evaluated by two different code paths (numpy with
# log1p/exp vs torch logsigmoid), which agree to a few ulps times the magnitude.
RTOL = 1e-10
ATOL = 1e-12
# gradcheck's central differences in float64
GRAD_EPS, GRAD_ATOL = 1e-6, 1e-5


def _np(x):
    return x.detach().numpy().astype(np.float64)


def np_logsig(u):
    """log sigma(u) = -log(1 + e^{-u}), written stably without torch."""
    u = np.asarray(u, dtype=np.float64)
    return np.where(u >= 0, -np.log1p(np.exp(-u)), u - np.log1p(np.exp(u)))


def np_sigmoid(u):
    return np.exp(np_logsig(u))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    B = 16
    pc, pr, rc, rr = (-torch.rand(B, generator=g, dtype=torch.float64) * 20 for _ in range(4))
    lc = torch.randint(1, 12, (B,), generator=g)
    lr = torch.randint(1, 12, (B,), generator=g)
    return pc, pr, rc, rr, lc, lr


# ---------------------------------------------------------------- DPO family vs paper formulas


@pytest.mark.parametrize("beta", [0.05, 0.1, 0.5, 2.0])
def test_dpo_sigmoid_matches_paper_eq7(batch, beta):
    pc, pr, rc, rr, _, _ = batch
    # Rafailov et al. 2023, Eq. 7: -log sigma(beta log(pi(yw)/ref(yw)) - beta log(pi(yl)/ref(yl)))
    u = beta * np.log(np.exp(_np(pc) - _np(rc))) - beta * (_np(pr) - _np(rr))
    want = -np_logsig(u)
    out = dpo_loss(pc, pr, rc, rr, beta=beta)
    np.testing.assert_allclose(_np(out.losses), want, rtol=RTOL, atol=ATOL)
    assert math.isclose(float(out.loss), want.mean(), rel_tol=RTOL)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3, 0.49])
def test_cdpo_matches_mitchell_note(batch, eps):
    pc, pr, rc, rr, _, _ = batch
    beta = 0.3
    u = beta * ((_np(pc) - _np(rc)) - (_np(pr) - _np(rr)))
    # conservative DPO: BCE against the soft target 1 - eps
    want = -((1 - eps) * np_logsig(u) + eps * np_logsig(-u))
    out = dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=eps)
    np.testing.assert_allclose(_np(out.losses), want, rtol=RTOL, atol=ATOL)


def test_hinge_and_robust_match_formulas(batch):
    pc, pr, rc, rr, _, _ = batch
    beta, eps = 0.2, 0.2
    h = (_np(pc) - _np(rc)) - (_np(pr) - _np(rr))
    np.testing.assert_allclose(_np(dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="hinge").losses),
                               np.maximum(0.0, 1 - beta * h), rtol=RTOL, atol=ATOL)  # fmt: skip
    # Chowdhury et al. 2024 (rDPO loss): [(1-eps) l(h) - eps l(-h)] / (1 - 2 eps), l = -log sigma(beta .)
    want = ((1 - eps) * -np_logsig(beta * h) - eps * -np_logsig(-beta * h)) / (1 - 2 * eps)
    got = dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="robust", label_smoothing=eps).losses
    np.testing.assert_allclose(_np(got), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.4])
def test_robust_dpo_is_unbiased_under_label_flips(batch, eps):
    """E over a flip with prob eps of the robust loss equals the clean DPO loss (its defining property)."""
    pc, pr, rc, rr, _, _ = batch
    kw = dict(beta=0.5, loss_type="robust", label_smoothing=eps)
    kept = dpo_loss(pc, pr, rc, rr, **kw).losses
    flipped = dpo_loss(pr, pc, rr, rc, **kw).losses  # chosen and rejected swapped
    clean = dpo_loss(pc, pr, rc, rr, beta=0.5).losses
    torch.testing.assert_close((1 - eps) * kept + eps * flipped, clean, rtol=RTOL, atol=ATOL)


def test_ipo_matches_azar_eq17_and_trl_length_average(batch):
    pc, pr, rc, rr, lc, lr = batch
    tau = 0.25
    h = (_np(pc) - _np(rc)) - (_np(pr) - _np(rr))
    np.testing.assert_allclose(_np(dpo_loss(pc, pr, rc, rr, beta=tau, loss_type="ipo").losses),
                               (h - 1 / (2 * tau)) ** 2, rtol=RTOL, atol=ATOL)  # fmt: skip
    h_avg = (_np(pc) - _np(rc)) / lc.numpy() - (_np(pr) - _np(rr)) / lr.numpy()
    got = dpo_loss(pc, pr, rc, rr, beta=tau, loss_type="ipo", chosen_lengths=lc, rejected_lengths=lr).losses
    np.testing.assert_allclose(_np(got), (h_avg - 1 / (2 * tau)) ** 2, rtol=RTOL, atol=ATOL)


def test_sft_term_is_per_token_nll_of_chosen(batch):
    pc, pr, rc, rr, lc, _ = batch
    base = dpo_loss(pc, pr, rc, rr, beta=0.1)
    out = dpo_loss(pc, pr, rc, rr, beta=0.1, chosen_lengths=lc, sft_weight=0.7)
    want = float(base.loss) + 0.7 * np.mean(-_np(pc) / lc.numpy())
    assert math.isclose(float(out.loss), want, rel_tol=RTOL)
    torch.testing.assert_close(out.losses, base.losses)  # the per-pair DPO part is unchanged


# ---------------------------------------------------------------- closed forms, rewards, metrics


def test_values_at_initialisation():
    z = torch.zeros(5, dtype=torch.float64)
    assert math.isclose(float(dpo_loss(z, z, z, z, beta=0.1).loss), math.log(2), rel_tol=1e-15)
    assert math.isclose(float(dpo_loss(z, z, z, z, beta=0.1, loss_type="hinge").loss), 1.0)
    assert math.isclose(float(dpo_loss(z, z, z, z, beta=0.2, loss_type="ipo").loss), 1 / (4 * 0.2**2))
    out = dpo_loss(z, z, z, z)
    assert out.accuracy == 0.0 and float(out.margins.abs().max()) == 0.0  # ties count as not correct


def test_implicit_rewards_margins_accuracy_by_hand():
    pc = torch.tensor([-1.0, -4.0, -2.0])
    pr = torch.tensor([-3.0, -3.0, -2.0])
    rc = torch.tensor([-2.0, -2.0, -2.0])
    rr = torch.tensor([-2.0, -2.0, -3.0])
    out = dpo_loss(pc, pr, rc, rr, beta=0.5)
    torch.testing.assert_close(out.chosen_rewards, torch.tensor([0.5, -1.0, 0.0]))
    torch.testing.assert_close(out.rejected_rewards, torch.tensor([-0.5, -0.5, 0.5]))
    torch.testing.assert_close(out.margins, torch.tensor([1.0, -0.5, -0.5]))
    assert out.accuracy == pytest.approx(1 / 3)
    torch.testing.assert_close(implicit_reward(pc, rc, beta=0.5), out.chosen_rewards)
    assert not out.chosen_rewards.requires_grad


def test_dpo_gradient_closed_form(batch):
    """d/d logpi(yw) of mean(-log sigma(beta h)) = -beta sigma(-beta h) / B (Rafailov et al. 2023, Sec. 4)."""
    pc, pr, rc, rr, _, _ = batch
    pc, pr = pc.clone().requires_grad_(True), pr.clone().requires_grad_(True)
    beta = 0.3
    dpo_loss(pc, pr, rc, rr, beta=beta).loss.backward()
    h = (_np(pc) - _np(rc)) - (_np(pr) - _np(rr))
    weight = beta * np_sigmoid(-beta * h) / len(h)
    np.testing.assert_allclose(pc.grad.numpy(), -weight, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(pr.grad.numpy(), weight, rtol=RTOL, atol=ATOL)


def test_reference_gets_no_gradient(batch):
    pc, pr, rc, rr, _, _ = batch
    rc = rc.clone().requires_grad_(True)
    out = dpo_loss(pc.requires_grad_(True), pr, rc, rr)
    out.loss.backward()
    assert rc.grad is None


@pytest.mark.parametrize(
    "kw",
    [dict(loss_type="sigmoid"), dict(loss_type="sigmoid", label_smoothing=0.1), dict(loss_type="hinge"),
     dict(loss_type="ipo"), dict(loss_type="ipo", lengths=True), dict(loss_type="robust", label_smoothing=0.2),
     dict(loss_type="sigmoid", sft=True)],  # fmt: skip
)
def test_dpo_family_gradcheck(batch, kw):
    pc, pr, rc, rr, lc, lr = batch
    kw = dict(kw)
    extra = {}
    if kw.pop("lengths", False):
        extra = dict(chosen_lengths=lc, rejected_lengths=lr)
    if kw.pop("sft", False):
        extra = dict(chosen_lengths=lc, sft_weight=0.5)
    if kw["loss_type"] == "hinge":  # keep away from the kink of relu at beta h = 1
        pc = pc - 30.0
    x = (pc.clone().requires_grad_(True), pr.clone().requires_grad_(True))
    assert torch.autograd.gradcheck(lambda a, b: dpo_loss(a, b, rc, rr, beta=0.2, **kw, **extra).loss, x,
                                    eps=GRAD_EPS, atol=GRAD_ATOL)  # fmt: skip


finite = st.floats(-30, 30, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, finite, finite), min_size=1, max_size=6),
       st.floats(0.01, 5.0))  # fmt: skip
def test_only_log_ratios_matter_and_swap_identity(rows, beta):
    a = torch.tensor(rows, dtype=torch.float64)  # (B, 5)
    pc, pr, rc, rr, shift = a.unbind(1)
    base = dpo_loss(pc, pr, rc, rr, beta=beta).losses
    # adding the same constant to a response's policy and reference log-probs changes nothing
    torch.testing.assert_close(dpo_loss(pc + shift, pr, rc + shift, rr, beta=beta).losses, base, rtol=1e-9, atol=1e-9)
    # -log sigma(u) - (-log sigma(-u)) = -u: swapping chosen and rejected
    swapped = dpo_loss(pr, pc, rr, rc, beta=beta).losses
    h = (pc - rc) - (pr - rr)
    torch.testing.assert_close(base - swapped, -beta * h, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- KTO, SimPO, ORPO vs paper formulas


def test_kto_matches_paper_formula(batch):
    pc, _, rc, _, _, _ = batch
    g = torch.Generator().manual_seed(1)
    des = torch.rand(len(pc), generator=g) < 0.6
    beta, z0, lam_d, lam_u = 0.1, 0.7, 1.0, 1.33
    r = _np(pc) - _np(rc)
    d = des.numpy()
    # Ethayarajh et al. 2024 (KTO loss): v = lam_D s(beta(r - z0)) | lam_U s(beta(z0 - r)); L = E[lam_y - v]
    v = np.where(d, lam_d * np_sigmoid(beta * (r - z0)), lam_u * np_sigmoid(beta * (z0 - r)))
    want = np.mean(np.where(d, lam_d, lam_u) - v)
    got = kto_loss(pc, rc, des, reference_point=z0, beta=beta, desirable_weight=lam_d, undesirable_weight=lam_u)
    assert math.isclose(float(got), want, rel_tol=RTOL)
    got_t = kto_loss(pc, rc, des, reference_point=torch.tensor(z0), beta=beta, desirable_weight=lam_d,
                     undesirable_weight=lam_u)  # fmt: skip
    assert math.isclose(float(got_t), want, rel_tol=RTOL)


def test_kto_reference_point_and_gradcheck(batch):
    pc, pr, rc, rr, _, _ = batch
    z = kto_reference_point(pr, rr)
    assert math.isclose(float(z), max(0.0, float(np.mean(_np(pr) - _np(rr)))), rel_tol=RTOL, abs_tol=ATOL)
    assert float(kto_reference_point(rr - 1.0, rr)) == 0.0  # clamped at 0
    assert float(kto_reference_point(rr + 2.0, rr)) == pytest.approx(2.0)
    des = torch.arange(len(pc)) % 2 == 0
    x = pc.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: kto_loss(a, rc, des, reference_point=0.3), (x,), eps=GRAD_EPS,
                                    atol=GRAD_ATOL)  # fmt: skip


def test_simpo_matches_paper_and_official_code(batch):
    pc, pr, _, _, lc, lr = batch
    beta, gamma = 2.0, 1.0
    mc, mr = _np(pc) / lc.numpy(), _np(pr) / lr.numpy()
    want = -np_logsig(beta * mc - beta * mr - gamma)  # Meng et al. 2024, the SimPO objective
    out = simpo_loss(pc, pr, lc, lr, beta=beta, gamma=gamma)
    np.testing.assert_allclose(_np(out.losses), want, rtol=RTOL, atol=ATOL)
    official = -np_logsig(beta * ((mc - mr) - gamma / beta))  # princeton-nlp/SimPO: logits - gamma_beta_ratio
    np.testing.assert_allclose(_np(out.losses), official, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_np(out.chosen_rewards), beta * mc, rtol=RTOL)
    x = (pc.clone().requires_grad_(True), pr.clone().requires_grad_(True))
    assert torch.autograd.gradcheck(lambda a, b: simpo_loss(a, b, lc, lr, beta=beta, gamma=gamma, label_smoothing=0.1).loss,
                                    x, eps=GRAD_EPS, atol=GRAD_ATOL)  # fmt: skip


def test_orpo_matches_paper_eqs(batch):
    pc, pr, _, _, lc, lr = batch
    lam = 0.1
    p_w = np.exp(_np(pc) / lc.numpy())  # Hong et al. 2024: P = exp(mean token log-prob)
    p_l = np.exp(_np(pr) / lr.numpy())
    odds_ratio = (p_w / (1 - p_w)) / (p_l / (1 - p_l))  # odds(y_w) / odds(y_l)
    l_or = -np_logsig(np.log(odds_ratio))  # L_OR
    l_sft = -np.log(p_w)  # per-token NLL of y_w
    out = orpo_loss(pc, pr, lc, lr, lam=lam)
    np.testing.assert_allclose(_np(out.losses), l_or, rtol=1e-9, atol=1e-11)  # p/(1-p) loses a few digits
    assert math.isclose(float(out.loss), np.mean(l_sft) + lam * np.mean(l_or), rel_tol=1e-9)
    x = (pc.clone().requires_grad_(True), pr.clone().requires_grad_(True))
    assert torch.autograd.gradcheck(lambda a, b: orpo_loss(a, b, lc, lr, lam=lam).loss, x, eps=GRAD_EPS, atol=GRAD_ATOL)


def test_orpo_log1mexp_is_accurate_near_zero_and_far():
    from interviewlib.rl.preference_losses import _log1mexp

    mpmath = pytest.importorskip("mpmath")
    xs = [-1e-12, -1e-6, -0.5, -0.7, -5.0, -40.0]
    with mpmath.workdps(50):  # 50-digit reference
        want = np.array([float(mpmath.log(1 - mpmath.exp(mpmath.mpf(v)))) for v in xs])
    np.testing.assert_allclose(_np(_log1mexp(torch.tensor(xs, dtype=torch.float64))), want, rtol=1e-13)


# ---------------------------------------------------------------- bad input

BAD_FIRST = [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]]


@pytest.mark.parametrize("bad", BAD_FIRST)
def test_bad_first_argument(bad):
    z = torch.zeros(2)
    for call in (lambda: dpo_loss(bad, z, z, z), lambda: implicit_reward(bad, z),
                 lambda: kto_reference_point(bad, z), lambda: kto_loss(bad, z, z > 0, reference_point=0.0),
                 lambda: simpo_loss(bad, z, z + 1, z + 1), lambda: orpo_loss(bad, z - 1, z + 1, z + 1)):  # fmt: skip
        with pytest.raises(TypeError, match="must be a torch.Tensor"):
            call()


def test_bad_input_messages():
    z, one = torch.zeros(3), torch.ones(3)
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_loss(z, z, z, z, beta=0.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_loss(z, z, z, z, beta=-0.1)
    with pytest.raises(TypeError, match="beta must be a real number"):
        dpo_loss(z, z, z, z, beta=None)
    with pytest.raises(ValueError, match=r"ref_rejected_logps must have the shape of the first argument \(3,\)"):
        dpo_loss(z, z, z, torch.zeros(4))
    with pytest.raises(ValueError, match="must be 1-D"):
        dpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
    for eps in (0.5, -0.01, 1.0):
        with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 0.5\)"):
            dpo_loss(z, z, z, z, label_smoothing=eps)
    with pytest.raises(ValueError, match="label_smoothing must be 0 for loss_type='ipo'"):
        dpo_loss(z, z, z, z, loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(ValueError, match="loss_type must be one of"):
        dpo_loss(z, z, z, z, loss_type="simpo")
    with pytest.raises(ValueError, match="must be finite"):
        dpo_loss(torch.tensor([0.0, float("nan"), 0.0]), z, z, z)
    with pytest.raises(ValueError, match="floating dtype"):
        dpo_loss(torch.zeros(3, dtype=torch.long), z, z, z)
    with pytest.raises(ValueError, match="sft_weight > 0 needs chosen_lengths"):
        dpo_loss(z, z, z, z, sft_weight=1.0)
    with pytest.raises(ValueError, match="chosen_lengths must hold token counts >= 1"):
        dpo_loss(z, z, z, z, chosen_lengths=torch.tensor([1, 0, 2]), sft_weight=1.0)
    with pytest.raises(ValueError, match="both chosen_lengths and rejected_lengths"):
        dpo_loss(z, z, z, z, loss_type="ipo", chosen_lengths=one)
    with pytest.raises(ValueError, match="desirable must be a bool tensor"):
        kto_loss(z, z, torch.ones(3), reference_point=0.0)
    with pytest.raises(ValueError, match="reference_point must be >= 0"):
        kto_loss(z, z, z > 0, reference_point=-1.0)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        simpo_loss(z, z, one, one, gamma=-1.0)
    with pytest.raises(ValueError, match="policy_chosen_logps must be < 0"):
        orpo_loss(z, z - 1, one, one)
    with pytest.raises(ValueError, match="lam must be > 0"):
        orpo_loss(z - 1, z - 1, one, one, lam=0.0)


# ---------------------------------------------------------------- the training loop on the toy

from interviewlib.rl.dpo_train import DPOHistory, dpo_train, length_biased_pairs, sft_on_chosen, toy_dpo_run  # noqa: E402
from interviewlib.rl.reward_model import PreferencePairs, preference_pairs  # noqa: E402
from interviewlib.rl.rollout import sequence_logprob  # noqa: E402
from interviewlib.rl.toy import EOS, PAD, toy_setting  # noqa: E402


@pytest.fixture(scope="module")
def setting():
    s = toy_setting(0)
    return s, preference_pairs(s.task, s.reference(), 24, rng=5)


def test_dpo_train_first_step_is_log2_and_reference_frozen(setting):
    s, pairs = setting
    pol, ref = s.policy(), s.reference()
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    h = dpo_train(pol, ref, pairs, task=s.task, steps=3, batch_size=8, lr=1e-3, eval_every=3, eval_prompts=16, rng=0)
    assert isinstance(h, DPOHistory) and len(h.loss) == 3 and h.eval_step == [0, 3]
    assert h.loss[0] == pytest.approx(math.log(2), abs=1e-6)  # policy == reference at step 1
    assert h.accuracy[0] == 0.0 and h.margins[0] == pytest.approx(0.0, abs=1e-6)
    assert h.eval_kl[0] == pytest.approx(0.0, abs=1e-5)  # same model: log-ratio of every sample is 0
    assert all(torch.equal(before[k], v) for k, v in ref.state_dict().items())
    # the logged eval log-probs are the policy's sequence log-probs of the pairs (checked at step 0)
    with torch.no_grad():
        lp = sequence_logprob(s.reference(), pairs.prompts, pairs.chosen, pairs.chosen_mask)
    assert h.eval_chosen_logps[0] == pytest.approx(float(lp.mean()), rel=1e-5)


@pytest.mark.parametrize("loss", ["sigmoid", "ipo", "robust", "hinge", "simpo", "orpo", "kto"])
def test_dpo_train_every_loss_learns_the_pairs(setting, loss):
    """A few steps on 24 pairs raise the chosen-minus-rejected log-prob gap (the thing every loss pushes)."""
    s, pairs = setting
    pol, ref = s.policy(), s.reference()
    kw = dict(label_smoothing=0.1) if loss == "robust" else {}
    h = dpo_train(pol, ref, pairs, task=s.task, steps=12, batch_size=24, lr=3e-3, beta=0.1, loss=loss,
                  eval_every=12, eval_prompts=8, rng=1, **kw)  # fmt: skip
    gap = np.array(h.eval_chosen_logps) - np.array(h.eval_rejected_logps)
    assert gap[-1] > gap[0] + 0.5


def test_length_biased_pairs_by_hand():
    p = torch.zeros(2, 6, dtype=torch.long)
    a = torch.tensor([[1, EOS, PAD], [1, 2, EOS]])  # lengths 2, 3
    b = torch.tensor([[1, 2, EOS], [3, EOS, PAD]])  # lengths 3, 2
    pairs = PreferencePairs(p, a, a != PAD, b, b != PAD, torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0]))
    out = length_biased_pairs(pairs)
    assert out.chosen.tolist() == [[1, 2, EOS], [1, 2, EOS]] and out.rejected.tolist() == [[1, EOS, PAD], [3, EOS, PAD]]
    assert out.chosen_reward.tolist() == [0.0, 1.0] and out.rejected_reward.tolist() == [1.0, 0.0]
    assert pairs.chosen.tolist() == a.tolist()  # input not mutated


def test_sft_on_chosen_raises_chosen_likelihood(setting):
    s, pairs = setting
    pol = s.policy()
    with torch.no_grad():
        before = float(sequence_logprob(pol, pairs.prompts, pairs.chosen, pairs.chosen_mask).mean())
    losses = sft_on_chosen(pol, pairs, steps=15, lr=3e-3, batch_size=24, rng=0)
    with torch.no_grad():
        after = float(sequence_logprob(pol, pairs.prompts, pairs.chosen, pairs.chosen_mask).mean())
    assert len(losses) == 15 and after > before + 0.5


def test_toy_dpo_run_is_memoised():
    kw = dict(steps=1, n_pairs=8, batch_size=4, eval_every=1, eval_prompts=4)
    assert toy_dpo_run(**kw) is toy_dpo_run(**kw)
    assert toy_dpo_run(**kw) is not toy_dpo_run(**kw, beta=0.2)


@pytest.mark.parametrize("bad", BAD_FIRST)
def test_training_bad_first_argument(bad, setting):
    s, pairs = setting
    with pytest.raises(TypeError, match="policy must be an nn.Module"):
        dpo_train(bad, s.reference(), pairs, task=s.task, steps=1)
    with pytest.raises(TypeError, match="pairs must be a PreferencePairs"):
        length_biased_pairs(bad)
    with pytest.raises(TypeError, match="policy must be an nn.Module"):
        sft_on_chosen(bad, pairs, steps=1)


def test_training_bad_input(setting):
    s, pairs = setting
    pol, ref = s.policy(), s.reference()
    with pytest.raises(ValueError, match="separate frozen copy"):
        dpo_train(pol, pol, pairs, task=s.task, steps=1)
    with pytest.raises(ValueError, match="loss must be one of"):
        dpo_train(pol, ref, pairs, task=s.task, steps=1, loss="ppo")
    with pytest.raises(TypeError, match="task must be a SortTask"):
        dpo_train(pol, ref, pairs, task=None, steps=1)
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_train(pol, ref, pairs, task=s.task, steps=1, beta=0.0)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 0.5\)"):
        dpo_train(pol, ref, pairs, task=s.task, steps=1, label_smoothing=0.5)
    with pytest.raises(ValueError, match="lr must be > 0"):
        dpo_train(pol, ref, pairs, task=s.task, steps=1, lr=-1.0)
    with pytest.raises(TypeError, match="steps must be an integer"):
        toy_dpo_run(steps=1.5)


@pytest.mark.parametrize("bad", BAD_FIRST)
def test_toy_dpo_run_bad_seed(bad):
    with pytest.raises((TypeError, ValueError), match="seed must be an integer"):
        toy_dpo_run(seed=bad, steps=1)
