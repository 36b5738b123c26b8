"""Gradient clipping by global norm (torch), matching ``torch.nn.utils.clip_grad_norm_``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters: torch.Tensor | Iterable[torch.Tensor], max_norm: float, norm_type: float = 2.0):
    r"""Rescale the gradients in place so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : torch.Tensor or iterable of torch.Tensor
        Parameters whose ``.grad`` is clipped (those with ``grad is None`` are skipped).
    max_norm : float >= 0
        Largest allowed global norm.
    norm_type : float > 0 or ``math.inf``
        The :math:`p` of the norm; the global norm is the :math:`p`-norm of all gradient
        entries viewed as one long vector.

    Returns
    -------
    torch.Tensor
        The global norm *before* clipping (0-D); 0 if no parameter has a gradient.

    Raises
    ------
    ValueError
        If ``max_norm < 0`` or ``norm_type <= 0``.

    Notes
    -----
    In-place by design (the trailing underscore is PyTorch's convention): gradients are
    multiplied by :math:`\min(1, c/(\lVert g\rVert + 10^{-6}))`, the same coefficient as
    PyTorch. Clipping by the *global* norm keeps the direction of the full gradient and
    only shortens the step, which is why it tames exploding gradients without biasing
    the update direction. See question q06-01.

    References
    ----------
    .. [1] Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent neural
       networks", ICML 2013, arXiv:1211.5063.

    Examples
    --------
    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.tensor([3.0, 4.0])
    >>> float(clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    if not isinstance(parameters, torch.Tensor) and (isinstance(parameters, (str, bytes)) or not hasattr(parameters, "__iter__")):
        raise TypeError(f"parameters must be a tensor or an iterable of tensors; got {type(parameters).__name__}.")
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"parameters[{i}] must be a torch.Tensor; got {type(p).__name__}.")
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm >= 0:
        raise ValueError(f"max_norm must be a number >= 0; got {max_norm!r}.")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 (or math.inf); got {norm_type}.")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    with torch.no_grad():
        if math.isinf(norm_type):
            total = torch.stack([g.detach().abs().max() for g in grads]).max()
        else:
            # sum_i |g_i|^p over every entry of every gradient, then the 1/p-th power
            total = torch.stack([g.detach().abs().pow(norm_type).sum() for g in grads]).sum() ** (1.0 / norm_type)
        coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total
