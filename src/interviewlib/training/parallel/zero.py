r"""ZeRO stages 0-3 of data-parallel Adam, built from reduce-scatter and all-gather.

All parameters live in one flat vector of :math:`\Psi` elements (padded to a multiple of
:math:`p`); rank :math:`r` owns slice :math:`r`. Rajbhandari et al. (2020) remove the
data-parallel redundancy step by step: stage 1 keeps only the owned slice of the Adam moments,
stage 2 also only the owned slice of the gradient, stage 3 also only the owned slice of the
weights, which are all-gathered just in time for the forward pass and again for the backward
pass. Gradients are reduce-scattered (each rank receives the sum of its slice) and, in stages
1-2, the updated slices all-gathered: :math:`2(p-1)/p\cdot\Psi` elements sent per rank and step,
the same as one all-reduce; stage 3 adds the second weight gather, :math:`3(p-1)/p\cdot\Psi`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ...nn._torch_checks import check_positive, check_unit_interval
from .collectives import RingComm

__all__ = ["ZeroAdam"]


class ZeroAdam:
    r"""Adam (no weight decay, as ``torch.optim.Adam``) over a data-parallel group, ZeRO stage 0-3.

    Parameters
    ----------
    model : torch.nn.Module
        Its structure is used for the forward pass; its current weights are the starting point
        (the same on every rank). It is never modified: read the result with :meth:`gather`.
    comm : RingComm
        The data-parallel group.
    stage : {0, 1, 2, 3}
        0 = plain data parallelism (all-reduce, everything replicated); 1 = moments sharded;
        2 = + gradients sharded; 3 = + weights sharded.
    lr, betas, eps
        As in ``torch.optim.Adam``.

    Attributes
    ----------
    numel, padded : int
        :math:`\Psi` and :math:`\Psi` rounded up to a multiple of ``world``.

    Notes
    -----
    Simplifications against DeepSpeed/FSDP, none of which changes the arithmetic: one flat bucket
    instead of per-layer buckets, so stage 2 reduce-scatters after the backward pass instead of
    during it and stage 3 gathers the whole model instead of one layer at a time (the peak then
    holds the full weights once, the steady state only the shard); one dtype for weights,
    gradients and moments (no fp32 master copy). The weights freed after the forward pass of
    stage 3 have their storage resized to zero and refilled by the second all-gather, as FSDP
    does. See question q08-18.
    """

    def __init__(self, model: nn.Module, comm: RingComm, *, stage: int = 1, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if isinstance(stage, bool) or stage not in (0, 1, 2, 3):
            raise ValueError(f"stage must be 0, 1, 2 or 3; got {stage!r}.")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats; got {betas!r}.")
        self.lr, self.eps = check_positive(lr, "lr"), check_positive(eps, "eps")
        self.betas = (check_unit_interval(betas[0], "betas[0]"), check_unit_interval(betas[1], "betas[1]"))
        if not isinstance(comm, RingComm):
            raise TypeError(f"comm must be a RingComm; got {type(comm).__name__}.")
        self.model, self.comm, self.stage = model, comm, stage
        named = [(n, p) for n, p in model.named_parameters()]
        if not named:
            raise ValueError("model has no parameters.")
        self._names = [n for n, _ in named]
        self._shapes = [p.shape for _, p in named]
        self.numel = sum(p.numel() for _, p in named)
        p_ = comm.world if stage > 0 else 1
        self.padded = self.numel + (-self.numel) % p_
        flat = torch.zeros(self.padded, dtype=named[0][1].dtype)
        flat[: self.numel] = torch.cat([p.detach().reshape(-1) for _, p in named])
        n = self.padded // p_
        self._lo = comm.rank * n if stage > 0 else 0
        if stage < 3:  # the full weights persist; rank r updates its view [lo, lo + n)
            self.full = flat
            self.shard = flat[self._lo : self._lo + n]
        else:  # only the owned slice persists
            self.full = None
            self.shard = flat[self._lo : self._lo + n].clone()
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(self.shard), torch.zeros_like(self.shard)
        self.grad = None  # the gradient kept between steps: full (stages 0-1) or the owned slice (2-3)
        self.steps = 0

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for name, shape in zip(self._names, self._shapes):
            k = shape.numel()
            out[name] = flat[i : i + k].view(shape)
            i += k
        return out

    def step(self, x: torch.Tensor, y: torch.Tensor, loss_fn=F.mse_loss) -> float:
        """One step on this rank's micro-batch; the loss is averaged over ranks. Returns the local loss."""
        if self.stage == 3:
            leaf = self.comm.all_gather(self.shard).requires_grad_(True)  # (padded,): gather for forward
        else:
            leaf = self.full.detach().clone().requires_grad_(True)  # clone: the update must not alias saved tensors
        loss = loss_fn(functional_call(self.model, self._views(leaf), (x,)), y)
        if self.stage == 3:  # free the gathered weights until backward needs them again
            storage = leaf.untyped_storage()
            nbytes = storage.nbytes()
            storage.resize_(0)
            storage.resize_(nbytes)
            self.comm.all_gather(self.shard, out=leaf.data)  # gather for backward
        loss.backward()
        grad = leaf.grad  # (padded,), zero on the padding
        if self.stage == 0:
            g = self.comm.all_reduce(grad).div_(self.comm.world)
            self.grad = g
        else:
            g = self.comm.reduce_scatter(grad).div_(self.comm.world)  # (padded / p,)
            self.grad = grad if self.stage == 1 else g  # stage 1 keeps the full gradient buffer
        if self.stage == 3:
            leaf.untyped_storage().resize_(0)
        self.steps += 1
        _adam_(self.shard, g, self.exp_avg, self.exp_avg_sq, self.steps, self.lr, *self.betas, self.eps)
        if self.stage in (1, 2):
            self.comm.all_gather(self.shard, out=self.full)  # everyone receives the updated slices
        return float(loss.detach())

    def gather(self) -> dict[str, torch.Tensor]:
        """The current full weights by parameter name (stage 3 runs an all-gather on every rank)."""
        flat = self.comm.all_gather(self.shard) if self.stage == 3 else self.full
        return {k: v.clone() for k, v in self._views(flat[: self.numel]).items()}

    def state_bytes(self) -> dict[str, int]:
        """Bytes this rank holds between steps: ``weights``, ``grads``, ``optimizer`` (both moments)."""
        weights = self.full if self.full is not None else self.shard
        return {
            "weights": weights.nbytes,
            "grads": 0 if self.grad is None else self.grad.nbytes,
            "optimizer": self.exp_avg.nbytes + self.exp_avg_sq.nbytes,
        }


def _adam_(p, g, m, v, t, lr, beta1, beta2, eps) -> None:
    """torch.optim.Adam's single-tensor update, in place (same operation order)."""
    m.lerp_(g, 1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    step_size = lr / (1 - beta1**t)
    denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
    p.addcdiv_(m, denom, value=-step_size)
