import numpy as np
import pytest
import torch

from interviewlib.nn import batchnorm_backward, batchnorm_forward

# float64 round-off; the statistics involve sums of a few hundred O(1) terms.
TOL = 1e-10


def _torch_bn(x, gamma, beta, dy, *, training, rm, rv, momentum=0.1, eps=1e-5):
    c = x.shape[1]
    cls = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}[x.ndim]
    bn = cls(c, momentum=momentum, eps=eps).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
        bn.running_mean.copy_(torch.tensor(rm))
        bn.running_var.copy_(torch.tensor(rv))
    bn.train(training)
    xt = torch.tensor(x, requires_grad=True)
    y = bn(xt)
    y.backward(torch.tensor(dy))
    return bn, y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_matches_torch_outputs_stats_and_gradients(shape, training):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.normal(loc=2.0, scale=3.0, size=shape)
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    dy = rng.normal(size=shape)
    bn, y_ref, dx_ref = _torch_bn(x, gamma, beta, dy, training=training, rm=rm, rv=rv, momentum=0.3)
    out = batchnorm_forward(x, gamma, beta, running_mean=rm, running_var=rv, training=training, momentum=0.3)
    np.testing.assert_allclose(out.y, y_ref, atol=TOL)
    np.testing.assert_allclose(out.running_mean, bn.running_mean.numpy(), atol=TOL)
    np.testing.assert_allclose(out.running_var, bn.running_var.numpy(), atol=TOL)
    dx, dgamma, dbeta = batchnorm_backward(dy, out.cache)
    np.testing.assert_allclose(dx, dx_ref, atol=TOL)
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), atol=TOL)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), atol=TOL)


def test_running_var_uses_unbiased_batch_variance():
    x = np.array([[1.0], [2.0], [6.0]])  # mean 3, biased var 14/3, unbiased 7
    out = batchnorm_forward(x, [1.0], [0.0], running_mean=[0.0], running_var=[0.0], momentum=1.0)
    assert out.running_mean[0] == pytest.approx(3.0)
    assert out.running_var[0] == pytest.approx(7.0)
    # normalisation used the biased variance
    np.testing.assert_allclose(out.y.ravel(), (x.ravel() - 3) / np.sqrt(14 / 3 + 1e-5), atol=TOL)


def test_training_output_is_standardised_per_channel():
    rng = np.random.default_rng(2)
    x = rng.normal(5.0, 4.0, size=(16, 2, 3, 3))
    y = batchnorm_forward(x, [1.0, 1.0], [0.0, 0.0], eps=1e-12).y
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, atol=1e-9)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 2))
    w = rng.normal(size=(5, 2))  # loss = sum(w * y)
    gamma, beta = np.array([1.5, -0.7]), np.array([0.2, 0.1])

    def loss(xx):
        return float(np.sum(w * batchnorm_forward(xx, gamma, beta).y))

    dx, _, _ = batchnorm_backward(w, batchnorm_forward(x, gamma, beta).cache)
    h = 1e-6  # central differences, error ~1e-9
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd[idx] = (loss(x + e) - loss(x - e)) / (2 * h)
    np.testing.assert_allclose(dx, fd, atol=1e-7)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)  # shifting a channel changes nothing


def test_inputs_not_mutated_and_no_running_stats():
    x = np.arange(6.0).reshape(3, 2)
    rm, rv = np.zeros(2), np.ones(2)
    out = batchnorm_forward(x, np.ones(2), np.zeros(2), running_mean=rm, running_var=rv)
    np.testing.assert_array_equal(rm, 0.0)
    np.testing.assert_array_equal(rv, 1.0)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(3, 2))
    assert batchnorm_forward(x, np.ones(2), np.zeros(2)).running_mean is None
    assert out.running_mean is not rm


def test_bad_input():
    x = np.zeros((4, 3))
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="at least 2-D"):
        batchnorm_forward(np.zeros(3), g, b)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        batchnorm_forward(x, np.ones(2), b)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batchnorm_forward(np.zeros((1, 3)), g, b)
    with pytest.raises(ValueError, match="required when training=False"):
        batchnorm_forward(x, g, b, training=False)
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        batchnorm_forward(x, g, b, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        batchnorm_forward(x, g, b, eps=0.0)
    out = batchnorm_forward(np.arange(12.0).reshape(4, 3), g, b)
    with pytest.raises(ValueError, match="dy must have the shape"):
        batchnorm_backward(np.zeros((2, 3)), out.cache)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)])
