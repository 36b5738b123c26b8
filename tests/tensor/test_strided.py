import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.tensor import Storage, StridedTensor, cat, contiguous_strides, stack, view_strides

SIZES = st.integers(0, 4)


@st.composite
def strided_pair(draw, max_dims=4):
    """A random (possibly overlapping, offset, non-contiguous) strided geometry, ours and torch's."""
    ndim = draw(st.integers(0, max_dims))
    size = st.integers(0, 4) if draw(st.integers(0, 9)) == 7 else st.integers(1, 4)  # empty tensors now and then
    shape = tuple(draw(st.lists(size, min_size=ndim, max_size=ndim)))
    kind = draw(st.sampled_from(["contiguous", "permuted", "sliced", "sliced", "random"]))
    if kind == "random":
        strides = tuple(draw(st.lists(st.integers(0, 12), min_size=ndim, max_size=ndim)))
    elif kind == "sliced":  # a sub-block of a larger contiguous tensor: some dims merge, some do not
        padded = [s + draw(st.sampled_from([0, 0, 1, 2])) for s in shape]
        strides = contiguous_strides(padded)
    else:
        strides = contiguous_strides(shape)
    offset = draw(st.integers(0, 3))
    extent = offset + sum((s - 1) * t for s, t in zip(shape, strides)) + 1 if math.prod(shape) else offset + 1
    base = torch.arange(extent, dtype=torch.float64)
    ours = StridedTensor(Storage(np.arange(extent, dtype=np.float64)), shape, strides, offset)
    ref = base.as_strided(shape, strides, offset)
    if kind in ("permuted", "sliced") and ndim and draw(st.booleans()):
        perm = draw(st.permutations(range(ndim)))
        ours, ref = ours.permute(*perm), ref.permute(*perm)
    return ours, ref, base


def same_storage(t, base):
    return t.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()


def assert_same(ours, ref):
    assert ours.shape == tuple(ref.shape)
    assert ours.strides == tuple(ref.stride())
    assert ours.offset == ref.storage_offset()
    assert ours.is_contiguous() == ref.is_contiguous()
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def outcome(fn, *args):
    try:
        return fn(*args)
    except (RuntimeError, IndexError, ValueError):
        return "error"


@st.composite
def target_shape(draw, numel):
    """A shape with ``numel`` elements (factor numel, sprinkle 1s, maybe one -1), or a wrong one."""
    if draw(st.integers(0, 9)) == 7:
        return (numel + 1,)
    if numel == 0:
        dims = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
        dims.insert(draw(st.integers(0, len(dims))), 0)
    else:
        factors, n, p = [], numel, 2
        while n > 1:
            while n % p == 0:
                factors.append(p)
                n //= p
            p += 1
        factors = draw(st.permutations(factors))
        dims, i = [], 0
        while i < len(factors):
            j = draw(st.integers(i + 1, len(factors)))
            dims.append(math.prod(factors[i:j]))
            i = j
        for _ in range(draw(st.integers(0, 2))):
            dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and numel and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_view_matches_torch_including_failures(data):
    ours, ref, base = data.draw(strided_pair())
    shape = data.draw(target_shape(ours.numel()))
    o = outcome(lambda: ours.view(*shape))
    r = outcome(lambda: ref.view(shape))
    assert (o == "error") == (isinstance(r, str) and r == "error"), (ours, shape)
    if o != "error":
        assert_same(o, r)
        assert o.shares_storage(ours)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_reshape_matches_torch_and_copies_only_when_needed(data):
    ours, ref, base = data.draw(strided_pair())
    shape = data.draw(target_shape(ours.numel()))
    o = outcome(lambda: ours.reshape(*shape))
    r = outcome(lambda: ref.reshape(shape))
    assert (o == "error") == (isinstance(r, str) and r == "error")
    if o != "error":
        assert_same(o, r)
        view_possible = view_strides(ours.shape, ours.strides, o.shape) is not None
        assert o.shares_storage(ours) == view_possible
        if ref.numel() > 0:  # torch may hand out a null storage pointer for empty tensors
            assert same_storage(r, base) == view_possible


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_view_ops_chain_matches_torch(data):
    ours, ref, base = data.draw(strided_pair())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["transpose", "permute", "unsqueeze", "squeeze", "squeeze_dim", "expand"]))
        n = ours.ndim
        if op == "transpose":
            lo = -max(n, 1)
            d0, d1 = data.draw(st.integers(lo - 1, -lo)), data.draw(st.integers(lo, -lo - 1))
            o, r = outcome(ours.transpose, d0, d1), outcome(ref.transpose, d0, d1)
        elif op == "permute":
            perm = data.draw(st.permutations(range(n)))
            if perm and data.draw(st.booleans()):
                perm = [p - n for p in perm]  # negative dims
            o, r = outcome(ours.permute, *perm), outcome(ref.permute, tuple(perm))
        elif op == "unsqueeze":
            d = data.draw(st.integers(-n - 2, n + 1))
            o, r = outcome(ours.unsqueeze, d), outcome(ref.unsqueeze, d)
        elif op == "squeeze":
            o, r = ours.squeeze(), ref.squeeze()
        elif op == "squeeze_dim":
            d = data.draw(st.integers(-max(n, 1), max(n, 1) - 1))
            o, r = outcome(ours.squeeze, d), outcome(ref.squeeze, d)
        else:
            lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
            sizes = lead + tuple(
                data.draw(st.sampled_from([s, -1, 2, 3] if s == 1 else [s, -1, s + 1])) for s in ours.shape
            )
            o, r = outcome(ours.expand, *sizes), outcome(ref.expand, sizes)
        assert (o == "error") == (isinstance(r, str) and r == "error"), (op, ours)
        if o == "error":
            return
        assert_same(o, r)
        assert o.shares_storage(ours)
        ours, ref = o, r


