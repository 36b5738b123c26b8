import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.tensor import groupby_sum

# bincount and pandas add in different orders: a few ulps on sums of O(100) terms
RTOL = 1e-12


def test_matches_pandas_int_keys_two_columns():
    rng = np.random.default_rng(0)
    keys = rng.integers(-5, 20, size=500)
    vals = rng.normal(size=(500, 2))
    k, s = groupby_sum(keys, vals)
    ref = pd.DataFrame(vals, columns=["a", "b"]).groupby(keys).sum()
    np.testing.assert_array_equal(k, ref.index.to_numpy())
    np.testing.assert_allclose(s, ref.to_numpy(), rtol=RTOL, atol=1e-12)


def test_string_keys_and_nan_handling_like_pandas():
    keys = np.array(["x", "y", "x", "z", "z"])
    vals = np.array([1.0, np.nan, 2.5, np.nan, np.nan])
    k, s = groupby_sum(keys, vals)
    ref = pd.Series(vals).groupby(keys).sum()
    assert k.tolist() == ref.index.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(s, ref.to_numpy())  # all-NaN group sums to 0 (min_count=0)
    assert s.tolist() == [3.5, 0.0, 0.0]


def test_nan_keys_dropped_like_pandas():
    keys = np.array([1.0, np.nan, 1.0, 2.0])
    vals = np.array([1.0, 10.0, 2.0, 5.0])
    k, s = groupby_sum(keys, vals)
    ref = pd.Series(vals).groupby(keys).sum()
    np.testing.assert_array_equal(k, ref.index.to_numpy())
    np.testing.assert_array_equal(s, ref.to_numpy())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)),
        min_size=1,
        max_size=40,
    )
)
def test_property_matches_pandas_and_preserves_total(rows):
    keys = np.array([r[0] for r in rows])
    vals = np.array([r[1] for r in rows])
    k, s = groupby_sum(keys, vals)
    ref = pd.Series(vals).groupby(keys).sum()
    np.testing.assert_array_equal(k, ref.index.to_numpy())
    np.testing.assert_allclose(s, ref.to_numpy(), rtol=RTOL, atol=1e-9)
    assert s.sum() == pytest.approx(vals.sum(), abs=1e-8)


def test_empty_and_bad_input_and_no_mutation():
    k, s = groupby_sum(np.array([], dtype=int), np.array([]))
    assert k.shape == (0,) and s.shape == (0,)
    keys, vals = np.array([2, 1, 2]), np.array([1.0, np.nan, 3.0])
    k0, v0 = keys.copy(), vals.copy()
    groupby_sum(keys, vals)
    np.testing.assert_array_equal(keys, k0)
    np.testing.assert_array_equal(vals, v0)
    with pytest.raises(ValueError, match="same length"):
        groupby_sum([1, 2], [1.0])
    with pytest.raises(ValueError, match="keys must be 1-D"):
        groupby_sum([[1, 2]], [1.0, 2.0])
    with pytest.raises(ValueError, match="infinities"):
        groupby_sum([1, 2], [1.0, np.inf])


def test_bad_keys():
    vals = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="keys must not contain infinities; got 2 infinite keys"):
        groupby_sum([1.0, np.inf, -np.inf, 1.0], vals)
    with pytest.raises(TypeError, match="keys must be numbers or strings of one kind; got NoneType, str"):
        groupby_sum([None, "a", "b", "a"], vals)  # np.unique would fail inside the sort
    with pytest.raises(TypeError, match="keys must not mix strings with numbers"):
        groupby_sum(["1", 1, "b", "b"], vals)  # numpy would merge 1 and "1" into one group
    with pytest.raises(TypeError, match="keys must be a 1-D array of numbers or strings; got list"):
        groupby_sum([[1, 2], [3]], vals[:2])
    with pytest.raises(ValueError, match="keys must be 1-D"):
        groupby_sum(None, vals)


def test_object_keys_like_a_pandas_column():
    keys = pd.Series(["b", "a", "b", "c"]).to_numpy()  # object dtype
    assert keys.dtype == object
    vals = np.array([1.0, 2.0, 3.0, 4.0])
    k, s = groupby_sum(keys, vals)
    ref = pd.Series(vals).groupby(keys).sum()
    assert k.tolist() == ref.index.tolist()
    np.testing.assert_array_equal(s, ref.to_numpy())
