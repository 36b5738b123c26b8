r"""Contrastive losses and diagnostics (torch): InfoNCE, alignment and uniformity.

InfoNCE with in-batch negatives: row :math:`i` of ``query`` must pick its positive,
row :math:`i` of ``key``, among all :math:`N` keys,

.. math:: L = -\frac1N\sum_i \log\frac{\exp(s_{ii}/\tau)}{\sum_j \exp(s_{ij}/\tau)},
   \qquad s_{ij} = \frac{q_i^\top k_j}{\lVert q_i\rVert\,\lVert k_j\rVert},

i.e. an :math:`N`-way cross-entropy whose correct class is the diagonal.
"""

from __future__ import annotations

import torch

from interviewlib.nn._torch_checks import check_positive, check_tensor

__all__ = ["alignment", "info_nce", "info_nce_logits", "uniformity"]


def _check_pair(query, key, names=("query", "key")):
    a, b = names
    query = check_tensor(query, a, ndim=2, what="(N, d)")
    key = check_tensor(key, b, ndim=2, what="(N, d)")
    if query.shape != key.shape:
        raise ValueError(
            f"{b} must have the shape of {a} {tuple(query.shape)} (row i is {a} i's positive); "
            f"got {tuple(key.shape)}."
        )
    if query.shape[0] < 1 or query.shape[1] < 1:
        raise ValueError(f"{a} must have at least one row and one feature; got shape {tuple(query.shape)}.")
    return query, key


