r"""Samplers for data-parallel training that resume exactly: a per-rank sampler and a mixture.

:class:`ResumableDistributedSampler` hands every data-parallel rank a disjoint, equally long
slice of one epoch-seeded permutation. With ``consumed_samples = 0`` it yields exactly what
``torch.utils.data.DistributedSampler`` yields (same ``torch.randperm`` seeded with
``seed + epoch``, same padding or truncation, same stride ``rank::num_replicas``). Its
position is one *global* counter, ``consumed_samples``, advanced by the training loop (not by
the iterator, which a ``DataLoader`` runs ahead of training to prefetch), so a restart
continues at the exact sample, also with a different number of ranks.

:class:`MixtureSampler` interleaves several sources with target weights deterministically:
each draw goes to the source furthest behind its quota (Megatron-LM's blending rule), so the
realised proportions never drift and the whole state is a vector of counts.

See question q08-16.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .._validation import as_float_array, check_scalar

__all__ = ["ResumableDistributedSampler", "MixtureSampler"]


class ResumableDistributedSampler:
    r"""Epoch-seeded, rank-disjoint sampler with an exact ``state_dict`` / ``load_state_dict``.

    Parameters
    ----------
    num_samples : int >= 1
        Number of samples :math:`N` (pass ``len(dataset)``); indices are ``0 .. N-1``.
    num_replicas : int >= 1
        Data-parallel world size :math:`W`.
    rank : int in ``[0, W)``
    shuffle : bool
        Permute with ``torch.randperm`` seeded by ``seed + epoch`` (else ``0 .. N-1``).
    seed : int
        Must be the same on every rank.
    drop_last : bool
        ``False``: pad the epoch to a multiple of :math:`W` by wrapping around to its start
        (a few samples are seen twice; every rank gets :math:`\lceil N/W\rceil`).
        ``True``: drop the tail so every rank gets :math:`\lfloor N/W\rfloor`.

    Attributes
    ----------
    epoch, consumed_samples : int
        Position: samples consumed by *all* ranks together in the current epoch.

    Notes
    -----
    From global position :math:`c` the epoch order :math:`\pi` (extended cyclically) is
    dealt out by stride: rank :math:`r` gets :math:`\pi[c + r + kW]` for
    :math:`k = 0, 1, \dots, n_r - 1` with :math:`n_r = \lceil (N - c)/W \rceil`
    (:math:`\lfloor\cdot\rfloor` with ``drop_last``). Ranks never overlap, their union is
    the rest of the epoch, and for :math:`c = 0` this is ``DistributedSampler``'s partition.
    Call :meth:`advance` with the number of samples the step *trained on* (global batch),
    then :meth:`state_dict` is exact however far a ``DataLoader`` prefetched. See question q08-16.

    Examples
    --------
    >>> s = ResumableDistributedSampler(10, num_replicas=3, rank=1, shuffle=False)
    >>> list(s), len(s)
    ([1, 4, 7, 0], 4)
    >>> s.advance(6)                    # two steps of 1 sample on each of 3 ranks
    >>> list(s), s.state_dict()["consumed_samples"]
    ([7, 0], 6)
    """

    def __init__(self, num_samples: int, *, num_replicas: int, rank: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        self.num_samples = check_scalar(num_samples, "num_samples", kind="int", low=1)
        self.num_replicas = check_scalar(num_replicas, "num_replicas", kind="int", low=1)
        self.rank = check_scalar(rank, "rank", kind="int", low=0, high=self.num_replicas - 1)
        if not isinstance(shuffle, bool) or not isinstance(drop_last, bool):
            raise TypeError(f"shuffle and drop_last must be bool; got {type(shuffle).__name__}, {type(drop_last).__name__}.")
        self.shuffle, self.drop_last = shuffle, drop_last
        self.seed = check_scalar(seed, "seed", kind="int", low=0)
        if self.drop_last and self.num_samples < self.num_replicas:
            raise ValueError(f"drop_last=True with num_samples={self.num_samples} < num_replicas={self.num_replicas} leaves every rank empty.")
        self.epoch = 0
        self.consumed_samples = 0

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.num_samples)
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.num_samples, generator=g)  # (N,) same call as DistributedSampler

    def _per_rank(self, consumed: int, world: int) -> int:
        remaining = max(self.num_samples - consumed, 0)
        return remaining // world if self.drop_last else -(-remaining // world)

    @property
    def epoch_size(self) -> int:
        """Global samples in one epoch: per-rank count times :math:`W`."""
        return self._per_rank(0, self.num_replicas) * self.num_replicas

    def __len__(self) -> int:
        return self._per_rank(self.consumed_samples, self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        pos = self.consumed_samples + self.rank + self.num_replicas * torch.arange(len(self))  # (n_r,)
        return iter(self._order()[pos % self.num_samples].tolist())

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (resets the position unless it is the current epoch)."""
        epoch = check_scalar(epoch, "epoch", kind="int", low=0)
        if epoch != self.epoch:
            self.epoch, self.consumed_samples = epoch, 0

    def advance(self, num_samples: int) -> None:
        """Record that ``num_samples`` samples (summed over all ranks) were trained on."""
        num_samples = check_scalar(num_samples, "num_samples", kind="int", low=0)
        limit = self.consumed_samples + len(self) * self.num_replicas
        if self.consumed_samples + num_samples > limit:
            raise ValueError(f"num_samples={num_samples} runs past the end of epoch {self.epoch} "
                             f"({limit - self.consumed_samples} samples left); call set_epoch(epoch + 1).")  # fmt: skip
        self.consumed_samples += num_samples

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (plain ints and bools, safe to json / torch.save)."""
        return {"epoch": self.epoch, "consumed_samples": self.consumed_samples, "seed": self.seed,
                "shuffle": self.shuffle, "drop_last": self.drop_last, "num_samples": self.num_samples}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` (``num_replicas`` may differ; the data may not)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(); got {type(state).__name__}.")
        missing = {"epoch", "consumed_samples", "seed", "shuffle", "drop_last", "num_samples"} - state.keys()
        if missing:
            raise ValueError(f"state is missing keys {sorted(missing)}.")
        for key in ("seed", "shuffle", "drop_last", "num_samples"):
            if state[key] != getattr(self, key):
                raise ValueError(f"state[{key!r}] = {state[key]!r} but this sampler has {getattr(self, key)!r}; "
                                 "resuming with other data or another order would not continue the same run.")  # fmt: skip
        self.epoch = check_scalar(state["epoch"], "state['epoch']", kind="int", low=0)
        self.consumed_samples = check_scalar(state["consumed_samples"], "state['consumed_samples']", kind="int", low=0)


class MixtureSampler:
    r"""Deterministic weighted interleaving of several data sources, resumable from counts.

    Parameters
    ----------
    weights : array_like, shape (S,)
        Non-negative target proportions (normalised here; at least one > 0).
    sizes : sequence of int, shape (S,)
        Samples in each source. A source that runs out starts a new epoch with a fresh
        permutation (it is repeated, as upsampled sources are).
    seed : int
        Seeds the per-source, per-epoch permutations.

    Attributes
    ----------
    counts_ : numpy.ndarray of int64, shape (S,)
        Samples drawn from each source so far (the whole state with ``seed``).

    Notes
    -----
    Draw :math:`t` (0-based) goes to :math:`\arg\max_i\, w_i (t + 1) - c_i(t)`, the source
    furthest behind its quota (ties to the lower index). The errors :math:`w_i(t+1) - c_i`
    sum to one, so the realised counts stay within about one sample of :math:`w_i t` at every
    prefix, unlike i.i.d. sampling whose error grows like :math:`\sqrt{t}`. Megatron-LM's
    ``build_blending_indices`` uses the same rule (with :math:`\max(t, 1)` for
    :math:`t + 1`). The k-th draw from source i is sample
    ``perm_(i, k // size_i)[k % size_i]``. See question q08-16.

    Examples
    --------
    >>> m = MixtureSampler([0.5, 0.25, 0.25], sizes=[100, 100, 100], seed=0)
    >>> src, _ = m.take(8)
    >>> src.tolist(), m.counts_.tolist()
    ([0, 1, 2, 0, 0, 1, 2, 0], [4, 2, 2])
    """

    def __init__(self, weights: Any, *, sizes: Any, seed: int = 0) -> None:
        w = as_float_array(weights, "weights", ndim=1, allow_empty=False)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum; got {w.tolist()}.")
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) != w.size:
            raise ValueError(f"sizes must give one int per source ({w.size}); got {sizes!r:.60}.")
        self.sizes = [check_scalar(s, f"sizes[{k}]", kind="int", low=1) for k, s in enumerate(sizes)]
        self.weights = w / w.sum()
        self.seed = check_scalar(seed, "seed", kind="int", low=0)
        self.counts_ = np.zeros(w.size, dtype=np.int64)
        self._perms: dict[int, tuple[int, np.ndarray]] = {}

    def _perm(self, source: int, epoch: int) -> np.ndarray:
        cached = self._perms.get(source)
        if cached is None or cached[0] != epoch:
            rng = np.random.default_rng([self.seed, source, epoch])
            cached = (epoch, rng.permutation(self.sizes[source]))
            self._perms[source] = cached
        return cached[1]

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` draws: source ids (n,) and sample indices within each source (n,)."""
        n = check_scalar(n, "n", kind="int", low=0)
        sources, local = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        t0 = int(self.counts_.sum())
        for j in range(n):  # sequential by nature: each choice depends on the counts so far
            i = int(np.argmax(self.weights * (t0 + j + 1) - self.counts_))
            k = int(self.counts_[i])
            sources[j], local[j] = i, self._perm(i, k // self.sizes[i])[k % self.sizes[i]]
            self.counts_[i] += 1
        return sources, local

    def state_dict(self) -> dict[str, Any]:
        """Counts per source and the seed (the permutations are recomputed from them)."""
        return {"counts": self.counts_.tolist(), "seed": self.seed, "weights": self.weights.tolist(), "sizes": list(self.sizes)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; weights, sizes and seed must match."""
        if not isinstance(state, dict) or "counts" not in state:
            raise TypeError(f"state must be a dict from state_dict(); got {type(state).__name__}.")
        if state.get("seed") != self.seed or state.get("sizes") != self.sizes or not np.allclose(state.get("weights"), self.weights):
            raise ValueError("state was saved with other weights, sizes or seed; resuming would change the mixture.")
        counts = np.asarray(state["counts"], dtype=np.int64)
        if counts.shape != self.counts_.shape or (counts < 0).any():
            raise ValueError(f"state['counts'] must be {self.counts_.size} non-negative ints; got {state['counts']!r}.")
        self.counts_ = counts.copy()
        self._perms.clear()

