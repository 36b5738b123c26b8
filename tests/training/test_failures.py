import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import lambertw

from interviewlib.training.parallel import (
    LLAMA3_405B_INTERRUPTIONS,
    cluster_mtbf,
    expected_goodput,
    expected_segment_time,
    simulate_job,
    simulate_timeline,
    young_daly_interval,
)

Z = 4.0  # Monte-Carlo checks: |estimate - exact| < 4 standard errors (two-sided p ~ 6e-5 per check)
EXACT = 1e-10  # Newton to machine precision vs scipy's Lambert W / Brent: rounding only
DALY_REL = 3e-3  # Daly (2006) reports his 3-term series within a fraction of a percent for delta < M/3
OPT_REL = 0.05  # simulator optimum vs Daly's formula (measured spread over seeds is ~1%, see the test)


# --- the published numbers ------------------------------------------------------------------------


def test_llama3_table5_counts():
    counts = [c for _, _, c, _ in LLAMA3_405B_INTERRUPTIONS]
    assert sum(counts) == 419  # the paper's unexpected interruptions in the 54-day snapshot
    printed = {name: pct for name, _, _, pct in LLAMA3_405B_INTERRUPTIONS}
    for name, _, c, pct in LLAMA3_405B_INTERRUPTIONS:
        if name != "Faulty GPU":
            assert abs(100 * c / 419 - pct) < 0.06
    # The one row whose printed share does not match its count: 148 / 419 = 35.3%, printed 30.1%.
    assert round(100 * 148 / 419, 1) == 35.3 and printed["Faulty GPU"] == 30.1
    gpu = [(c, pct) for _, cat, c, pct in LLAMA3_405B_INTERRUPTIONS if cat == "GPU"]
    assert round(sum(p for _, p in gpu), 1) == 58.7  # the text's "58.7%" is the sum of the printed shares
    assert round(100 * sum(c for c, _ in gpu) / 419, 1) == 64.0  # from the counts


def test_cluster_mtbf_from_the_llama3_snapshot():
    hours = 54 * 24
    m16k = hours / 419
    gpu = m16k * 16384  # per-GPU MTBF if every interruption were one GPU's
    assert cluster_mtbf(gpu, 16384) == pytest.approx(m16k, rel=1e-15)
    assert cluster_mtbf(gpu, 1000) == pytest.approx(m16k * 16.384, rel=1e-15)


# --- closed forms -----------------------------------------------------------------------------


def test_segment_time_limits():
    # no failures: exactly compute + checkpoint
    assert float(expected_segment_time(2.0, checkpoint_cost=0.5, restart_cost=9.0, mtbf=1e12)) == pytest.approx(
        2.5, rel=1e-9
    )
    # rare failures: E ~ L (1 + L/2M + R/M) to first order in 1/M
    L, r, m = 1.5, 0.3, 1e4
    got = float(expected_segment_time(1.0, checkpoint_cost=0.5, restart_cost=r, mtbf=m))
    assert got == pytest.approx(L * (1 + L / (2 * m) + r / m), rel=1e-7)
    # vectorised over intervals
    taus = np.array([0.5, 1.0, 4.0])
    assert expected_segment_time(taus, checkpoint_cost=0.1, restart_cost=0.2, mtbf=3.0).shape == (3,)


def test_finite_work_goodput_tends_to_steady_state():
    kw = dict(checkpoint_cost=0.1, restart_cost=0.3, mtbf=20.0)
    steady = float(expected_goodput(2.0, **kw))
    assert float(expected_goodput(2.0, work=2000.0, **kw)) == pytest.approx(steady, rel=1e-12)  # multiple of tau
    assert float(expected_goodput(2.0, work=2001.0, **kw)) == pytest.approx(steady, rel=1e-3)
    # work shorter than the interval: one segment of length work
    one = float(expected_goodput(5.0, work=1.0, **kw))
    assert one == pytest.approx(1.0 / float(expected_segment_time(1.0, **kw)), rel=1e-12)