@pytest.mark.parametrize("start", [0, 4])
def test_momentum_none_is_torchs_cumulative_average(shape, start):
    # batches of different sizes; torch's buffers (running stats and num_batches_tracked) are the reference
    rng = np.random.default_rng(5)
    c = shape[1]
    cls = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    bn = cls(c, momentum=None).double()
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor(rm))
        bn.running_var.copy_(torch.tensor(rv))
        bn.num_batches_tracked.fill_(start)
    n = start
    for k, n_rows in enumerate([5, 2, 9, 3]):
        x = rng.normal(loc=k, scale=1.0 + k, size=(n_rows,) + shape[1:])
        y_ref = bn(torch.tensor(x)).detach().numpy()
        out = batchnorm_forward(
            x, np.ones(c), np.zeros(c), running_mean=rm, running_var=rv, momentum=None, num_batches_tracked=n
        )
        rm, rv, n = out.running_mean, out.running_var, out.num_batches_tracked
        np.testing.assert_allclose(out.y, y_ref, atol=TOL)
        np.testing.assert_allclose(rm, bn.running_mean.numpy(), atol=TOL)
        np.testing.assert_allclose(rv, bn.running_var.numpy(), atol=TOL)
        assert n == int(bn.num_batches_tracked) == start + k + 1


def test_momentum_none_from_zero_is_the_plain_average_of_batch_stats():
    # closed form: the initial buffers are dropped, then every batch has weight 1/k
    batches = [np.array([[1.0], [3.0]]), np.array([[0.0], [10.0], [20.0]]), np.array([[-4.0], [-2.0]])]
    rm, rv, n = np.array([100.0]), np.array([100.0]), 0
    for x in batches:
        out = batchnorm_forward(x, [1.0], [0.0], running_mean=rm, running_var=rv, momentum=None, num_batches_tracked=n)
        rm, rv, n = out.running_mean, out.running_var, out.num_batches_tracked
    assert rm[0] == pytest.approx(np.mean([b.mean() for b in batches]))
    assert rv[0] == pytest.approx(np.mean([b.var(ddof=1) for b in batches]))
    assert n == 3


def test_counter_is_counted_with_float_momentum_and_kept_in_eval():
    x = np.arange(8.0).reshape(4, 2)
    kw = dict(running_mean=np.zeros(2), running_var=np.ones(2))
    bn = torch.nn.BatchNorm1d(2).double()
    bn(torch.tensor(x))  # training: torch counts the batch whatever the momentum
    out = batchnorm_forward(x, np.ones(2), np.zeros(2), num_batches_tracked=0, **kw)
    assert out.num_batches_tracked == int(bn.num_batches_tracked) == 1
    bn.eval()
    bn(torch.tensor(x))
    out = batchnorm_forward(x, np.ones(2), np.zeros(2), training=False, momentum=None, num_batches_tracked=7, **kw)
    assert out.num_batches_tracked == 7 and int(bn.num_batches_tracked) == 1  # eval never counts
    np.testing.assert_array_equal(out.running_mean, 0.0)
    assert batchnorm_forward(x, np.ones(2), np.zeros(2), **kw).num_batches_tracked is None


def test_momentum_none_bad_input_and_bad_cache():
    x = np.arange(8.0).reshape(4, 2)
    g, b, rm, rv = np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)
    with pytest.raises(ValueError, match="num_batches_tracked is required with momentum=None"):
        batchnorm_forward(x, g, b, running_mean=rm, running_var=rv, momentum=None)
    with pytest.raises(ValueError, match="num_batches_tracked must be >= 0"):
        batchnorm_forward(x, g, b, running_mean=rm, running_var=rv, momentum=None, num_batches_tracked=-1)
    with pytest.raises(TypeError, match="num_batches_tracked must be an integer"):
        batchnorm_forward(x, g, b, running_mean=rm, running_var=rv, momentum=None, num_batches_tracked=1.0)
    # no running statistics: nothing to average, no counter needed
    assert batchnorm_forward(x, g, b, momentum=None).running_mean is None
    out = batchnorm_forward(x, g, b)
    with pytest.raises(TypeError, match=r"cache must be the BatchNormCache of batchnorm_forward \(out.cache\); got"):
        batchnorm_backward(np.zeros((4, 2)), out)  # the whole output instead of out.cache
    with pytest.raises(TypeError, match="cache must be the BatchNormCache"):
        batchnorm_backward(np.zeros((4, 2)), None)
