import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.tensor import broadcast_shapes, matmul_shape

shape_st = st.lists(st.sampled_from([0, 1, 1, 2, 3]), max_size=4).map(tuple)


@settings(max_examples=50, deadline=None)
@given(st.lists(shape_st, min_size=1, max_size=4))
def test_matches_torch_and_numpy_including_errors(shapes):
    try:
        ref = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        ref = None
    if ref is None:
        with pytest.raises(ValueError, match="cannot be broadcast"):
            broadcast_shapes(*shapes)
        with pytest.raises(ValueError):
            np.broadcast_shapes(*shapes)
    else:
        assert broadcast_shapes(*shapes) == ref == np.broadcast_shapes(*shapes)


def test_hand_worked():
    assert broadcast_shapes((8, 1, 6, 1), (7, 1, 5)) == (8, 7, 6, 5)
    assert broadcast_shapes((5, 4), (1,)) == (5, 4)
    assert broadcast_shapes(3, (2, 1)) == (2, 3)  # an int is a 1-D shape
    assert broadcast_shapes((0,), (1,)) == (0,)  # 1 broadcasts to 0
    assert broadcast_shapes() == ()
    assert broadcast_shapes((), (2,)) == (2,)


def test_errors_like_torch():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        broadcast_shapes((0,), (3,))
    with pytest.raises(ValueError, match="negative"):
        broadcast_shapes((2, -1))
    with pytest.raises(ValueError):  # torch raises ValueError here as well
        torch.broadcast_shapes((2, -1))
    with pytest.raises(TypeError, match="integers"):
        broadcast_shapes((1.5,))
    with pytest.raises(TypeError):
        torch.broadcast_shapes((1.5,))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4).map(tuple),
    st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4).map(tuple),
)
def test_matmul_shape_matches_torch_and_numpy(a, b):
    try:
        ref = tuple((torch.zeros(a) @ torch.zeros(b)).shape)
    except RuntimeError:
        ref = None
    if ref is None:
        with pytest.raises(ValueError, match="matmul inner dimensions must agree|cannot be broadcast"):
            matmul_shape(a, b)
        with pytest.raises(ValueError):
            np.matmul(np.zeros(a), np.zeros(b))
    else:
        assert matmul_shape(a, b) == ref == np.matmul(np.zeros(a), np.zeros(b)).shape


def test_matmul_shape_rules_by_hand():
    assert matmul_shape((4,), (4,)) == ()  # dot
    assert matmul_shape((2, 4), (4,)) == (2,)  # mv
    assert matmul_shape((4,), (4, 5)) == (5,)  # prepend 1, then remove it
    assert matmul_shape((7, 2, 4), (4, 5)) == (7, 2, 5)  # batch broadcast
    assert matmul_shape((7, 1, 2, 4), (3, 4, 5)) == (7, 3, 2, 5)
    with pytest.raises(ValueError, match="at least 1-D"):
        matmul_shape((), (3,))
    with pytest.raises(ValueError, match="inner dimensions"):
        matmul_shape((2, 3), (4, 5))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        matmul_shape((2, 2, 3), (3, 3, 4))


def test_non_integer_sizes_are_refused_not_truncated():
    # int(2.5) == 2 would silently give a wrong shape; int(nan) / int(inf) raise ValueError / OverflowError
    for bad in [(2.5, 3), (float("nan"), 3), (float("inf"), 3), ("2", 3)]:
        with pytest.raises(TypeError, match=r"a_shape must contain integers; got"):
            matmul_shape(bad, (3, 3))
        with pytest.raises(TypeError, match=r"b_shape must contain integers; got"):
            matmul_shape((3, 3), bad)
    with pytest.raises(TypeError, match="a_shape must be a sequence of ints; got NoneType"):
        matmul_shape(None, (3,))
    with pytest.raises(TypeError, match="b_shape must be a sequence of ints; got str"):
        matmul_shape((3,), "33")
    with pytest.raises(ValueError, match="a_shape must not contain negative sizes"):
        matmul_shape((-1, 3), (3,))
    with pytest.raises(TypeError, match="shapes must be a sequence of ints; got NoneType"):
        broadcast_shapes((2, 3), None)
    assert matmul_shape(np.array([2, 3]), torch.Size([3, 4])) == (2, 4)  # numpy and torch sizes are ints
