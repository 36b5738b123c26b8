import textwrap

import numpy as np
import pytest

from interviewlib._rng import as_generator
from interviewlib._validation import as_float_array, as_matrix, check_is_fitted, check_option, check_scalar
from interviewlib.display import show


def test_as_float_array_promotes_and_keeps_values():
    x = as_float_array([[1, 2], [3, 4]], "A", ndim=2)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])
    assert as_float_array(np.array([True, False]), "mask").tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        ([1.0, np.nan], ValueError, "x must contain only finite values"),
        ([1.0, np.inf], ValueError, "x must contain only finite values"),
        (["a", "b"], TypeError, "x must contain real numbers"),
        ([1 + 2j], TypeError, "x must be real"),
        ([[1, 2], [3]], TypeError, "x must be array-like"),
        (np.zeros((2, 2, 2)), ValueError, r"x must be 1-D or 2-D; got 3-D"),
    ],
)
def test_as_float_array_rejects_bad_input(value, exc, match):
    with pytest.raises(exc, match=match):
        as_float_array(value, "x", ndim=(1, 2))


def test_as_float_array_empty_policy():
    assert as_float_array(np.zeros((0, 3)), "A").shape == (0, 3)
    with pytest.raises(ValueError, match="A must not be empty"):
        as_float_array(np.zeros((0, 3)), "A", allow_empty=False)


def test_as_float_array_allows_nan_when_asked():
    assert np.isnan(as_float_array([np.nan], "x", finite=False)[0])


def test_as_matrix_square():
    with pytest.raises(ValueError, match=r"A must be square; got shape \(2, 3\)"):
        as_matrix(np.ones((2, 3)), "A", square=True)
    with pytest.raises(ValueError, match="B must be 2-D"):
        as_matrix(np.ones(3), "B")


def test_check_scalar():
    assert check_scalar(3, "k", kind="int", low=1) == 3
    assert check_scalar(np.int64(3), "k", kind="int") == 3
    with pytest.raises(TypeError, match="k must be an integer"):
        check_scalar(2.0, "k", kind="int")
    with pytest.raises(TypeError, match="k must be an integer"):
        check_scalar(True, "k", kind="int")
    with pytest.raises(ValueError, match=r"eps must be > 0; got 0.0"):
        check_scalar(0.0, "eps", low=0, low_inclusive=False)
    with pytest.raises(ValueError, match=r"p must be <= 1"):
        check_scalar(1.5, "p", high=1)
    with pytest.raises(ValueError, match="tol must be finite"):
        check_scalar(float("nan"), "tol")


def test_check_option_and_fitted():
    assert check_option("svd", "method", ("qr", "svd")) == "svd"
    with pytest.raises(ValueError, match=r"method must be one of \('qr', 'svd'\); got 'lu'"):
        check_option("lu", "method", ("qr", "svd"))

    class Model:
        pass

    m = Model()
    with pytest.raises(ValueError, match="Model is not fitted yet"):
        check_is_fitted(m, "coef_")
    m.coef_ = 1
    check_is_fitted(m, "coef_")


def test_as_generator():
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    a, b = as_generator(5).random(3), as_generator(5).random(3)
    np.testing.assert_array_equal(a, b)
    assert isinstance(as_generator(None), np.random.Generator)
    with pytest.raises(TypeError, match="rng must be"):
        as_generator("seed")
    with pytest.raises(TypeError, match="rng must be"):
        as_generator(True)
    with pytest.raises(ValueError, match="rng must be a non-negative"):
        as_generator(-1)


def test_show_returns_source_and_can_drop_docstring():
    code = show(check_option)
    assert "def check_option" in code.data
    assert "Examples" in code.data
    short = show(check_option, docstring=False)
    assert "def check_option" in short.data and "Examples" not in short.data
    with pytest.raises(TypeError, match="obj must be a Python function"):
        show(len)


def test_show_of_a_class_puts_the_code_first():
    from interviewlib.transformer import KVCache

    full = show(KVCache, docstring=True).data
    default = show(KVCache).data
    bare = show(KVCache, docstring=False).data
    # default: one-line summaries instead of the class and method docstrings
    assert "Parameters" in full and "Parameters" not in default and "Parameters" not in bare
    assert '"""Per-layer preallocated buffers with a shared fill length."""' in default
    assert default.index("def __init__") < full.index("def __init__") / 3  # the code comes first
    for text in (full, default, bare):
        compile(textwrap.dedent(text), "<show>", "exec")  # still valid Python
    assert "def update" in bare and '"""' not in bare.split("def update")[1].split("\n")[1]
    with pytest.raises(TypeError, match="docstring must be True, False or None"):
        show(KVCache, docstring="no")