@settings(max_examples=50, deadline=None)
@given(strided_pair())
def test_contiguous_matches_torch(pair):
    ours, ref, base = pair
    o, r = ours.contiguous(), ref.contiguous()
    assert_same(o, r)
    assert (o is ours) == ref.is_contiguous()
    assert o.strides == contiguous_strides(o.shape) or ours.is_contiguous()


def test_hand_worked_view_rules():
    x = StridedTensor.arange(2, 3, 4)
    assert x.strides == (12, 4, 1)
    t = x.transpose(1, 2)  # (2, 4, 3) strides (12, 1, 4)
    assert t.strides == (12, 1, 4) and not t.is_contiguous()
    with pytest.raises(ValueError, match="not compatible"):
        t.view(2, 12)  # would merge the transposed dims
    assert t.view(2, 2, 2, 3).strides == (12, 2, 1, 4)  # splitting one dim is fine
    with pytest.raises(ValueError, match="not compatible"):
        t.view(8, 3)  # 2 and 4 have strides 12 and 1: not one chunk
    r = t.reshape(2, 12)
    assert not r.shares_storage(x) and r.is_contiguous()
    np.testing.assert_array_equal(r.numpy(), np.arange(24).reshape(2, 3, 4).transpose(0, 2, 1).reshape(2, 12))
    # size-1 dims never break contiguity
    y = StridedTensor(x.storage, (2, 1, 12), (12, 999, 1))
    assert y.is_contiguous() and y.view(24).strides == (1,)


def test_unsqueeze_squeeze_expand_values():
    x = StridedTensor.arange(3)
    assert x.unsqueeze(0).shape == (1, 3) and x.unsqueeze(-1).shape == (3, 1)
    e = x.unsqueeze(0).expand(4, 3)
    assert e.strides == (0, 1) and not e.is_contiguous() and e.shares_storage(x)
    np.testing.assert_array_equal(e.numpy(), np.broadcast_to(np.arange(3.0), (4, 3)))
    assert StridedTensor.arange(1, 3, 1).squeeze().shape == (3,)
    assert StridedTensor.arange(1, 3, 1).squeeze((0, 1)).shape == (3, 1)


def test_cat_and_stack_match_torch():
    a, b = StridedTensor.arange(2, 3), StridedTensor.arange(2, 3).transpose(0, 1).contiguous().view(2, 3)
    ta, tb = torch.from_numpy(a.numpy()), torch.from_numpy(b.numpy())
    for d in (0, 1, -1):
        c = cat([a, b], dim=d)
        torch.testing.assert_close(torch.from_numpy(c.numpy()), torch.cat([ta, tb], dim=d))
        assert c.is_contiguous() and not c.shares_storage(a)
    for d in (0, 1, 2, -1, -3):
        s = stack([a, b], dim=d)
        torch.testing.assert_close(torch.from_numpy(s.numpy()), torch.stack([ta, tb], dim=d))
        c = cat([a.unsqueeze(d), b.unsqueeze(d)], dim=d)  # stack == unsqueeze + cat
        np.testing.assert_array_equal(s.numpy(), c.numpy())
    with pytest.raises(ValueError, match="sizes must match"):
        cat([a, StridedTensor.arange(2, 2)], dim=0)
    with pytest.raises(ValueError, match="equal shape"):
        stack([a, StridedTensor.arange(3, 2)])
    with pytest.raises(ValueError, match="non-empty"):
        cat([])


