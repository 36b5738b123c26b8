r"""Adam and AdamW written out (torch optimizers), matching ``torch.optim.Adam`` / ``AdamW``.

.. math::
   m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
   v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
   \hat m_t = \frac{m_t}{1-\beta_1^t},\quad \hat v_t = \frac{v_t}{1-\beta_2^t},\quad
   \theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.

Adam's ``weight_decay`` adds :math:`\lambda\theta` to the gradient (L2 regularisation, which
then gets divided by :math:`\sqrt{\hat v}`); AdamW instead shrinks the weights directly,
:math:`\theta \leftarrow (1 - \eta\lambda)\theta`, before the Adam step (decoupled decay).
"""

from __future__ import annotations

import torch

from interviewlib.nn._torch_checks import check_positive, check_unit_interval

__all__ = ["Adam", "AdamW"]


class _AdamBase(torch.optim.Optimizer):
    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        bias_correction: bool = True,
    ) -> None:
        check_positive(lr, "lr", allow_zero=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}.")
        check_unit_interval(betas[0], "betas[0]")
        check_unit_interval(betas[1], "betas[1]")
        check_positive(eps, "eps", allow_zero=True)
        check_positive(weight_decay, "weight_decay", allow_zero=True)
        if not isinstance(bias_correction, bool):
            raise TypeError(f"bias_correction must be a bool; got {type(bias_correction).__name__}.")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, bias_correction=bias_correction)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update of every parameter that has a gradient; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m: first moment (same shape as p)
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v: second moment (same shape as p)
                state["step"] += 1
                t = state["step"]
                if wd != 0:
                    if self._decoupled:
                        p.mul_(1.0 - lr * wd)  # AdamW: decay the weights, not the gradient
                    else:
                        g = g + wd * p  # Adam: L2 penalty folded into the gradient
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
                if group["bias_correction"]:
                    m_hat = m / (1.0 - beta1**t)
                    v_hat = v / (1.0 - beta2**t)
                else:
                    m_hat, v_hat = m, v
                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)
        return loss


class Adam(_AdamBase):
    r"""Adam (Kingma and Ba) with L2 weight decay in the gradient, as ``torch.optim.Adam``.

    Parameters
    ----------
    params : iterable of torch.Tensor or of dict
        Parameters or parameter groups.
    lr : float >= 0
        Step size :math:`\eta`.
    betas : (float, float) in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float >= 0
        Added to :math:`\sqrt{\hat v_t}` (outside the square root, as in PyTorch).
    weight_decay : float >= 0
        L2 coefficient :math:`\lambda` added to the gradient.
    bias_correction : bool, keyword-only
        Divide by :math:`1-\beta^t` (True, the paper's algorithm). False exists to show
        the distorted early steps that bias correction removes: without it the first
        step is :math:`\eta(1-\beta_1)/\sqrt{1-\beta_2}`, about :math:`3.2\eta` for the
        default betas, because :math:`v` is biased towards zero more than :math:`m`.

    Raises
    ------
    ValueError
        On a negative ``lr``/``eps``/``weight_decay`` or betas outside [0, 1).

    Notes
    -----
    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``, i.e. two extra tensors
    the size of the parameter. See question q06-08.

    References
    ----------
    .. [1] Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
       arXiv:1412.6980.

    Examples
    --------
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = torch.tensor([123.0])
    >>> opt.step()  # the first step has size lr whatever the gradient scale
    >>> round(w.item(), 6)
    0.9
    """


class AdamW(_AdamBase):
    r"""AdamW (Loshchilov and Hutter): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Parameters
    ----------
    params, lr, betas, eps, bias_correction
        As :class:`Adam`.
    weight_decay : float >= 0
        :math:`\lambda`; each step first applies :math:`\theta \leftarrow (1-\eta\lambda)\theta`
        (PyTorch multiplies the decay by the learning rate; the paper writes a separate
        schedule multiplier). Default 0.01 as in PyTorch.

    Raises
    ------
    ValueError
        As :class:`Adam`.

    Notes
    -----
    With L2-in-the-gradient, the decay term :math:`\lambda\theta` is divided by
    :math:`\sqrt{\hat v}`: weights with large gradients are barely regularised. Decoupling
    applies the same relative shrinkage to every weight. See question q06-08.

    References
    ----------
    .. [1] Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
       arXiv:1711.05101.

    Examples
    --------
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = torch.tensor([0.0])
    >>> opt.step()  # zero gradient: only the decay acts, 1 * (1 - 0.1 * 0.5)
    >>> round(w.item(), 6)
    0.95
    """

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        *,
        bias_correction: bool = True,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, bias_correction=bias_correction)
