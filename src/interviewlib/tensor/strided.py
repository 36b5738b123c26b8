r"""A from-scratch model of PyTorch's strided tensors: shape, strides, offset, storage.

A strided tensor is a flat buffer (the *storage*) plus three numbers per view: the
element at index :math:`(i_0, \dots, i_{n-1})` lives at storage position

.. math:: \text{offset} + \sum_k i_k \cdot \text{stride}_k .

``transpose``, ``permute``, ``unsqueeze``, ``squeeze``, ``expand`` and (when possible)
``view``/``reshape`` only rewrite shape/strides/offset and share the storage; ``contiguous``,
``cat``, ``stack`` and a ``reshape`` that cannot be a view allocate a new storage. The rules
follow ATen (``computeStride`` in ``TensorUtils.cpp``, ``inferExpandGeometry`` in
``ExpandUtils.cpp``, ``compute_contiguous`` in ``TensorImpl``) and are tested against torch.
Errors are ``ValueError`` where torch raises ``RuntimeError``/``IndexError``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from interviewlib.tensor.broadcast import _check_shape

__all__ = ["Storage", "StridedTensor", "cat", "contiguous_strides", "stack", "view_strides"]

_ids = itertools.count()


class Storage:
    """A flat float64 buffer with a unique id (several tensors may view one storage).

    Parameters
    ----------
    data : numpy.ndarray of float64, shape (n,)
        The elements; kept by reference, never written to by this module.

    Raises
    ------
    TypeError
        If ``data`` is not a float64 ``numpy.ndarray``.
    ValueError
        If ``data`` is not 1-D.
    """

    __slots__ = ("data", "id")

    def __init__(self, data: np.ndarray):
        if not isinstance(data, np.ndarray) or data.dtype != np.float64:
            got = f"array of dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"data must be a float64 numpy array; got {got} (use np.asarray(data, dtype=np.float64)).")
        if data.ndim != 1:
            raise ValueError(f"data must be 1-D (a flat buffer); got shape {data.shape} (use data.reshape(-1)).")
        self.data = data
        self.id = next(_ids)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __repr__(self) -> str:
        return f"Storage(id={self.id}, size={len(self)})"


def _as_shape(shape, name: str, *, allow_minus_one: bool = False) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{name} must contain integers; got {type(s).__name__} {s!r}.")
        s = int(s)
        if s < (-1 if allow_minus_one else 0):
            lowest = "-1" if allow_minus_one else "0"
            raise ValueError(f"{name} entries must be >= {lowest}; got {s} in {tuple(shape)}.")
        out.append(s)
    return tuple(out)


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major (C-contiguous) strides of ``shape``, in elements, as torch computes them.

    Sizes 0 count as 1 (``torch.empty(2, 0, 3).stride() == (3, 3, 1)``).

    Parameters
    ----------
    shape : sequence of int
        Non-negative sizes.

    Returns
    -------
    tuple of int
        One stride per dimension; the last is 1.

    Raises
    ------
    TypeError
        If ``shape`` is not a sequence of integers (``2.5`` is refused, not truncated).
    ValueError
        If a size is negative.

    Examples
    --------
    >>> contiguous_strides((2, 3, 4))
    (12, 4, 1)
    >>> contiguous_strides((2, 0, 3))
    (3, 3, 1)
    """
    strides = []
    acc = 1
    for s in reversed(_check_shape(shape, "shape")):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def _infer_size(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolve one ``-1`` in ``shape`` (ATen ``infer_size``)."""
    known = math.prod(s for s in shape if s != -1)
    n_infer = shape.count(-1)
    if n_infer > 1:
        raise ValueError(f"only one dimension can be inferred; got shape {shape}.")
    if n_infer == 1:
        if known == 0:
            raise ValueError(
                f"cannot reshape a tensor of {numel} elements into shape {shape}: "
                "the -1 is ambiguous when another dimension is 0."
            )
        if numel % known == 0:
            return tuple(numel // known if s == -1 else s for s in shape)
    elif known == numel:
        return shape
    raise ValueError(f"shape {shape} is invalid for input of size {numel}.")


def view_strides(
    old_shape: Sequence[int], old_strides: Sequence[int], new_shape: Sequence[int]
) -> tuple[int, ...] | None:
    r"""Strides of ``view(new_shape)`` without copying, or ``None`` when no view exists.

    Parameters
    ----------
    old_shape, old_strides : sequence of int
        The current geometry.
    new_shape : sequence of int
        Target shape with the same number of elements (no ``-1``).

    Returns
    -------
    tuple of int or None
        Mirrors ATen's ``computeStride``.

    Raises
    ------
    TypeError
        If a shape or the strides are not sequences of integers.
    ValueError
        If a size or stride is negative, ``old_strides`` does not have one entry per
        dimension of ``old_shape``, or the element counts differ.

    Notes
    -----
    Split the old dimensions, from the right, into maximal *chunks* in which each dimension
    steps over exactly the block of the next one (``stride[i] == size[i+1] * stride[i+1]``;
    size-1 dimensions never break a chunk). Every chunk behaves like one contiguous run with
    a base stride. A view exists iff the new shape can be cut into consecutive groups whose
    element counts equal the chunks' counts, in order: new dims may split or merge dims
    *inside* a chunk but never span two chunks. See question q04-05.

    Examples
    --------
    >>> view_strides((2, 3), (3, 1), (3, 2))
    (2, 1)
    >>> view_strides((2, 3), (1, 2), (6,)) is None   # the transpose of a 3x2 tensor
    True
    >>> view_strides((4, 2, 3), (6, 1, 2), (4, 6))   # last two dims transposed: no merge
    >>> view_strides((4, 2, 3), (6, 1, 2), (2, 2, 2, 3))  # splitting the first dim is fine
    (12, 6, 1, 2)
    """
    old_shape, new_shape = _check_shape(old_shape, "old_shape"), _check_shape(new_shape, "new_shape")
    old_strides = _check_shape(old_strides, "old_strides", what="strides")
    if len(old_strides) != len(old_shape):
        raise ValueError(
            f"old_strides must have one entry per dimension of old_shape {old_shape}; got {old_strides}."
        )
    if math.prod(old_shape) != math.prod(new_shape):
        raise ValueError(f"new_shape {new_shape} must have as many elements as old_shape {old_shape}.")
    if not old_shape:
        return (1,) * len(new_shape)
    numel = math.prod(old_shape)
    if numel == 0:
        if old_shape == new_shape:
            return old_strides
        return contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = old_strides[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[tensor_d]
        chunk_ends = tensor_d == 0 or (
            old_shape[tensor_d - 1] != 1 and old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride
        )
        if chunk_ends:
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = old_strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


class StridedTensor:
    """A view onto a :class:`Storage`: shape, strides (in elements) and offset.

    Parameters
    ----------
    storage : Storage
        The shared buffer.
    shape : tuple of int
        Sizes, all >= 0.
    strides : tuple of int
        Element steps per dimension, all >= 0 (as in torch; same length as ``shape``).
    offset : int
        Storage index of element ``(0, ..., 0)``.

    Raises
    ------
    ValueError
        On mismatched lengths, negative sizes/strides/offset, or a view that would read
        beyond the end of the storage.

    Notes
    -----
    Build one with :meth:`from_numpy` or :meth:`arange`. Use :meth:`numpy` to read the
    elements and :meth:`shares_storage` to see whether two tensors alias. See questions
    q04-01 to q04-05.

    Examples
    --------
    >>> x = StridedTensor.arange(2, 3)
    >>> x.shape, x.strides, x.is_contiguous()
    ((2, 3), (3, 1), True)
    >>> y = x.transpose(0, 1)
    >>> y.shape, y.strides, y.is_contiguous(), y.shares_storage(x)
    ((3, 2), (1, 3), False, True)
    >>> y.numpy().tolist()
    [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    """

    __slots__ = ("offset", "shape", "storage", "strides")

    def __init__(self, storage: Storage, shape: Sequence[int], strides: Sequence[int], offset: int = 0):
        if not isinstance(storage, Storage):
            raise TypeError(f"storage must be a Storage; got {type(storage).__name__}.")
        shape = _as_shape(tuple(shape), "shape")
        strides = _as_shape(tuple(strides), "strides")
        if len(shape) != len(strides):
            raise ValueError(f"shape and strides must have the same length; got {shape} and {strides}.")
        if isinstance(offset, bool) or not isinstance(offset, numbers.Integral) or offset < 0:
            raise ValueError(f"offset must be a non-negative integer; got {offset!r}.")
        if math.prod(shape) > 0:
            last = int(offset) + sum((s - 1) * st for s, st in zip(shape, strides))
            if last >= len(storage):
                raise ValueError(
                    f"view reads storage index {last} but the storage has {len(storage)} elements."
                )
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = int(offset)

    # ---- construction and inspection -------------------------------------------------
    @classmethod
    def from_numpy(cls, array) -> StridedTensor:
        """A contiguous tensor holding a float64 copy of ``array`` (new storage)."""
        a = np.array(array, dtype=np.float64)  # copy
        return cls(Storage(a.reshape(-1)), a.shape, contiguous_strides(a.shape))

    @classmethod
    def arange(cls, *shape: int) -> StridedTensor:
        """``torch.arange(numel).view(shape)``: element value = storage index."""
        shape = _as_shape(shape, "shape")
        n = math.prod(shape)
        return cls(Storage(np.arange(n, dtype=np.float64)), shape, contiguous_strides(shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return math.prod(self.shape)

    def stride(self) -> tuple[int, ...]:
        return self.strides

    def __repr__(self) -> str:
        return (
            f"StridedTensor(shape={self.shape}, strides={self.strides}, offset={self.offset}, "
            f"storage={self.storage.id})"
        )

    def storage_indices(self) -> np.ndarray:
        """Storage index of every element, as an integer array of this tensor's shape."""
        idx = np.full(self.shape, self.offset, dtype=np.int64)
        for d, (s, st) in enumerate(zip(self.shape, self.strides)):
            view_shape = [1] * self.ndim
            view_shape[d] = s
            idx = idx + (np.arange(s, dtype=np.int64) * st).reshape(view_shape)
        return idx

    def numpy(self) -> np.ndarray:
        """The elements as a new numpy array (a gather from the storage)."""
        return self.storage.data[self.storage_indices()]

    def shares_storage(self, other: StridedTensor) -> bool:
        """Whether both tensors view the same storage (like comparing ``untyped_storage().data_ptr()``)."""
        return self.storage is other.storage

    def is_contiguous(self) -> bool:
        """Whether the strides are row-major, exactly as ``torch.Tensor.is_contiguous`` decides.

        Returns
        -------
        bool
            Walking from the last dim, every dim of size != 1 must have stride equal to the
            product of the sizes after it; dims of size 1 are skipped (their stride never
            matters) and a tensor with no elements is always contiguous.

        Notes
        -----
        Mirrors ``_compute_contiguous`` in c10's ``Contiguity.h``. See question q04-01.

        Examples
        --------
        >>> StridedTensor.arange(3, 4).transpose(0, 1).is_contiguous()
        False
        >>> StridedTensor.arange(1, 4).transpose(0, 1).is_contiguous()  # only a size-1 dim moved
        True
        """
        if self.numel() == 0:
            return True
        expected = 1
        for s, st in zip(reversed(self.shape), reversed(self.strides)):
            if s != 1:
                if st != expected:
                    return False
                expected *= s
        return True

    # ---- helpers -----------------------------------------------------------------------
    def _wrap(self, dim, *, extra: int = 0, name: str = "dim") -> int:
        n = max(self.ndim + extra, 1)  # torch lets a 0-d tensor use dims -1 and 0
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{name} must be an integer; got {type(dim).__name__}.")
        if not -n <= dim < n:
            raise ValueError(f"{name} out of range: expected to be in [{-n}, {n - 1}]; got {dim}.")
        return int(dim) % n

    def _with(self, shape, strides, offset=None) -> StridedTensor:
        return StridedTensor(self.storage, shape, strides, self.offset if offset is None else offset)

    # ---- view operations (no copy) -------------------------------------------------------
    def transpose(self, dim0: int, dim1: int) -> StridedTensor:
        """Swap dimensions ``dim0`` and ``dim1``: a view with their sizes and strides exchanged.

        Parameters
        ----------
        dim0, dim1 : int
            Dimensions to swap; negative values count from the end.

        Returns
        -------
        StridedTensor
            Same storage and offset, O(ndim) work, no data moved.

        Raises
        ------
        ValueError
            If a dim is out of range (torch raises ``IndexError``).

        Notes
        -----
        See question q04-01.

        Examples
        --------
        >>> StridedTensor.arange(2, 3, 4).transpose(0, 2).strides
        (1, 4, 12)
        """
        if self.ndim == 0:
            self._wrap(dim0, name="dim0")
            self._wrap(dim1, name="dim1")
            return self._with((), ())
        d0, d1 = self._wrap(dim0, name="dim0"), self._wrap(dim1, name="dim1")
        shape, strides = list(self.shape), list(self.strides)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        strides[d0], strides[d1] = strides[d1], strides[d0]
        return self._with(shape, strides)

    def permute(self, *dims: int) -> StridedTensor:
        """Reorder all dimensions: result dim ``i`` is input dim ``dims[i]`` (a view).

        Parameters
        ----------
        *dims : int
            A permutation of ``range(ndim)`` (negative values allowed), or one tuple.

        Returns
        -------
        StridedTensor
            ``shape[i] = self.shape[dims[i]]``, ``strides[i] = self.strides[dims[i]]``.

        Raises
        ------
        ValueError
            If ``dims`` has the wrong length, repeats a dim, or is out of range.

        Notes
        -----
        Any permutation is a product of transpositions. See question q04-01.

        Examples
        --------
        >>> StridedTensor.arange(2, 3, 4).permute(2, 0, 1).strides
        (1, 12, 4)
        """
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self.ndim:
            raise ValueError(f"permute needs {self.ndim} dims (one per dimension); got {len(dims)}: {dims}.")
        wrapped = [self._wrap(d) for d in dims]
        if len(set(wrapped)) != len(wrapped):
            raise ValueError(f"permute dims must not repeat; got {dims}.")
        return self._with([self.shape[d] for d in wrapped], [self.strides[d] for d in wrapped])

    def unsqueeze(self, dim: int) -> StridedTensor:
        """Insert a dimension of size 1 at position ``dim`` (a view).

        Parameters
        ----------
        dim : int
            Position in the result, ``-ndim-1 <= dim <= ndim``.

        Returns
        -------
        StridedTensor
            The new dim gets stride ``size[dim] * stride[dim]`` (1 when appended), the
            choice that keeps a contiguous tensor contiguous, as torch does.

        Raises
        ------
        ValueError
            If ``dim`` is out of range.

        Notes
        -----
        See question q04-02.

        Examples
        --------
        >>> StridedTensor.arange(2, 3).unsqueeze(1).shape, StridedTensor.arange(2, 3).unsqueeze(1).strides
        ((2, 1, 3), (3, 3, 1))
        """
        d = self._wrap(dim, extra=1)
        new_stride = 1 if d >= self.ndim else self.shape[d] * self.strides[d]
        return self._with(self.shape[:d] + (1,) + self.shape[d:], self.strides[:d] + (new_stride,) + self.strides[d:])

    def squeeze(self, dim: int | Sequence[int] | None = None) -> StridedTensor:
        """Remove dimensions of size 1 (a view).

        Parameters
        ----------
        dim : int, tuple of int or None
            ``None`` removes every size-1 dim; otherwise only the listed dims are removed,
            and only if their size is 1 (other listed dims are kept silently, as in torch).

        Returns
        -------
        StridedTensor

        Raises
        ------
        ValueError
            If a listed dim is out of range.

        Notes
        -----
        See question q04-02.

        Examples
        --------
        >>> x = StridedTensor.arange(1, 3, 1)
        >>> x.squeeze().shape, x.squeeze(1).shape, x.squeeze((0, 2)).shape
        ((3,), (1, 3, 1), (3,))
        """
        if dim is None:
            drop = {d for d, s in enumerate(self.shape) if s == 1}
        else:
            dims = (dim,) if isinstance(dim, numbers.Integral) and not isinstance(dim, bool) else tuple(dim)
            wrapped = [self._wrap(d) for d in dims]
            drop = {d for d in wrapped if self.ndim and self.shape[d] == 1}
        keep = [d for d in range(self.ndim) if d not in drop]
        return self._with([self.shape[d] for d in keep], [self.strides[d] for d in keep])

    def expand(self, *sizes: int) -> StridedTensor:
        """Broadcast size-1 dims (and new leading dims) to ``sizes`` without copying.

        Parameters
        ----------
        *sizes : int
            Target sizes, at least ``ndim`` of them; ``-1`` keeps an existing size.

        Returns
        -------
        StridedTensor
            Expanded dims get stride 0 (every index reads the same element); a new leading
            dim of size 1 gets ``size * stride`` of the dim after it, as in ATen's
            ``inferExpandGeometry``.

        Raises
        ------
        ValueError
            If fewer sizes than dims are given, ``-1`` is used for a new leading dim, or a
            non-singleton dim would change size.

        Notes
        -----
        The result usually overlaps itself in memory, so it must not be written in place.
        See question q04-02.

        Examples
        --------
        >>> StridedTensor.arange(3, 1).expand(2, 3, 4).strides
        (0, 1, 0)
        """
        sizes = _as_shape(sizes, "sizes", allow_minus_one=True)
        n = len(sizes)
        if n < self.ndim:
            raise ValueError(
                f"expand needs at least as many sizes as the tensor has dims ({self.ndim}); got {sizes}."
            )
        shape, strides = [0] * n, [0] * n
        for i in range(n - 1, -1, -1):
            d = self.ndim - n + i
            if d >= 0:
                size, stride = self.shape[d], self.strides[d]
            else:
                size, stride = 1, (shape[i + 1] * strides[i + 1] if i + 1 < n else 0)
            target = sizes[i]
            if target == -1:
                if d < 0:
                    raise ValueError(f"expand: -1 is not allowed in a new leading dimension ({i}); got {sizes}.")
                target = size
            if size != target:
                if size != 1:
                    raise ValueError(
                        f"expand: the expanded size ({target}) must match the existing size ({size}) at "
                        f"non-singleton dimension {i}; target {sizes}, tensor shape {self.shape}."
                    )
                size, stride = target, 0
            shape[i], strides[i] = size, stride
        return self._with(shape, strides)

    def view(self, *shape: int) -> StridedTensor:
        """Same elements in a new shape, sharing the storage; raises when that is impossible.

        Parameters
        ----------
        *shape : int
            New shape with the same number of elements; one entry may be ``-1``.

        Returns
        -------
        StridedTensor
            Strides from :func:`view_strides`; offset unchanged.

        Raises
        ------
        ValueError
            If the element count does not match, more than one ``-1`` is given, or no
            strides exist (a new dim would span two non-contiguous chunks).

        Notes
        -----
        See question q04-05.

        Examples
        --------
        >>> StridedTensor.arange(2, 3, 4).view(6, -1).strides
        (4, 1)
        """
        new_shape = _infer_size(_as_shape(shape, "shape", allow_minus_one=True), self.numel())
        strides = view_strides(self.shape, self.strides, new_shape)
        if strides is None:
            raise ValueError(
                f"view size {new_shape} is not compatible with shape {self.shape} and strides {self.strides} "
                "(a new dimension would span two non-contiguous chunks); use reshape (copies) or "
                "call contiguous() first."
            )
        return self._with(new_shape, strides)

    # ---- operations that may copy ---------------------------------------------------------
    def contiguous(self) -> StridedTensor:
        """``self`` if already contiguous, else a row-major copy in a new storage.

        Notes
        -----
        See questions q04-01 and q04-05.

        Examples
        --------
        >>> x = StridedTensor.arange(2, 3)
        >>> x.contiguous() is x, x.transpose(0, 1).contiguous().strides
        (True, (2, 1))
        """
        if self.is_contiguous():
            return self
        return StridedTensor(Storage(self.numpy().reshape(-1)), self.shape, contiguous_strides(self.shape))

    def reshape(self, *shape: int) -> StridedTensor:
        """``view`` when possible, otherwise a row-major copy in a new storage with the new shape.

        Parameters
        ----------
        *shape : int
            New shape with the same number of elements; one entry may be ``-1``.

        Returns
        -------
        StridedTensor
            Shares the storage iff :func:`view_strides` finds strides.

        Raises
        ------
        ValueError
            If the element count does not match or more than one ``-1`` is given.

        Notes
        -----
        Whether the result aliases the input depends on the input's strides, so code must
        not rely on it either way. See question q04-05.

        Examples
        --------
        >>> x = StridedTensor.arange(2, 3)
        >>> x.reshape(3, 2).shares_storage(x), x.transpose(0, 1).reshape(6).shares_storage(x)
        (True, False)
        """
        new_shape = _infer_size(_as_shape(shape, "shape", allow_minus_one=True), self.numel())
        strides = view_strides(self.shape, self.strides, new_shape)
        if strides is not None:
            return self._with(new_shape, strides)
        data = self.numpy().reshape(-1)
        return StridedTensor(Storage(data), new_shape, contiguous_strides(new_shape))


def _check_tensors(tensors, name: str) -> list[StridedTensor]:
    if isinstance(tensors, (StridedTensor, str, bytes)) or not isinstance(tensors, Iterable):
        raise TypeError(f"{name}: tensors must be a sequence of StridedTensor; got {type(tensors).__name__}.")
    ts = list(tensors)
    if not ts:
        raise ValueError(f"{name}: tensors must be a non-empty sequence of StridedTensor.")
    for i, t in enumerate(ts):
        if not isinstance(t, StridedTensor):
            raise TypeError(f"{name}: tensors must hold StridedTensor inputs; got {type(t).__name__} at index {i}.")
    return ts


def cat(tensors: Sequence[StridedTensor], dim: int = 0) -> StridedTensor:
    """Concatenate along an existing dimension into a new contiguous storage.

    Parameters
    ----------
    tensors : sequence of StridedTensor
        Same number of dims (at least 1) and equal sizes except along ``dim``.
    dim : int
        The dimension that grows.

    Returns
    -------
    StridedTensor
        Shape equal to the inputs' except ``shape[dim] = sum of sizes``; always a copy.

    Raises
    ------
    ValueError
        On an empty list, 0-d inputs, or mismatched shapes.

    Notes
    -----
    The inputs sit in different storages, so the result cannot be a view. Unlike torch,
    legacy 1-D empty inputs of shape ``(0,)`` are not skipped: they must match like any
    other input. See question q04-03.

    Examples
    --------
    >>> a, b = StridedTensor.arange(2, 3), StridedTensor.arange(1, 3)
    >>> c = cat([a, b], dim=0)
    >>> c.shape, c.shares_storage(a)
    ((3, 3), False)
    """
    ts = _check_tensors(tensors, "cat")
    ref = ts[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack.")
    d = ref._wrap(dim)
    for i, t in enumerate(ts):
        if t.ndim != ref.ndim or any(t.shape[k] != ref.shape[k] for k in range(ref.ndim) if k != d):
            raise ValueError(
                f"cat: sizes must match except in dimension {d}; tensor 0 has shape {ref.shape}, "
                f"tensor {i} has shape {t.shape}."
            )
    return StridedTensor.from_numpy(np.concatenate([t.numpy() for t in ts], axis=d))


def stack(tensors: Sequence[StridedTensor], dim: int = 0) -> StridedTensor:
    """Stack equal-shaped tensors along a new dimension: ``cat([t.unsqueeze(dim) ...], dim)``.

    Parameters
    ----------
    tensors : sequence of StridedTensor
        All of the same shape.
    dim : int
        Position of the new dimension, ``-ndim-1 <= dim <= ndim``.

    Returns
    -------
    StridedTensor
        Shape ``shape[:dim] + (len(tensors),) + shape[dim:]``; always a copy.

    Raises
    ------
    ValueError
        On an empty list or unequal shapes.

    Notes
    -----
    See question q04-04.

    Examples
    --------
    >>> a = StridedTensor.arange(2, 3)
    >>> stack([a, a, a], dim=1).shape
    (2, 3, 3)
    """
    ts = _check_tensors(tensors, "stack")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack expects tensors of equal shape; tensor 0 is {ts[0].shape}, tensor {i} is {t.shape}.")
    return cat([t.unsqueeze(dim) for t in ts], dim=ts[0]._wrap(dim, extra=1))
