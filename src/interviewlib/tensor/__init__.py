"""Chapter 4: a from-scratch strided-tensor model, shape broadcasting and a group-by sum."""

from interviewlib.tensor.broadcast import broadcast_shapes, matmul_shape
from interviewlib.tensor.groupby import groupby_sum
from interviewlib.tensor.strided import Storage, StridedTensor, cat, contiguous_strides, stack, view_strides

__all__ = [
    "Storage",
    "StridedTensor",
    "broadcast_shapes",
    "cat",
    "contiguous_strides",
    "groupby_sum",
    "matmul_shape",
    "stack",
    "view_strides",
]
