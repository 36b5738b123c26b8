r"""Adam and AdamW written out (torch optimizers), matching ``torch.optim.Adam`` / ``AdamW``.

.. math::
   m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
   v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
   \hat m_t = \frac{m_t}{1-\beta_1^t},\quad \hat v_t = \frac{v_t}{1-\beta_2^t},\quad
   \theta_t = \theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.

Adam's ``weight_decay`` adds :math:`\lambda\theta` to the gradient (L2 regularisation, which
then gets divided by :math:`\sqrt{\hat v}`); AdamW instead shrinks the weights directly,
:math:`\theta \leftarrow (1 - \eta\lambda)\theta`, before the Adam step (decoupled decay).
AMSGrad (``amsgrad=True``) normalises by the running maximum of :math:`v_t` instead of
:math:`v_t` itself, so the per-coordinate step size can never grow again.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from interviewlib.nn._torch_checks import check_positive, check_unit_interval

__all__ = ["Adam", "AdamW"]

_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


def _check_flag(v, name: str) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool; got {type(v).__name__}.")
    return v


def _check_hyperparameters(
    lr, betas, eps, weight_decay, amsgrad, maximize, bias_correction, *, where: str = ""
) -> None:
    """Raise on a bad hyperparameter; ``where`` prefixes the names (e.g. ``state_dict['param_groups'][0]``)."""
    check_positive(lr, f"{where}lr", allow_zero=True)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{where}betas must be a pair (beta1, beta2); got {betas!r}.")
    check_unit_interval(betas[0], f"{where}betas[0]")
    check_unit_interval(betas[1], f"{where}betas[1]")
    check_positive(eps, f"{where}eps", allow_zero=True)
    check_positive(weight_decay, f"{where}weight_decay", allow_zero=True)
    _check_flag(amsgrad, f"{where}amsgrad")
    _check_flag(maximize, f"{where}maximize")
    _check_flag(bias_correction, f"{where}bias_correction")


class _AdamBase(torch.optim.Optimizer):
    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        bias_correction: bool = True,
    ) -> None:
        _check_hyperparameters(lr, betas, eps, weight_decay, amsgrad, maximize, bias_correction)
        if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(
                f"params must be an iterable of tensors or of parameter-group dicts; got {type(params).__name__}."
            )
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            bias_correction=bias_correction,
            # Fixed by the class; stored so that torch.optim.Adam reads an AdamW state_dict right.
            decoupled_weight_decay=self._decoupled,
        )
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
                g = -p.grad if group["maximize"] else p.grad  # maximize f = minimize -f
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m: first moment (same shape as p)
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v: second moment (same shape as p)
                if group["amsgrad"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)  # running max of v (same shape as p)
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
                if group["amsgrad"]:
                    v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])  # max of raw v_t
                if group["bias_correction"]:
                    m_hat = m / (1.0 - beta1**t)
                    v_hat = v / (1.0 - beta2**t)  # AMSGrad: the max, divided by this step's correction
                else:
                    m_hat, v_hat = m, v
                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)
        return loss

    def load_state_dict(self, state_dict) -> None:
        """Load a state saved by this class or by ``torch.optim.Adam`` / ``AdamW`` (same keys).

        Raises
        ------
        TypeError, ValueError
            If ``state_dict`` is not an optimizer state dict, comes from the other weight-decay
            variant (Adam vs AdamW), has a bad hyperparameter, or a parameter's state lacks
            ``step``, ``exp_avg`` or ``exp_avg_sq`` (e.g. the state of SGD).
        """
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict).__name__
            raise TypeError(f"state_dict must be a dict with keys 'state' and 'param_groups'; got {got}.")
        ours = type(self).__name__
        for pid, st in state_dict["state"].items():
            missing = [k for k in _STATE_KEYS if k not in st]
            if missing:
                raise ValueError(
                    f"state_dict['state'][{pid!r}] lacks {missing} (has {sorted(st)}); "
                    f"{ours} needs {list(_STATE_KEYS)}, as saved by Adam or AdamW."
                )
        for i, group in enumerate(state_dict["param_groups"]):
            where = f"state_dict['param_groups'][{i}]"
            decoupled = group.get("decoupled_weight_decay", self._decoupled)
            if decoupled != self._decoupled:
                fits = "AdamW" if decoupled else "Adam"
                raise ValueError(
                    f"{where} has decoupled_weight_decay={decoupled}, which {ours} cannot run; load it into {fits}."
                )
            _check_hyperparameters(
                group.get("lr"),
                group.get("betas"),
                group.get("eps"),
                group.get("weight_decay"),
                group.get("amsgrad", False),
                group.get("maximize", False),
                group.get("bias_correction", True),
                where=f"{where}: ",
            )
        super().load_state_dict(state_dict)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # keys a state saved by torch, or by an older version, may lack
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("bias_correction", True)  # torch always corrects
            group["decoupled_weight_decay"] = self._decoupled
        for st in self.state.values():
            if torch.is_tensor(st.get("step")):
                st["step"] = int(st["step"].item())  # torch keeps a float32 tensor; the bias correction wants an int


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
    amsgrad : bool
        AMSGrad (Reddi et al.): keep :math:`v^{\max}_t = \max(v^{\max}_{t-1}, v_t)` and use it in
        place of :math:`v_t`, so that a coordinate whose gradients shrink does not get a larger
        step. As in PyTorch, the maximum is taken over the *uncorrected* :math:`v_t` and then
        divided by this step's :math:`1-\beta_2^t` (the paper has no bias correction).
    maximize : bool, keyword-only
        Ascend instead of descend: the gradient is negated before anything else (before the
        L2 term is added), as in PyTorch.
    bias_correction : bool, keyword-only
        Divide by :math:`1-\beta^t` (True, the paper's algorithm). False exists to show
        the distorted early steps that bias correction removes: without it the first
        step is :math:`\eta(1-\beta_1)/\sqrt{1-\beta_2}`, about :math:`3.2\eta` for the
        default betas, because :math:`v` is biased towards zero more than :math:`m`.
        PyTorch has no such switch.

    Raises
    ------
    TypeError
        If ``params`` is not iterable, or a flag is not a bool.
    ValueError
        On a negative ``lr``/``eps``/``weight_decay`` or betas outside [0, 1).

    Notes
    -----
    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``, i.e. two extra tensors
    the size of the parameter (three with ``amsgrad``: ``max_exp_avg_sq``). The names are
    PyTorch's, so ``state_dict()`` moves both ways: a ``torch.optim.Adam`` state loads into
    this class and continues exactly as torch would, and ours loads into torch (torch's
    implementation flags ``foreach``/``fused``/``capturable``/``differentiable`` are kept
    in the groups but ignored here; a state with ``bias_correction=False`` would be
    bias-corrected by torch). A state saved by AdamW is refused (decoupled decay). See
    question q06-08.

    References
    ----------
    .. [1] Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
       arXiv:1412.6980.
    .. [2] Reddi, Kale and Kumar, "On the Convergence of Adam and Beyond", ICLR 2018,
       arXiv:1904.09237 (AMSGrad).

    Examples
    --------
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = torch.tensor([123.0])
    >>> opt.step()  # the first step has size lr whatever the gradient scale
    >>> round(w.item(), 6)
    0.9
    >>> ref = torch.optim.Adam([torch.tensor([0.0], requires_grad=True)])
    >>> Adam([torch.tensor([0.0], requires_grad=True)]).load_state_dict(ref.state_dict())  # torch -> ours
    """


class AdamW(_AdamBase):
    r"""AdamW (Loshchilov and Hutter): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Parameters
    ----------
    params, lr, betas, eps, amsgrad, maximize, bias_correction
        As :class:`Adam`.
    weight_decay : float >= 0
        :math:`\lambda`; each step first applies :math:`\theta \leftarrow (1-\eta\lambda)\theta`
        (PyTorch multiplies the decay by the learning rate; the paper writes a separate
        schedule multiplier). Default 0.01 as in PyTorch. With ``maximize`` the decay still
        shrinks the weights.

    Raises
    ------
    TypeError, ValueError
        As :class:`Adam`.

    Notes
    -----
    With L2-in-the-gradient, the decay term :math:`\lambda\theta` is divided by
    :math:`\sqrt{\hat v}`: weights with large gradients are barely regularised. Decoupling
    applies the same relative shrinkage to every weight. ``state_dict()`` moves to and from
    ``torch.optim.AdamW`` as for :class:`Adam`; a state saved by Adam is refused. See
    question q06-08.

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
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        bias_correction: bool = True,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, bias_correction=bias_correction
        )
