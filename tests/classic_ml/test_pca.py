import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_circles
from sklearn.decomposition import PCA as SKPCA
from sklearn.decomposition import KernelPCA as SKKernelPCA

from interviewlib.classic_ml import PCA, KernelPCA

RTOL = 1e-10  # both are backward-stable factorisations of the same well-conditioned matrix


def _data(seed=0, n=200, d=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0


@pytest.mark.parametrize("solver", ["svd", "eigh", "auto"])
def test_matches_sklearn(solver):
    X = _data()
    ours = PCA(n_components=4, solver=solver).fit(X)
    ref = SKPCA(n_components=4).fit(X)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8)
    # components equal up to sign
    signs = np.sign((ours.components_ * ref.components_).sum(1))
    np.testing.assert_allclose(ours.components_ * signs[:, None], ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.transform(X) * signs, ref.transform(X), atol=1e-8)


def test_whiten_and_fraction_match_sklearn():
    X = _data(1)
    ours = PCA(n_components=0.9, whiten=True).fit(X)
    ref = SKPCA(n_components=0.9, whiten=True).fit(X)
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(np.abs(ours.transform(X)), np.abs(ref.transform(X)), atol=1e-8)
    np.testing.assert_allclose(ours.transform(X).std(0, ddof=1), 1.0, rtol=1e-10)


def test_closed_form_line():
    t = np.linspace(-1, 1, 5)
    X = np.c_[t, 2 * t]  # all variance along (1, 2)/sqrt(5)
    p = PCA(n_components=1).fit(X)
    np.testing.assert_allclose(p.components_[0], np.array([1, 2]) / np.sqrt(5))
    np.testing.assert_allclose(p.explained_variance_[0], 5 * t.var(ddof=1))
    np.testing.assert_allclose(p.inverse_transform(p.transform(X)), X, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_eckart_young_reconstruction(seed, k):
    X = _data(seed, n=30, d=5)
    p = PCA(n_components=k, solver="svd").fit(X)
    err = ((X - p.inverse_transform(p.transform(X))) ** 2).sum()
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    np.testing.assert_allclose(err, (s[k:] ** 2).sum(), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(p.components_ @ p.components_.T, np.eye(k), atol=1e-10)


def test_kernel_pca_matches_sklearn_on_circles():
    X, _ = make_circles(200, factor=0.3, noise=0.05, random_state=0)
    ours = KernelPCA(n_components=2, gamma=10.0).fit(X)
    ref = SKKernelPCA(n_components=2, kernel="rbf", gamma=10.0).fit(X)
    np.testing.assert_allclose(ours.eigenvalues_, ref.eigenvalues_, rtol=1e-8)
    Xn = np.random.default_rng(0).uniform(-1, 1, size=(20, 2))
    for A, B in [(ours.transform(X), ref.transform(X)), (ours.transform(Xn), ref.transform(Xn))]:
        signs = np.sign((A * B).sum(0))
        np.testing.assert_allclose(A * signs, B, atol=1e-8)


def test_zero_variance_and_no_mutation():
    X = np.ones((4, 3))
    X0 = X.copy()
    p = PCA(n_components=2).fit(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(p.explained_variance_ratio_, 0.0)


def test_bad_input():
    X = _data()
    with pytest.raises(ValueError, match="n_components must be <= 6"):
        PCA(n_components=7).fit(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        PCA().fit(X[:1])
    with pytest.raises(ValueError, match="finite"):
        PCA().fit([[np.nan, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="not fitted"):
        PCA().transform(X)
    with pytest.raises(ValueError, match="X must have 6 features"):
        PCA(n_components=2).fit(X).transform(X[:, :3])
    with pytest.raises(ValueError, match="solver must be one of"):
        PCA(solver="qr").fit(X)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        KernelPCA(gamma=0.0).fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        KernelPCA().transform(X)
