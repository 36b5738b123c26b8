r"""Muon: momentum orthogonalised by a quintic Newton-Schulz iteration (torch), plus QK-Clip.

For a 2-D weight with momentum matrix :math:`M = U\Sigma V^\top`, Muon steps along
:math:`-UV^\top` (the orthogonal polar factor): the steepest-descent direction when the
step size is measured in the spectral norm. Instead of an SVD it runs five steps of

.. math:: X \leftarrow aX + b(XX^\top)X + c(XX^\top)^2X,\qquad (a,b,c) = (3.4445, -4.7750, 2.0315),

starting from :math:`X_0 = M/\lVert M\rVert_F` (so every singular value is :math:`\le 1`).
Each step applies the odd polynomial :math:`\varphi(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`
to every singular value while keeping :math:`U, V`; the coefficients make :math:`\varphi'(0)`
large, so small singular values grow fast, at the price of ending in a band around 1
(about [0.68, 1.16] for normalised singular values above 5e-3) rather than exactly 1.
"""

from __future__ import annotations

import math

import torch

from interviewlib.nn._torch_checks import check_positive, check_tensor, check_unit_interval

__all__ = [
    "NS_COEFFICIENTS",
    "Muon",
    "max_attention_logits",
    "muon_lr_scale",
    "newton_schulz",
    "polar_factor_svd",
    "qk_clip",
]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""Quintic Newton-Schulz coefficients (a, b, c) of the reference implementation."""

_LR_SCALES = ("original", "match_rms_adamw", "none")


def newton_schulz(
    G: torch.Tensor,
    steps: int = 5,
    *,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
    compute_dtype: torch.dtype | None = torch.bfloat16,
) -> torch.Tensor:
    r"""Approximate the orthogonal polar factor :math:`UV^\top` of ``G`` with a quintic iteration.

    Parameters
    ----------
    G : torch.Tensor, shape (..., m, n)
        Matrix or batch of matrices.
    steps : int >= 0
        Number of iterations (5 in the reference implementation).
    coefficients : (float, float, float)
        :math:`(a, b, c)`; the default are the reference values.
    eps : float > 0
        Added to the Frobenius norm before dividing (avoids 0/0 for a zero matrix).
    compute_dtype : torch.dtype or None
        Precision of the iteration. ``torch.bfloat16`` as in the reference code (fast on
        GPUs, and the iteration is stable in it); ``None`` keeps ``G``'s dtype.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``G``: :math:`U\varphi^{(k)}(\Sigma/\lVert G\rVert_F)V^\top`.

    Raises
    ------
    ValueError
        If ``G`` has fewer than 2 dimensions or ``steps`` is negative.

    Notes
    -----
    Wide orientation is used internally (a tall matrix is transposed, iterated, and
    transposed back) so that :math:`XX^\top` is the smaller Gram matrix. Cost per step:
    three matrix products, :math:`O(m n \min(m,n))`. See question q06-09.

    References
    ----------
    .. [1] Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
       https://kellerjordan.github.io/posts/muon/ ; code github.com/KellerJordan/Muon.

    Examples
    --------
    >>> X = newton_schulz(torch.diag(torch.tensor([1.0, 0.1, 0.01])), compute_dtype=None)
    >>> bool(((X.diagonal() > 0.6) & (X.diagonal() < 1.25)).all())
    True
    """
    G = check_tensor(G, "G")
    if G.ndim < 2:
        raise ValueError(f"G must be at least 2-D (..., m, n); got shape {tuple(G.shape)}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}.")
    if len(coefficients) != 3:
        raise ValueError(f"coefficients must be (a, b, c); got {coefficients!r}.")
    eps = check_positive(eps, "eps")
    return _newton_schulz_core(G, steps, tuple(float(c) for c in coefficients), eps, compute_dtype)


def _newton_schulz_core(G, steps, coefficients, eps, compute_dtype) -> torch.Tensor:
    a, b, c = coefficients
    X = G if compute_dtype is None else G.to(compute_dtype)
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT  # work with the wide orientation: X @ X.mT is the small Gram matrix
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)  # Frobenius norm >= spectral norm
    for _ in range(steps):
        A = X @ X.mT  # (..., r, r) with r = min(m, n)
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    if tall:
        X = X.mT
    return X.to(G.dtype)


def polar_factor_svd(G: torch.Tensor) -> torch.Tensor:
    r"""Exact orthogonal polar factor :math:`UV^\top` from the reduced SVD (the reference).

    Parameters
    ----------
    G : torch.Tensor, shape (..., m, n)

    Returns
    -------
    torch.Tensor, shape (..., m, n)
        All singular values equal to one (for full-rank ``G``).

    Raises
    ------
    ValueError
        If ``G`` has fewer than 2 dimensions.

    Notes
    -----
    :math:`UV^\top = \arg\min_{O^\top O = I}\lVert O - G\rVert_F`. See question q06-09.

    Examples
    --------
    >>> O = polar_factor_svd(torch.tensor([[2.0, 0.0], [0.0, -3.0]]))
    >>> O.tolist()
    [[1.0, 0.0], [0.0, -1.0]]
    """
    G = check_tensor(G, "G")
    if G.ndim < 2:
        raise ValueError(f"G must be at least 2-D (..., m, n); got shape {tuple(G.shape)}.")
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    return U @ Vh


def muon_lr_scale(shape: tuple[int, ...] | torch.Size, mode: str = "original") -> float:
    r"""Shape-dependent multiplier of Muon's learning rate.

    Parameters
    ----------
    shape : (int, int)
        ``(rows, cols)`` = ``(fan_out, fan_in)`` of an ``nn.Linear`` weight.
    mode : {"original", "match_rms_adamw", "none"}
        ``"original"``: :math:`\sqrt{\max(1, \text{rows}/\text{cols})}` (Keller Jordan's code);
        ``"match_rms_adamw"``: :math:`0.2\sqrt{\max(\text{rows}, \text{cols})}` (Moonlight), which
        makes the update RMS 0.2, typical of AdamW, so AdamW's learning rate and weight decay
        can be reused; ``"none"``: 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On an unknown mode or a shape that is not two positive integers.

    Notes
    -----
    A full-rank orthogonal :math:`A\times B` matrix has RMS entry :math:`1/\sqrt{\max(A,B)}`,
    hence Moonlight's factor. See question q06-09.

    References
    ----------
    .. [1] Liu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982, 2025.

    Examples
    --------
    >>> muon_lr_scale((1024, 256)), muon_lr_scale((256, 1024)), muon_lr_scale((100, 400), "match_rms_adamw")
    (2.0, 1.0, 4.0)
    """
    if mode not in _LR_SCALES:
        raise ValueError(f"mode must be one of {_LR_SCALES}; got {mode!r}.")
    if not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"shape must be a (rows, cols) tuple; got {type(shape).__name__}.")
    if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"shape must be two positive integers (rows, cols); got {tuple(shape)}.")
    rows, cols = shape
    if mode == "original":
        return math.sqrt(max(1.0, rows / cols))
    if mode == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


class Muon(torch.optim.Optimizer):
    r"""Muon optimizer for 2-D hidden-layer weights (embeddings, head, gains and biases go to AdamW).

    Parameters
    ----------
    params : iterable of torch.Tensor or of dict
        Only 2-D tensors.
    lr : float >= 0
        Learning rate (0.02 is the reference default with ``lr_scale="original"``).
    momentum : float in [0, 1)
        :math:`\beta`; the buffer is the EMA :math:`B \leftarrow \beta B + (1-\beta)G`.
    nesterov : bool
        Orthogonalise :math:`(1-\beta)G + \beta B` instead of :math:`B`.
    ns_steps : int >= 0
    weight_decay : float >= 0
        Decoupled: :math:`W \leftarrow (1 - \eta\lambda)W` (Moonlight added it for scale).
    lr_scale : {"original", "match_rms_adamw", "none"}
        See :func:`muon_lr_scale`.
    ns_dtype : torch.dtype or None
        Precision of the Newton-Schulz iteration (``torch.bfloat16`` as in the reference).

    Raises
    ------
    ValueError
        On a parameter that is not 2-D or bad hyperparameters.

    Notes
    -----
    One step per weight :math:`W` with gradient :math:`G`:
    :math:`B \leftarrow \beta B + (1-\beta)G`, :math:`U = (1-\beta)G + \beta B` (Nesterov),
    :math:`O = \mathrm{NS}_5(U)`, :math:`W \leftarrow (1-\eta\lambda)W - \eta\,s(W)\,O`.
    Matches ``torch.optim.Muon`` (checked against PyTorch 2.13) and the reference code; one state tensor
    per weight (half of Adam's). See question q06-09.

    References
    ----------
    .. [1] Jordan et al., 2024, https://kellerjordan.github.io/posts/muon/.
    .. [2] Liu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982.

    Examples
    --------
    >>> W = torch.nn.Parameter(torch.zeros(4, 4))
    >>> opt = Muon([W], lr=0.1, ns_dtype=None)
    >>> W.grad = torch.diag(torch.tensor([1.0, 1e-2, 0.0, 0.0]))
    >>> opt.step()
    >>> bool(W[1, 1] < -0.05)  # the tiny singular direction gets a full-size step
    True
    """

    def __init__(
        self,
        params,
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        *,
        lr_scale: str = "original",
        ns_dtype: torch.dtype | None = torch.bfloat16,
    ) -> None:
        check_positive(lr, "lr", allow_zero=True)
        check_unit_interval(momentum, "momentum")
        check_positive(weight_decay, "weight_decay", allow_zero=True)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"ns_steps must be an integer >= 0; got {ns_steps!r}.")
        if lr_scale not in _LR_SCALES:
            raise ValueError(f"lr_scale must be one of {_LR_SCALES}; got {lr_scale!r}.")
        if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"params must be an iterable of 2-D tensors or of parameter-group dicts; got {type(params).__name__}.")
        defaults = dict(
            lr=lr, momentum=momentum, nesterov=bool(nesterov), ns_steps=ns_steps, weight_decay=weight_decay
        )
        super().__init__(params, defaults)
        self.lr_scale = lr_scale
        self.ns_dtype = ns_dtype
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon only handles 2-D weights; got a parameter of shape {tuple(p.shape)}. "
                        "Optimise biases, gains and embeddings with AdamW."
                    )

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one Muon update; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta, lr, wd = group["momentum"], group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)  # (rows, cols)
                buf = state["momentum_buffer"]
                buf.mul_(beta).add_(g, alpha=1.0 - beta)
                u = (1.0 - beta) * g + beta * buf if group["nesterov"] else buf
                o = _newton_schulz_core(u, group["ns_steps"], NS_COEFFICIENTS, 1e-7, self.ns_dtype)
                p.mul_(1.0 - lr * wd)
                p.add_(o, alpha=-lr * muon_lr_scale(tuple(p.shape), self.lr_scale))
        return loss


def _check_qk(x, w_q, w_k, n_heads):
    w_q = check_tensor(w_q, "w_q", ndim=2, what="(n_heads * d_head, d_model)")
    w_k = check_tensor(w_k, "w_k", ndim=2, what="(n_heads * d_head, d_model)")
    if w_q.shape != w_k.shape:
        raise ValueError(f"w_k must have the shape of w_q {tuple(w_q.shape)}; got {tuple(w_k.shape)}.")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or w_q.shape[0] % n_heads:
        raise ValueError(f"n_heads must be a positive integer dividing w_q.shape[0]={w_q.shape[0]}; got {n_heads!r}.")
    if x is not None:
        x = check_tensor(x, "x", ndim=3, what="(B, T, d_model)")
        if x.shape[-1] != w_q.shape[1]:
            raise ValueError(f"x must have d_model={w_q.shape[1]} features; got shape {tuple(x.shape)}.")
    return x, w_q, w_k


def max_attention_logits(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, n_heads: int) -> torch.Tensor:
    r"""Per-head maximum attention logit :math:`S^h_{\max} = \max_{b,i,j} q^h_i\cdot k^h_j/\sqrt{d_h}`.

    Parameters
    ----------
    x : torch.Tensor, shape (B, T, d_model)
    w_q, w_k : torch.Tensor, shape (n_heads * d_head, d_model)
        Query and key projections in ``nn.Linear`` layout (``q = x @ w_q.T``).
    n_heads : int

    Returns
    -------
    torch.Tensor, shape (n_heads,)

    Raises
    ------
    ValueError
        On inconsistent shapes.

    Notes
    -----
    No causal mask is applied (the maximum over all pairs bounds the masked one). See
    question q06-09.

    Examples
    --------
    >>> x = torch.ones(1, 2, 2)
    >>> w = torch.eye(2)
    >>> max_attention_logits(x, w, w, n_heads=1).tolist()  # (1*1 + 1*1) / sqrt(2)
    [1.4142135381698608]
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor (B, T, d_model); got {type(x).__name__}.")
    x, w_q, w_k = _check_qk(x, w_q, w_k, n_heads)
    b, t, _ = x.shape
    d_head = w_q.shape[0] // n_heads
    q = (x @ w_q.T).view(b, t, n_heads, d_head).transpose(1, 2)  # (B, H, T, d_head)
    k = (x @ w_k.T).view(b, t, n_heads, d_head).transpose(1, 2)  # (B, H, T, d_head)
    logits = q @ k.transpose(-2, -1) / math.sqrt(d_head)  # (B, H, T, T)
    return logits.amax(dim=(0, 2, 3))


def qk_clip(
    w_q: torch.Tensor, w_k: torch.Tensor, max_logits: torch.Tensor, *, tau: float = 100.0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""QK-Clip (Kimi K2): shrink the query and key weights of every head whose max logit exceeds :math:`\tau`.

    Parameters
    ----------
    w_q, w_k : torch.Tensor, shape (n_heads * d_head, d_model)
        Query and key projections; head :math:`h` owns rows :math:`[h d_h, (h+1) d_h)`.
    max_logits : torch.Tensor, shape (n_heads,)
        :math:`S^h_{\max}` measured in the last forward pass (:func:`max_attention_logits`).
    tau : float > 0
        Threshold (Kimi K2 used 100).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        New ``w_q, w_k`` (inputs untouched): head :math:`h` scaled by :math:`\sqrt{\gamma_h}`,
        :math:`\gamma_h = \min(1, \tau/S^h_{\max})`, so its logits, bilinear in
        :math:`(W_q, W_k)`, shrink by exactly :math:`\gamma_h`.

    Raises
    ------
    ValueError
        On inconsistent shapes or ``tau <= 0``.

    Notes
    -----
    Applied after the optimizer step, per head, only to heads above the threshold; the
    forward and backward passes are unchanged. For MLA, Kimi K2 scales the unshared
    :math:`q^C, k^C` by :math:`\sqrt{\gamma_h}` and the rotary :math:`q^R` by :math:`\gamma_h`, leaving
    the shared rotary key alone. See question q06-09.

    References
    ----------
    .. [1] Kimi Team, "Kimi K2: Open Agentic Intelligence", arXiv:2507.20534, 2025.

    Examples
    --------
    >>> wq, wk = qk_clip(torch.ones(4, 3), torch.ones(4, 3), torch.tensor([400.0, 50.0]), tau=100.0)
    >>> wq[:, 0].tolist()  # head 0: sqrt(100/400) = 0.5; head 1 below tau: unchanged
    [0.5, 0.5, 1.0, 1.0]
    """
    tau = check_positive(tau, "tau")
    max_logits = check_tensor(max_logits, "max_logits", ndim=1, what="(n_heads,)")
    n_heads = max_logits.shape[0]
    _, w_q, w_k = _check_qk(None, w_q, w_k, n_heads)
    gamma = torch.clamp(tau / max_logits.clamp_min(torch.finfo(max_logits.dtype).tiny), max=1.0)  # (H,)
    scale = gamma.sqrt().repeat_interleave(w_q.shape[0] // n_heads)[:, None].to(w_q.dtype)  # (H*d_head, 1)
    return w_q * scale, w_k * scale