def info_nce_logits(query: torch.Tensor, key: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Similarity logits :math:`s_{ij}/\tau` between L2-normalised queries and keys.

    Parameters
    ----------
    query, key : torch.Tensor, shape (N, d)
        Embeddings of two views; row :math:`i` of each is a positive pair.
    temperature : float > 0

    Returns
    -------
    torch.Tensor, shape (N, N)
        Cosine similarities divided by the temperature; the diagonal holds the positives.

    Raises
    ------
    ValueError
        On shape mismatch or ``temperature <= 0``.

    Notes
    -----
    See question q06-06.

    Examples
    --------
    >>> z = torch.eye(3)
    >>> info_nce_logits(z, z, temperature=0.5).diagonal().tolist()
    [2.0, 2.0, 2.0]
    """
    query, key = _check_pair(query, key)
    temperature = check_positive(temperature, "temperature")
    q = torch.nn.functional.normalize(query, dim=1)  # (N, d)
    k = torch.nn.functional.normalize(key, dim=1)  # (N, d)
    return q @ k.T / temperature  # (N, N)


def info_nce(query: torch.Tensor, key: torch.Tensor, *, temperature: float = 0.1, symmetric: bool = False):
    r"""One-directional InfoNCE with in-batch negatives (the CLIP / MoCo query-to-key form).

    Query :math:`i` is scored against the :math:`N` keys only, so its negatives are the
    other :math:`N-1` keys. This is one direction of CLIP's loss (``symmetric=True`` gives
    CLIP's average of both directions) and MoCo's query-to-key cross-entropy, except that
    MoCo draws its negatives from a queue of keys from earlier batches rather than from the
    current batch. It is not SimCLR's NT-Xent, which pools both views into :math:`2N`
    candidates so that each anchor also has the :math:`N-1` other views on its own side as
    negatives (:math:`2N-2` in all).

    Parameters
    ----------
    query, key : torch.Tensor, shape (N, d)
        Two views (or two modalities); row :math:`i` of ``key`` is the positive for row
        :math:`i` of ``query``, the other :math:`N-1` rows are its negatives.
    temperature : float > 0
        :math:`\tau`. Small :math:`\tau` concentrates the gradient on the hardest negatives;
        large :math:`\tau` spreads it uniformly.
    symmetric : bool
        Average the query-to-key and key-to-query losses (as CLIP does).

    Returns
    -------
    torch.Tensor
        Scalar loss, differentiable, :math:`\ge 0`; exactly :math:`\log N` when all
        similarities are equal.

    Raises
    ------
    ValueError
        On shape mismatch or ``temperature <= 0``.

    Notes
    -----
    Written as ``logsumexp(row) - diagonal`` (stable). The gradient with respect to
    :math:`s_{ij}` is :math:`(p_{ij} - \delta_{ij})/(N\tau)` with :math:`p_{ij} = \mathrm{softmax}_j(s_{ij}/\tau)`:
    each negative is pushed away with weight :math:`p_{ij}`, so hard negatives dominate when
    :math:`\tau` is small. van den Oord et al. show :math:`I(q; k) \ge \log N - L`.
    See questions q06-05 and q06-06.

    References
    ----------
    .. [1] van den Oord, Li and Vinyals, "Representation Learning with Contrastive
       Predictive Coding", arXiv:1807.03748, 2018.
    .. [2] Chen et al., "A Simple Framework for Contrastive Learning of Visual
       Representations" (SimCLR), ICML 2020, arXiv:2002.05709.
    .. [3] Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision" (CLIP), ICML 2021, arXiv:2103.00020.
    .. [4] He et al., "Momentum Contrast for Unsupervised Visual Representation Learning"
       (MoCo), CVPR 2020, arXiv:1911.05722.

    Examples
    --------
    >>> z = torch.eye(4)
    >>> bool(info_nce(z, z, temperature=0.01) < 1e-6)  # perfectly separated pairs
    True
    >>> round(float(info_nce(torch.ones(4, 2), torch.ones(4, 2))), 4) == round(float(torch.log(torch.tensor(4.0))), 4)
    True
    """
    if not isinstance(symmetric, bool):
        raise TypeError(f"symmetric must be a bool; got {type(symmetric).__name__}.")
    logits = info_nce_logits(query, key, temperature)  # (N, N)
    diag = logits.diagonal()  # (N,)
    loss = (torch.logsumexp(logits, dim=1) - diag).mean()
    if symmetric:
        loss = 0.5 * (loss + (torch.logsumexp(logits, dim=0) - diag).mean())
    return loss


def alignment(x: torch.Tensor, y: torch.Tensor, *, alpha: float = 2.0) -> torch.Tensor:
    r"""Alignment :math:`\mathbb{E}\,\lVert f(x) - f(y)\rVert_2^\alpha` over positive pairs (lower is better).

    Parameters
    ----------
    x, y : torch.Tensor, shape (N, d)
        L2-normalised embeddings of positive pairs (row :math:`i` with row :math:`i`).
    alpha : float > 0
        Exponent (Wang and Isola use 2).

    Returns
    -------
    torch.Tensor
        Scalar in :math:`[0, 2^\alpha]` for unit vectors.

    Raises
    ------
    ValueError
        On shape mismatch or ``alpha <= 0``.

    Notes
    -----
    See question q06-05.

    References
    ----------
    .. [1] Wang and Isola, "Understanding Contrastive Representation Learning through
       Alignment and Uniformity on the Hypersphere", ICML 2020, arXiv:2005.10242.

    Examples
    --------
    >>> float(alignment(torch.eye(2), -torch.eye(2)))
    4.0
    """
    x, y = _check_pair(x, y, ("x", "y"))
    alpha = check_positive(alpha, "alpha")
    return (x - y).norm(dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, *, t: float = 2.0) -> torch.Tensor:
    r"""Uniformity :math:`\log \mathbb{E}_{i<j} \exp(-t\lVert x_i - x_j\rVert^2)` (lower is better).

    Parameters
    ----------
    x : torch.Tensor, shape (N, d)
        L2-normalised embeddings, :math:`N \ge 2`.
    t : float > 0
        Kernel sharpness (Wang and Isola use 2).

    Returns
    -------
    torch.Tensor
        Scalar :math:`\le 0`; 0 when all points collapse to one, more negative as the
        points spread over the sphere.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D with at least two rows, or ``t <= 0``.

    Notes
    -----
    Uses the Gram matrix for the squared distances
    (:math:`\lVert a-b\rVert^2 = \lVert a\rVert^2 + \lVert b\rVert^2 - 2a^\top b`) and
    averages over the :math:`N(N-1)/2` distinct pairs. See question q06-05.

    References
    ----------
    .. [1] Wang and Isola, arXiv:2005.10242.

    Examples
    --------
    >>> float(uniformity(torch.ones(5, 3)))  # total collapse: the worst value
    0.0
    """
    x = check_tensor(x, "x", ndim=2, what="(N, d)")
    if x.shape[0] < 2:
        raise ValueError(f"x must have at least 2 rows to form a pair; got shape {tuple(x.shape)}.")
    t = check_positive(t, "t")
    sq = (x * x).sum(dim=1)  # (N,)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * x @ x.T).clamp_min(0.0)  # (N, N)
    i, j = torch.triu_indices(x.shape[0], x.shape[0], offset=1)
    vals = -t * d2[i, j]  # (N(N-1)/2,)
    return torch.logsumexp(vals, dim=0) - torch.log(torch.tensor(float(vals.numel()), dtype=x.dtype))
