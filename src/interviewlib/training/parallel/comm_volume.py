r"""Bytes each rank sends per training step under each parallelism, with ring collectives.

With :math:`p` ranks, a ring all-reduce of :math:`N` elements sends :math:`2(p-1)/p\cdot N` per rank,
a reduce-scatter or an all-gather :math:`(p-1)/p\cdot N`, an all-to-all :math:`(p-1)/p\cdot N`
(uniform). :math:`\Psi` = parameters, :math:`n = BT` tokens the group processes, :math:`h` the
hidden size, :math:`L` layers, :math:`b` bytes per element.
"""

from __future__ import annotations

from ...transformer._checks import check_int

__all__ = ["SCHEMES", "comm_bytes_per_rank"]

SCHEMES = {  # scheme -> (sizes it needs, what it counts)
    "dp": (("n_params",), "all-reduce of the gradients: 2(p-1)/p Psi"),
    "zero1": (("n_params",), "reduce-scatter gradients + all-gather weights: 2(p-1)/p Psi"),
    "zero2": (("n_params",), "as zero1: 2(p-1)/p Psi"),
    "zero3": (("n_params",), "all-gather weights twice (forward, backward) + reduce-scatter gradients: 3(p-1)/p Psi"),
    "tp": (("tokens", "hidden", "n_layers"), "per layer 2 all-reduces forward + 2 backward of (n, h): 8(p-1)/p n h L"),
    "sp": (("tokens", "hidden", "n_layers"), "per layer 4 all-gathers + 4 reduce-scatters of (n, h): 8(p-1)/p n h L"),
    "pp": (("tokens", "hidden"), "an inner stage sends activations forward and gradients backward: 2 n h"),
    "cp": (("tokens", "kv_hidden", "n_layers"), "ring attention forward, K and V pass p-1 hops: 2(p-1)/p n h_kv L"),
    "ep": (("tokens", "hidden", "n_layers"),
           "per MoE layer dispatch + combine all-to-all, forward and backward: 4(p-1)/p n k h L (uniform routing)"),
}


def comm_bytes_per_rank(scheme: str, *, world: int, elem_bytes: int = 2, n_params: int = 0, tokens: int = 0,
                        hidden: int = 0, kv_hidden: int = 0, n_layers: int = 1, top_k: int = 1) -> float:
    r"""Bytes one rank sends in one training step (forward + backward) of ``scheme``.

    Parameters
    ----------
    scheme : str
        One of :data:`SCHEMES`: ``"dp"``, ``"zero1"``, ``"zero2"``, ``"zero3"``, ``"tp"``, ``"sp"``,
        ``"pp"``, ``"cp"``, ``"ep"``.
    world : int
        Ranks in the group of this scheme, :math:`p`.
    elem_bytes : int
        Bytes per element (2 for bf16 gradients/activations).
    n_params : int
        :math:`\Psi` (dp, zero*).
    tokens : int
        :math:`n`: tokens the TP/SP group processes, the whole sequence(s) for CP, the tokens
        of a micro-batch summed over micro-batches for PP, the rank's own tokens for EP.
    hidden, kv_hidden : int
        :math:`h`; :math:`h_{kv} = H_{kv} d_{head}` for CP.
    n_layers : int
        Transformer layers in the group (MoE layers for EP).
    top_k : int
        Experts per token (EP).

    Returns
    -------
    float
        Bytes sent by one rank. ``"cp"`` counts the forward pass only (the backward ring
        passes K/V again plus their gradients); ``"pp"`` is independent of :math:`p`.

    Notes
    -----
    Sources: Rajbhandari et al. 2020 (ZeRO, Section 7), Shoeybi et al. 2019 and Korthikanti et
    al. 2022 (TP, SP), Liu et al. 2023 (ring attention), Lepikhin et al. 2020 (GShard all-to-all).
    See question q08-18.

    Examples
    --------
    >>> comm_bytes_per_rank("dp", world=4, n_params=1000, elem_bytes=4)
    6000.0
    >>> comm_bytes_per_rank("zero3", world=4, n_params=1000, elem_bytes=4)
    9000.0
    """
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}; got {scheme!r}.")
    p = check_int(world, "world", low=1)
    b = check_int(elem_bytes, "elem_bytes", low=1)
    sizes = {"n_params": n_params, "tokens": tokens, "hidden": hidden, "kv_hidden": kv_hidden, "n_layers": n_layers}
    for name in SCHEMES[scheme][0]:
        check_int(sizes[name], name, low=1)
    k = check_int(top_k, "top_k", low=1)
    f = (p - 1) / p
    psi, n, h, L = n_params, tokens, hidden, n_layers
    elements = {
        "dp": 2 * f * psi, "zero1": 2 * f * psi, "zero2": 2 * f * psi, "zero3": 3 * f * psi,
        "tp": 8 * f * n * h * L, "sp": 8 * f * n * h * L, "pp": 2.0 * n * h,
        "cp": 2 * f * n * kv_hidden * L, "ep": 4 * f * n * k * h * L,
    }[scheme]  # fmt: skip
    return elements * b