@pytest.mark.parametrize(("delta", "mtbf"), [(5.0, 1440.0), (5.0, 360.0), (5.0, 15.0), (0.02, 50.0), (3.0, 2.0)])
def test_exact_optimum_against_lambert_w_and_brent(delta, mtbf):
    exact = young_daly_interval(delta, mtbf, method="exact")
    w = lambertw(-math.exp(-1 - delta / mtbf), 0).real
    assert exact == pytest.approx(mtbf * (1 + w), rel=EXACT)
    res = minimize_scalar(lambda t: -float(expected_goodput(t, checkpoint_cost=delta, restart_cost=1.0, mtbf=mtbf)),
                          bounds=(1e-9 * mtbf, mtbf), method="bounded", options={"xatol": 1e-10 * mtbf})  # fmt: skip
    assert exact == pytest.approx(res.x, rel=1e-5)  # Brent's xatol and the flat optimum limit this one


def test_daly_paper_examples():
    # Daly 2006, Figs. 3-5 (delta = 5 min): M = 24 h -> 117 min, 6 h -> 57 min, 15 min -> 9.1 min
    got = [young_daly_interval(5.0, m) for m in (24 * 60.0, 6 * 60.0, 15.0)]
    assert [round(got[0]), round(got[1]), round(got[2], 1)] == [117, 57, 9.1]
    assert young_daly_interval(5.0, 24 * 60.0, method="young") == pytest.approx(120.0, rel=1e-15)  # sqrt(2*5*1440)
    assert young_daly_interval(10.0, 4.0) == 4.0  # delta >= 2M: Daly's rule is tau = M


@settings(max_examples=25, deadline=None)
@given(ratio=st.floats(1e-5, 1 / 3), mtbf=st.floats(0.1, 1e5))
def test_daly_close_to_exact_young_further(ratio, mtbf):
    delta = ratio * mtbf
    exact = young_daly_interval(delta, mtbf, method="exact")
    assert young_daly_interval(delta, mtbf) == pytest.approx(exact, rel=DALY_REL)
    young = young_daly_interval(delta, mtbf, method="young")
    assert young > exact  # Young's first-order rule always checkpoints too rarely here
    kw = dict(checkpoint_cost=delta, restart_cost=0.1 * mtbf, mtbf=mtbf)
    best = float(expected_goodput(exact, **kw))
    for other in (young, 0.9 * exact, 1.1 * exact):
        assert float(expected_goodput(other, **kw)) <= best * (1 + 1e-15)


@settings(max_examples=25, deadline=None)
@given(tau=st.floats(0.01, 100), delta=st.floats(0, 10), r=st.floats(0, 10), m=st.floats(0.5, 1e4))
def test_goodput_monotone_in_costs(tau, delta, r, m):
    g = float(expected_goodput(tau, checkpoint_cost=delta, restart_cost=r, mtbf=m))
    assert 0 < g <= 1
    assert float(expected_goodput(tau, checkpoint_cost=delta + 1, restart_cost=r, mtbf=m)) <= g
    assert float(expected_goodput(tau, checkpoint_cost=delta, restart_cost=r + 1, mtbf=m)) <= g
    assert float(expected_goodput(tau, checkpoint_cost=delta, restart_cost=r, mtbf=2 * m)) >= g


# --- simulators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("work", "tau", "delta", "r", "m"),
    [(100.0, 2.0, 0.05, 0.2, 50.0), (30.0, 0.7, 0.1, 0.5, 3.0), (10.0, 4.0, 1.0, 1.0, 2.0), (5.0, 9.0, 0.2, 0.1, 4.0)],
)
def test_vectorised_simulation_matches_closed_form(work, tau, delta, r, m):
    sim = simulate_job(work, tau, checkpoint_cost=delta, restart_cost=r, mtbf=m, n_runs=40_000, rng=1)
    exact = float(expected_goodput(tau, checkpoint_cost=delta, restart_cost=r, mtbf=m, work=work))
    assert abs(sim.goodput - exact) < Z * sim.goodput_stderr


def test_timeline_simulation_agrees_with_closed_form_and_vectorised():
    kw = dict(checkpoint_cost=0.1, restart_cost=0.5, mtbf=3.0)
    work, tau, n = 30.0, 0.7, 3000
    walls = np.array([simulate_timeline(work, tau, rng=i, **kw)[-1][2] for i in range(n)])
    fails = np.array([sum(k == "failure" for k, _, _ in simulate_timeline(work, tau, rng=i, **kw)) for i in range(200)])
    exact_wall = work / float(expected_goodput(tau, work=work, **kw))
    assert abs(walls.mean() - exact_wall) < Z * walls.std(ddof=1) / math.sqrt(n)
    vec = simulate_job(work, tau, n_runs=20_000, rng=2, **kw)
    # same distribution: means and standard deviations agree (two-sample checks)
    se = math.hypot(walls.std(ddof=1) / math.sqrt(n), vec.wall_time.std(ddof=1) / math.sqrt(vec.wall_time.size))
    assert abs(walls.mean() - vec.wall_time.mean()) < Z * se
    assert walls.std() == pytest.approx(vec.wall_time.std(), rel=0.1)  # SE of an SD with 3000 runs: ~2-3%
    assert abs(fails.mean() - vec.n_failures.mean()) < Z * vec.n_failures.std() / math.sqrt(200)


