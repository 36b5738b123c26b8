import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.naive_bayes import MultinomialNB as SkMultinomialNB

from interviewlib.probability.naive_bayes import MultinomialNB

# Same formulas in float64; differences come only from summation order.
ATOL = 1e-10


def _data(seed=0, n=200, d=30, classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    rates = rng.gamma(1.0, 1.0, (classes, d))
    X = rng.poisson(rates[y]).astype(float)
    return X, y


@pytest.mark.parametrize(
    "params",
    [{}, {"alpha": 0.5}, {"alpha": 3.0, "fit_prior": False}, {"class_prior": [0.2, 0.3, 0.5]}],
)
def test_matches_sklearn(params):
    X, y = _data()
    Xt, _ = _data(seed=1, n=50)
    ours = MultinomialNB(**params).fit(X, y)
    ref = SkMultinomialNB(**params).fit(X, y)
    np.testing.assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, atol=ATOL)
    np.testing.assert_allclose(ours.class_log_prior_, ref.class_log_prior_, atol=ATOL)
    np.testing.assert_allclose(ours.feature_count_, ref.feature_count_, atol=ATOL)
    np.testing.assert_allclose(ours.class_count_, ref.class_count_, atol=ATOL)
    np.testing.assert_allclose(ours.predict_log_proba(Xt), ref.predict_log_proba(Xt), atol=ATOL)
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=ATOL)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))


def test_string_labels_and_long_documents():
    X, y = _data(seed=2)
    labels = np.array(["neg", "neu", "pos"])[y]
    X_long = X * 1000  # huge counts: products of probabilities would underflow
    ours = MultinomialNB().fit(X_long, labels)
    ref = SkMultinomialNB().fit(X_long, labels)
    assert ours.classes_.tolist() == ["neg", "neu", "pos"]
    np.testing.assert_array_equal(ours.predict(X_long), ref.predict(X_long))
    assert np.all(np.isfinite(ours.predict_log_proba(X_long)))


def test_hand_worked_example():
    # Two classes, two features. Class a counts (3, 1), class b counts (0, 2); alpha = 1:
    # theta_a = (4/6, 2/6), theta_b = (1/4, 3/4); priors 1/2 each.
    X = [[3, 1], [0, 2]]
    clf = MultinomialNB().fit(X, ["a", "b"])
    np.testing.assert_allclose(np.exp(clf.feature_log_prob_), [[4 / 6, 2 / 6], [1 / 4, 3 / 4]], rtol=1e-12)
    # Document (1, 0): scores 1/2 * 4/6 vs 1/2 * 1/4 -> posterior a = (2/3) / (2/3 + 1/4).
    post = clf.predict_proba([[1, 0]])[0]
    np.testing.assert_allclose(post, [(2 / 3) / (2 / 3 + 1 / 4), (1 / 4) / (2 / 3 + 1 / 4)], rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.01, 10.0))
def test_properties(seed, alpha):
    X, y = _data(seed=seed, n=40, d=8, classes=2)
    clf = MultinomialNB(alpha=alpha).fit(X, y)
    # Each class's feature distribution is a probability vector.
    np.testing.assert_allclose(logsumexp(clf.feature_log_prob_, axis=1), 0.0, atol=ATOL)
    lp = clf.predict_log_proba(X)
    np.testing.assert_allclose(logsumexp(lp, axis=1), 0.0, atol=ATOL)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(lp, axis=1)])


def test_single_class_and_unseen_feature():
    clf = MultinomialNB().fit([[1, 0], [2, 0]], [7, 7])
    np.testing.assert_allclose(clf.predict_proba([[0, 5]]), [[1.0]])
    assert clf.predict([[0, 5]]).tolist() == [7]
    # Feature never seen in training still has positive probability thanks to smoothing.
    assert np.all(np.isfinite(clf.feature_log_prob_))


def test_inputs_not_mutated():
    X, y = _data()
    X0, y0 = X.copy(), y.copy()
    MultinomialNB().fit(X, y).predict(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_bad_input():
    X, y = _data()
    with pytest.raises(ValueError, match="non-negative"):
        MultinomialNB().fit(-X, y)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        MultinomialNB(alpha=0.0).fit(X, y)
    with pytest.raises(ValueError, match="y must be 1-D with 200 labels"):
        MultinomialNB().fit(X, y[:-1])
    with pytest.raises(ValueError, match="not fitted"):
        MultinomialNB().predict(X)
    clf = MultinomialNB().fit(X, y)
    with pytest.raises(ValueError, match="must have 30 features"):
        clf.predict(X[:, :5])
    with pytest.raises(ValueError, match="class_prior must hold 3"):
        MultinomialNB(class_prior=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="X must be 2-D"):
        MultinomialNB().fit(X[0], y[:1])
    with pytest.raises(ValueError, match="at least one sample"):
        MultinomialNB().fit(np.zeros((0, 3)), [])


def test_bad_labels():
    X, y = _data()
    yf = y.astype(float)
    yf[3] = np.nan
    with pytest.raises(ValueError, match="y must not contain NaN or infinite labels; got 1"):
        MultinomialNB().fit(X, yf)  # np.unique would have made NaN a fourth class
    with pytest.raises(ValueError, match="contains NaN"):
        SkMultinomialNB().fit(X, yf)  # the reference refuses it too
    yf[3] = np.inf
    with pytest.raises(ValueError, match="y must not contain NaN or infinite labels"):
        MultinomialNB().fit(X, yf)
    with pytest.raises(TypeError, match="y must hold integer, float or string labels; got NoneType, str"):
        MultinomialNB().fit(X[:3], ["a", None, "b"])
    with pytest.raises(TypeError, match="y must be a 1-D array of class labels"):
        MultinomialNB().fit(X[:2], [[0, 1], [1]])
    # object labels from pandas are fine and give the classes of the plain array
    clf = MultinomialNB().fit(X, y.astype(str).astype(object))
    assert clf.classes_.tolist() == sorted(set(y.astype(str).tolist()))
