r"""Image-text contrastive losses: CLIP's softmax InfoNCE and SigLIP's pairwise sigmoid.

With L2-normalised embeddings :math:`x_i` (image) and :math:`y_j` (text),
:math:`s_{ij} = x_i^\top y_j` and a learnable scale :math:`t = e^{t'}`:

.. math::
   L_\text{CLIP} = -\frac{1}{2B}\sum_i\Big(\log\frac{e^{t s_{ii}}}{\sum_j e^{t s_{ij}}}
   + \log\frac{e^{t s_{ii}}}{\sum_j e^{t s_{ji}}}\Big),\qquad
   L_\text{SigLIP} = -\frac1B\sum_{i,j}\log\sigma\big(z_{ij}(t s_{ij} + b)\big),

with :math:`z_{ij} = +1` on the diagonal (matched pairs) and :math:`-1` elsewhere. CLIP
normalises every row and every column over the whole batch; SigLIP scores each pair on
its own, which is what lets :func:`chunked_siglip_loss` compute it block by block.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from interviewlib.transformer._checks import check_int, check_tensor

__all__ = ["chunked_siglip_loss", "clip_loss", "contrastive_cost", "ring_schedule", "siglip_loss"]

SCHEMES = ("softmax_gather", "softmax_local", "sigmoid_ring")


def _check_pair(image_emb, text_emb):
    image_emb = check_tensor(image_emb, "image_emb", ndim=2, layout="(B, d)")
    text_emb = check_tensor(text_emb, "text_emb", ndim=2, layout="(B, d)")
    if text_emb.shape != image_emb.shape:
        raise ValueError(
            f"text_emb must have the shape of image_emb {tuple(image_emb.shape)} (row i is image i's caption); "
            f"got {tuple(text_emb.shape)}."
        )
    if image_emb.shape[0] < 1 or image_emb.shape[1] < 1:
        raise ValueError(f"image_emb must have at least one row and one feature; got shape {tuple(image_emb.shape)}.")
    return image_emb, text_emb


def _check_scalar(v, name: str, like: torch.Tensor) -> torch.Tensor:
    """A finite real number or a one-element floating tensor (kept as is, so it can be learned)."""
    if isinstance(v, torch.Tensor):
        if v.numel() != 1 or not v.is_floating_point():
            raise ValueError(f"{name} must be a one-element floating tensor; got shape {tuple(v.shape)}, {v.dtype}.")
        if not torch.isfinite(v.detach()).all():
            raise ValueError(f"{name} must be finite; got {v.item()}.")
        return v.reshape(())
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a real number or a one-element tensor; got {type(v).__name__}.")
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}.")
    return torch.tensor(float(v), dtype=like.dtype, device=like.device)


def _prepare(image_emb, text_emb, normalize):
    image_emb, text_emb = _check_pair(image_emb, text_emb)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool; got {type(normalize).__name__}.")
    if normalize:
        image_emb, text_emb = F.normalize(image_emb, dim=1), F.normalize(text_emb, dim=1)
    return image_emb, text_emb


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, log_scale: float | torch.Tensor, *, normalize: bool = True
) -> torch.Tensor:
    r"""CLIP's symmetric softmax contrastive loss (InfoNCE both ways) with scale :math:`e^{t'}`.

    Parameters
    ----------
    image_emb, text_emb : torch.Tensor, shape (B, d)
        Row :math:`i` of each is a matched pair; the other :math:`B-1` rows are negatives.
    log_scale : float or torch.Tensor
        :math:`t'`; the logits are :math:`e^{t'} s_{ij}`. CLIP initialises
        :math:`t' = \log(1/0.07)` and clips :math:`e^{t'} \le 100` during training (clamp
        the parameter after each step, as open_clip does). A tensor keeps its gradient.
    normalize : bool
        L2-normalise the embeddings first (CLIP does; pass False if already normalised).

    Returns
    -------
    torch.Tensor
        Scalar; exactly :math:`\log B` when all similarities are equal.

    Raises
    ------
    TypeError, ValueError
        On shape mismatch or a non-finite ``log_scale``.

    Notes
    -----
    :func:`~interviewlib.nn.contrastive.info_nce` with ``symmetric=True`` and
    ``temperature = e^{-t'}`` is the same loss (tested), but its temperature is a Python
    float; here the scale is a tensor so it can be learned, which is the CLIP recipe.
    Each row is a :math:`B`-way softmax: every device needs all :math:`B` embeddings of
    the other modality (an all-gather) before it can normalise. See question q12-02.

    References
    ----------
    .. [1] Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision", ICML 2021, arXiv:2103.00020.

    Examples
    --------
    >>> round(float(clip_loss(torch.ones(4, 3), torch.ones(4, 3), 0.0)), 4) == round(math.log(4), 4)
    True
    """
    x, y = _prepare(image_emb, text_emb, normalize)
    scale = _check_scalar(log_scale, "log_scale", x).exp()
    logits = scale * x @ y.T  # (B, B): row = image, column = text
    diag = logits.diagonal()  # (B,)
    img_to_txt = (torch.logsumexp(logits, dim=1) - diag).mean()
    txt_to_img = (torch.logsumexp(logits, dim=0) - diag).mean()
    return 0.5 * (img_to_txt + txt_to_img)


def _sigmoid_block(x, y, scale, bias, positives: bool) -> torch.Tensor:
    """Sum of -log sigmoid(z * logits) over one (b_i, b_j) block; diagonal positive if ``positives``."""
    logits = scale * x @ y.T + bias  # (b_i, b_j)
    loss = F.softplus(logits).sum()  # every pair as a negative: -log sigmoid(-l) = softplus(l)
    if positives:
        loss = loss - logits.diagonal().sum()  # softplus(-l) - softplus(l) = -l on the positives
    return loss


def siglip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    log_scale: float | torch.Tensor,
    bias: float | torch.Tensor,
    *,
    normalize: bool = True,
) -> torch.Tensor:
    r"""SigLIP's pairwise sigmoid loss, summed over all :math:`B^2` pairs and divided by :math:`B`.

    Parameters
    ----------
    image_emb, text_emb : torch.Tensor, shape (B, d)
        Row :math:`i` of each is a matched pair.
    log_scale : float or torch.Tensor
        :math:`t'`, logits :math:`e^{t'} s_{ij} + b`; SigLIP initialises :math:`t' = \log 10`.
    bias : float or torch.Tensor
        :math:`b`, initialised to :math:`-10` so that at the start every pair looks like
        a negative (the prior: :math:`B^2 - B` of the :math:`B^2` pairs are).
    normalize : bool
        L2-normalise the embeddings first.

    Returns
    -------
    torch.Tensor
        Scalar :math:`-\frac1B\sum_{ij}\log\sigma(z_{ij}(e^{t'}s_{ij}+b))`.

    Raises
    ------
    TypeError, ValueError
        On shape mismatch or non-finite ``log_scale`` / ``bias``.

    Notes
    -----
    Written with ``softplus`` (stable): a negative pair costs
    :math:`\mathrm{softplus}(l)`, a positive :math:`\mathrm{softplus}(-l) = \mathrm{softplus}(l) - l`.
    No term depends on any other pair, so the loss is a plain sum of blocks
    (:func:`chunked_siglip_loss`). Same normalisation as the paper's Algorithm 1,
    big_vision's trainer and open_clip's ``SigLipLoss``. See question q12-02.

    References
    ----------
    .. [1] Zhai et al., "Sigmoid Loss for Language Image Pre-Training", ICCV 2023,
       arXiv:2303.15343.

    Examples
    --------
    >>> x = torch.eye(3)
    >>> loss = siglip_loss(x, x, math.log(10), -10.0)
    >>> expected = -(3 * math.log(1 / (1 + math.exp(0.0))) + 6 * math.log(1 / (1 + math.exp(-10.0)))) / 3
    >>> round(float(loss), 6) == round(expected, 6)
    True
    """
    x, y = _prepare(image_emb, text_emb, normalize)
    scale = _check_scalar(log_scale, "log_scale", x).exp()
    b = _check_scalar(bias, "bias", x)
    return _sigmoid_block(x, y, scale, b, positives=True) / x.shape[0]


def ring_schedule(n_devices: int) -> list[list[int]]:
    r"""Which text shard each device holds at each step of the SigLIP ring (pass to the right).

    Parameters
    ----------
    n_devices : int
        :math:`D \ge 1`.

    Returns
    -------
    list of list of int
        ``schedule[s][d] = (d - s) mod D``: at step 0 every device holds its own texts
        (the only block with positives); after each step it receives its left neighbour's
        shard. After :math:`D-1` sends every device has met every shard once.

    Raises
    ------
    TypeError, ValueError
        If ``n_devices`` is not a positive integer.

    Notes
    -----
    See question q12-02.

    Examples
    --------
    >>> ring_schedule(3)
    [[0, 1, 2], [2, 0, 1], [1, 2, 0]]
    """
    D = check_int(n_devices, "n_devices", low=1)
    return [[(d - s) % D for d in range(D)] for s in range(D)]


def chunked_siglip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    log_scale: float | torch.Tensor,
    bias: float | torch.Tensor,
    *,
    n_devices: int,
    normalize: bool = True,
) -> torch.Tensor:
    r"""SigLIP loss computed as on :math:`D` data-parallel devices that pass text shards in a ring.

    Device :math:`d` holds images and texts :math:`[db, (d+1)b)` with :math:`b = B/D`. At
    step :math:`s` it scores its images against the text shard of :func:`ring_schedule`
    (a :math:`b\times b` block; positives only at :math:`s = 0`), then sends that shard to
    its right neighbour. Summing the per-device sums and dividing by :math:`B` gives
    exactly :func:`siglip_loss`.

    Parameters
    ----------
    image_emb, text_emb : torch.Tensor, shape (B, d)
    log_scale, bias : float or torch.Tensor
        As in :func:`siglip_loss`.
    n_devices : int
        :math:`D`; must divide :math:`B`.
    normalize : bool
        L2-normalise the embeddings first.

    Returns
    -------
    torch.Tensor
        Scalar, equal to :func:`siglip_loss` up to summation order.

    Raises
    ------
    TypeError, ValueError
        If ``n_devices`` does not divide the batch, or as :func:`siglip_loss`.

    Notes
    -----
    A simulation on one process: the "send" is an index change. The point is what the
    forward pass materialises at once, one :math:`b\times b` block instead of
    :math:`B\times B`, and that only texts travel (:math:`D-1` point-to-point sends of
    :math:`b\times d`, no all-gather). Autograd sends the text gradients back along the same
    ring, and it keeps every block's logits until the backward pass (so does open_clip's
    PyTorch ring): without recomputing blocks in the backward pass (checkpointing or a custom
    backward), the saved activations per device are :math:`O(bB)`, not :math:`O(b^2)`.
    See question q12-02.

    References
    ----------
    .. [1] Zhai et al., arXiv:2303.15343, section 3.3 and figure 1.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    >>> full = siglip_loss(x, y, 2.3, -10.0)
    >>> torch.allclose(chunked_siglip_loss(x, y, 2.3, -10.0, n_devices=4), full)
    True
    """
    x, y = _prepare(image_emb, text_emb, normalize)
    D = check_int(n_devices, "n_devices", low=1)
    B = x.shape[0]
    if B % D:
        raise ValueError(f"n_devices must divide the batch size; got B={B}, n_devices={D}.")
    scale = _check_scalar(log_scale, "log_scale", x).exp()
    b = _check_scalar(bias, "bias", x)
    shard = B // D
    img = x.reshape(D, shard, -1)  # (D, b, d): device d's images
    txt = y.reshape(D, shard, -1)  # (D, b, d): device d's texts at step 0
    total = x.new_zeros(())
    for step, holding in enumerate(ring_schedule(D)):
        for device, j in enumerate(holding):
            total = total + _sigmoid_block(img[device], txt[j], scale, b, positives=step == 0)
    return total / B


def contrastive_cost(
    batch_size: int, n_devices: int, dim: int, *, scheme: str, bytes_per_element: int = 4
) -> dict[str, int]:
    r"""Per-device logits memory and received communication of one loss forward pass.

    With global batch :math:`B`, :math:`D` devices, :math:`b = B/D` and embedding width
    :math:`d`:

    ============== ====================================== ====================
    scheme         received per device (elements)         logits at once (fwd)
    ============== ====================================== ====================
    softmax_gather :math:`2(D-1)\,b\,d` (all-gather both) :math:`B^2`
    softmax_local  :math:`2(D-1)\,b\,d`                   :math:`2\,b\,B`
    sigmoid_ring   :math:`(D-1)\,b\,d` (texts only)       :math:`b^2`
    ============== ====================================== ====================

    Parameters
    ----------
    batch_size : int
        Global batch :math:`B`, a multiple of ``n_devices``.
    n_devices : int
        :math:`D`.
    dim : int
        Embedding width :math:`d`.
    scheme : {"softmax_gather", "softmax_local", "sigmoid_ring"}
        ``softmax_gather``: CLIP / open_clip ``ClipLoss`` default, every device builds the
        full :math:`B\times B` matrix. ``softmax_local``: open_clip ``local_loss=True``,
        each device only its :math:`b` rows against all :math:`B` (both directions).
        ``sigmoid_ring``: SigLIP's chunked ring.
    bytes_per_element : int
        4 for float32 logits and embeddings.

    Returns
    -------
    dict
        ``comm_elements``, ``comm_bytes``, ``logits_elements``, ``logits_bytes``.

    Raises
    ------
    TypeError, ValueError
        On a bad size, a ``batch_size`` not divisible by ``n_devices`` or an unknown scheme.

    Notes
    -----
    Forward only; the backward pass sends the same volume again (reduce-scatter of the
    gathered gradients, or the text gradients back along the ring). The logits column is
    what the forward pass materialises at one moment; in training, unless each block is
    recomputed in the backward pass, all :math:`D` blocks of the ring are kept for the
    backward, :math:`D b^2 = bB` per device, the order of ``softmax_local``. The
    communication volumes differ by a factor 2 at most; what changes is the
    :math:`O(B^2)` memory of the full matrix and that a ring of point-to-point sends overlaps
    with compute. See question q12-02.

    Examples
    --------
    >>> contrastive_cost(1024, 4, 512, scheme="sigmoid_ring")["logits_elements"]  # (1024/4)^2
    65536
    """
    B = check_int(batch_size, "batch_size", low=1)
    D = check_int(n_devices, "n_devices", low=1)
    d = check_int(dim, "dim", low=1)
    nbytes = check_int(bytes_per_element, "bytes_per_element", low=1)
    if B % D:
        raise ValueError(f"batch_size must be a multiple of n_devices; got {B} and {D}.")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}; got {scheme!r}.")
    b = B // D
    if scheme == "softmax_gather":
        comm, logits = 2 * (D - 1) * b * d, B * B
    elif scheme == "softmax_local":
        comm, logits = 2 * (D - 1) * b * d, 2 * b * B
    else:
        comm, logits = (D - 1) * b * d, b * b
    return {
        "comm_elements": comm,
        "comm_bytes": comm * nbytes,
        "logits_elements": logits,
        "logits_bytes": logits * nbytes,
    }