def test_bad_arguments():
    x = StridedTensor.arange(2, 3)
    with pytest.raises(ValueError, match="out of range"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match="must not repeat"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="permute needs 2 dims"):
        x.permute(0)
    with pytest.raises(ValueError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(ValueError, match="invalid for input of size 6"):
        x.view(4)
    with pytest.raises(ValueError, match="ambiguous"):
        StridedTensor.arange(0, 3).view(0, -1)
    with pytest.raises(ValueError, match="must match the existing size"):
        x.expand(3, 3)
    with pytest.raises(ValueError, match="at least as many sizes"):
        x.expand(3)
    with pytest.raises(ValueError, match="new leading dimension"):
        x.expand(-1, 2, 3)
    with pytest.raises(ValueError, match="reads storage index"):
        StridedTensor(Storage(np.zeros(5)), (2, 3), (3, 1))
    with pytest.raises(ValueError, match="same length"):
        StridedTensor(Storage(np.zeros(6)), (2, 3), (1,))
    with pytest.raises(TypeError, match="integers"):
        x.view(2.0, 3)


def test_from_numpy_copies_and_storage_not_mutated():
    a = np.arange(6.0).reshape(2, 3)
    t = StridedTensor.from_numpy(a)
    a[0, 0] = 100.0
    assert t.numpy()[0, 0] == 0.0
    before = t.storage.data.copy()
    t.transpose(0, 1).reshape(6).contiguous()
    np.testing.assert_array_equal(t.storage.data, before)


def test_contiguous_strides_and_storage_refuse_bad_input():
    for bad in [(2.5, 3), (float("nan"), 3), (float("inf"), 3), ("2", 3)]:
        with pytest.raises(TypeError, match="shape must contain integers; got"):
            contiguous_strides(bad)
    with pytest.raises(TypeError, match="shape must be a sequence of ints; got NoneType"):
        contiguous_strides(None)
    with pytest.raises(ValueError, match="shape must not contain negative sizes"):
        contiguous_strides((2, -1))
    assert contiguous_strides(torch.Size([2, 3])) == torch.empty(2, 3).stride()
    with pytest.raises(TypeError, match=r"data must be a float64 numpy array; got list"):
        Storage([1.0, 2.0])
    with pytest.raises(TypeError, match=r"data must be a float64 numpy array; got array of dtype int64"):
        Storage(np.arange(3))
    with pytest.raises(ValueError, match=r"data must be 1-D \(a flat buffer\); got shape \(2, 2\)"):
        Storage(np.zeros((2, 2)))


def test_cat_stack_view_strides_name_the_bad_argument():
    a = StridedTensor.arange(2, 3)
    for fn in (cat, stack):
        with pytest.raises(TypeError, match=rf"{fn.__name__}: tensors must be a sequence of StridedTensor; got None"):
            fn(None)
        with pytest.raises(TypeError, match="tensors must be a sequence of StridedTensor; got StridedTensor"):
            fn(a)  # one tensor, not a list of them
        with pytest.raises(TypeError, match="tensors must hold StridedTensor inputs; got str at index 1"):
            fn([a, "b"])
    with pytest.raises(TypeError, match="old_shape must be a sequence of ints; got NoneType"):
        view_strides(None, (3, 1), (3, 2))
    with pytest.raises(TypeError, match="old_strides must contain integers"):
        view_strides((2, 3), (3.0, 1), (3, 2))
    with pytest.raises(ValueError, match="old_strides must not contain negative strides"):
        view_strides((2, 3), (-3, 1), (3, 2))
    with pytest.raises(ValueError, match=r"old_strides must have one entry per dimension of old_shape \(2, 3\)"):
        view_strides((2, 3), (1,), (3, 2))
    with pytest.raises(ValueError, match=r"new_shape \(4, 2\) must have as many elements as old_shape \(2, 3\)"):
        view_strides((2, 3), (3, 1), (4, 2))