def test_timeline_structure():
    ev = simulate_timeline(20.0, 1.0, checkpoint_cost=0.1, restart_cost=0.3, mtbf=2.0, rng=0)
    assert all(e0 <= e1 for _, e0, e1 in ev)
    assert all(a[2] == pytest.approx(b[1]) for a, b in zip(ev, ev[1:], strict=False))  # contiguous in time
    assert sum(e1 - e0 for k, e0, e1 in ev if k == "compute") == pytest.approx(20.0)
    kinds = [k for k, _, _ in ev]
    assert "failure" in kinds and kinds[kinds.index("failure") + 1] == "restart"


def test_simulator_optimum_matches_daly_not_young():
    # delta / M = 0.1: Daly's tau is 14% below Young's, so the simulator can tell them apart.
    d, r, m, work = 2.0, 1.0, 20.0, 400.0
    daly, young = young_daly_interval(d, m), young_daly_interval(d, m, method="young")
    assert young / daly > 1.12
    taus = daly * np.geomspace(0.4, 2.5, 25)
    grid = np.linspace(np.log(taus[0]), np.log(taus[-1]), 4001)
    found = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        g = [
            simulate_job(work, t, checkpoint_cost=d, restart_cost=r, mtbf=m, n_runs=2000, rng=rng).goodput for t in taus
        ]
        coef = np.polyfit(np.log(taus), g, 4)  # smooth the Monte-Carlo curve, then take its maximum
        found.append(math.exp(grid[np.argmax(np.polyval(coef, grid))]))
    found = np.array(found)
    assert np.all(np.abs(found / daly - 1) < OPT_REL)
    assert np.all(np.abs(found / young - 1) > OPT_REL)


def test_no_failure_limit_of_the_simulation():
    sim = simulate_job(10.0, 3.0, checkpoint_cost=0.5, restart_cost=1.0, mtbf=1e15, n_runs=5, rng=0)
    assert np.allclose(sim.wall_time, 10.0 + 4 * 0.5) and not sim.n_failures.any()  # 3 + 3 + 3 + 1, four checkpoints


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "not valid", math.nan, [[1, 2], [3]]])
def test_bad_first_arguments(bad):
    kw = dict(checkpoint_cost=0.1, restart_cost=0.1, mtbf=10.0)
    for call in (
        lambda: cluster_mtbf(bad, 10),
        lambda: expected_segment_time(bad, **kw),
        lambda: expected_goodput(bad, **kw),
        lambda: young_daly_interval(bad, 10.0),
        lambda: simulate_job(bad, 1.0, **kw),
        lambda: simulate_timeline(bad, 1.0, **kw),
    ):
        with pytest.raises((TypeError, ValueError)):
            call()


def test_bad_values():
    kw = dict(checkpoint_cost=0.1, restart_cost=0.1, mtbf=10.0)
    with pytest.raises(ValueError, match="interval must be > 0"):
        expected_goodput([1.0, 0.0], **kw)
    with pytest.raises(ValueError, match="mtbf must be > 0"):
        expected_goodput(1.0, checkpoint_cost=0.1, restart_cost=0.1, mtbf=0.0)
    with pytest.raises(ValueError, match="checkpoint_cost must be >= 0"):
        simulate_job(1.0, 1.0, checkpoint_cost=-1.0, restart_cost=0.0, mtbf=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        young_daly_interval(1.0, 10.0, method="guess")
    with pytest.raises(ValueError, match="checkpoint_cost must be > 0"):
        young_daly_interval(0.0, 10.0)
    with pytest.raises(ValueError, match="n_runs must be >= 1"):
        simulate_job(1.0, 1.0, n_runs=0, **kw)
    with pytest.raises(TypeError, match="n_gpus must be an integer"):
        cluster_mtbf(100.0, 2.5)
