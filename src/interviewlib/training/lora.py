r"""LoRA: a frozen linear layer plus a trainable low-rank update (Hu et al. 2021).

For a frozen weight :math:`W_0 \in \mathbb{R}^{d_{out} \times d_{in}}` LoRA learns
:math:`A \in \mathbb{R}^{r \times d_{in}}` and :math:`B \in \mathbb{R}^{d_{out} \times r}` and computes

:math:`h = W_0 x + b + s\,B A x, \qquad s = \alpha / r \ \ (\text{rsLoRA: } s = \alpha / \sqrt{r}).`

:math:`B` starts at zero, so the adapted model equals the base model before the first step; after
training, :math:`W_0 + sBA` can be written back into the base weight ("merging"), which removes
all inference overhead. Parameter names, shapes, initialisation, scaling and the merge
follow Hugging Face ``peft`` 0.21.2 (``peft.tuners.lora.layer.Linear``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from interviewlib.nn._torch_checks import check_positive, check_unit_interval
from interviewlib.transformer._checks import check_int, check_tensor

__all__ = ["LoRALinear", "ParamCount", "apply_lora", "count_parameters", "lora_scaling", "merge_lora"]

_INITS = ("kaiming", "gaussian")


def lora_scaling(r: int, alpha: float, *, rslora: bool = False) -> float:
    r"""The factor :math:`s` in :math:`h = W_0x + s\,BAx`: :math:`\alpha/r`, or :math:`\alpha/\sqrt r` with rsLoRA.

    Parameters
    ----------
    r : int >= 1
        LoRA rank.
    alpha : float > 0
        ``lora_alpha`` in ``peft``.
    rslora : bool
        Rank-stabilised scaling (``LoraConfig(use_rslora=True)``).

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If ``r < 1``, ``alpha <= 0`` or ``rslora`` is not a bool.

    Notes
    -----
    With :math:`\alpha/r`, doubling :math:`r` at fixed :math:`\alpha` halves :math:`s`; with :math:`\alpha/\sqrt r` it
    divides :math:`s` by :math:`\sqrt2`. See questions q08-11 and q08-12.

    References
    ----------
    .. [1] Kalajdzievski, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA",
       2023, arXiv:2312.03732.

    Examples
    --------
    >>> lora_scaling(8, 16), lora_scaling(16, 16, rslora=True)
    (2.0, 4.0)
    """
    r, alpha, rslora = _check_hparams(r, alpha, rslora)
    return alpha / math.sqrt(r) if rslora else alpha / r


def _check_hparams(r, alpha, rslora) -> tuple[int, float, bool]:
    r = check_int(r, "r", low=1)
    alpha = check_positive(alpha, "alpha")
    if not isinstance(rslora, bool):
        raise TypeError(f"rslora must be a bool; got {type(rslora).__name__} {rslora!r}.")
    return r, alpha, rslora


def _check_dropout_init(dropout, init) -> float:
    dropout = check_unit_interval(dropout, "dropout")
    if init not in _INITS:
        raise ValueError(f"init must be one of {_INITS}; got {init!r}.")
    return dropout


class LoRALinear(nn.Module):
    r"""A frozen ``nn.Linear`` with a trainable low-rank update, as ``peft``'s LoRA ``Linear``.

    Parameters
    ----------
    base : nn.Linear
        The pretrained layer, weight shape ``(d_out, d_in)``. It is **copied**: the
        caller's layer is never modified. The copy is frozen (``requires_grad=False``).
    r : int >= 1
        Rank of the update.
    alpha : float > 0
        Scale numerator (``lora_alpha``).
    dropout : float in [0, 1)
        Dropout on the adapter's input only (the base path sees the clean ``x``), as in ``peft``.
    rslora : bool
        Scale by :math:`\alpha/\sqrt r` instead of :math:`\alpha/r`.
    init : {"kaiming", "gaussian"}
        Initialisation of ``lora_A``; ``lora_B`` is always zero. ``"kaiming"`` is ``peft``'s
        default (``init_lora_weights=True``) and Microsoft's ``loralib``:
        ``kaiming_uniform_(a=sqrt(5))``, i.e. :math:`U(-1/\sqrt{d_{in}}, 1/\sqrt{d_{in}})`,
        the same as ``nn.Linear``'s own weights. ``"gaussian"`` is ``peft``'s
        ``init_lora_weights="gaussian"``: :math:`N(0, 1/r^2)`. (The paper only says "random
        Gaussian" for A.)
    generator : torch.Generator or None
        Source of randomness for ``lora_A``; None uses torch's global generator.

    Attributes
    ----------
    base : nn.Linear
        Frozen copy of the input layer.
    lora_A : nn.Parameter, shape (r, d_in)
    lora_B : nn.Parameter, shape (d_out, r)
        Same shapes and roles as ``peft``'s ``lora_A[name].weight`` / ``lora_B[name].weight``.
    scaling : float
        :func:`lora_scaling` of ``(r, alpha, rslora)``.
    merged : bool
        True after :meth:`merge`: ``base.weight`` then holds :math:`W_0 + sBA` and
        :meth:`forward` skips the adapter.

    Raises
    ------
    TypeError
        If ``base`` is not an ``nn.Linear`` (or is already a :class:`LoRALinear`).
    ValueError
        On ``r < 1``, ``alpha <= 0``, ``dropout`` outside [0, 1) or an unknown ``init``.

    Notes
    -----
    Trainable parameters: :math:`r(d_{in} + d_{out})` instead of :math:`d_{in}d_{out}`.
    While merged, ``A`` and ``B`` receive no gradient (the forward pass does not use them):
    unmerge before training again. Merging then unmerging restores :math:`W_0` up to
    floating-point rounding, not bit for bit; with dropout > 0 in training mode the merged
    and unmerged outputs differ (dropout only acts on the adapter path). See question q08-11.

    References
    ----------
    .. [1] Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021,
       arXiv:2106.09685.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> layer = LoRALinear(nn.Linear(6, 4), r=2, alpha=4, generator=g)
    >>> x = torch.randn(3, 6, generator=g)
    >>> torch.equal(layer(x), layer.base(x))  # B = 0: exactly the base layer at init
    True
    >>> [n for n, p in layer.named_parameters() if p.requires_grad]
    ['lora_A', 'lora_B']
    """

    def __init__(
        self,
        base: nn.Linear,
        *,
        r: int,
        alpha: float,
        dropout: float = 0.0,
        rslora: bool = False,
        init: str = "kaiming",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(base, LoRALinear) or not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear (not already wrapped); got {type(base).__name__}.")
        r, alpha, rslora = _check_hparams(r, alpha, rslora)
        dropout = _check_dropout_init(dropout, init)
        self.r, self.alpha, self.rslora = r, alpha, rslora
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        self.base = copy.deepcopy(base).requires_grad_(False)
        w = self.base.weight  # (d_out, d_in)
        self.lora_A = nn.Parameter(torch.empty(r, w.shape[1], dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(w.shape[0], r, dtype=w.dtype, device=w.device))
        with torch.no_grad():
            if init == "kaiming":
                nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5), generator=generator)
            else:
                nn.init.normal_(self.lora_A, std=1.0 / r, generator=generator)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``base(x) + scaling * B A dropout(x)``; x has shape (..., d_in), the result (..., d_out)."""
        check_tensor(x, "x")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have last dimension d_in = {self.in_features}; got shape {tuple(x.shape)}.")
        out = self.base(x)  # (..., d_out)
        if self.merged:
            return out
        z = F.linear(self.dropout(x), self.lora_A)  # (..., r)
        return out + F.linear(z, self.lora_B) * self.scaling  # (..., d_out)

    def delta_weight(self) -> torch.Tensor:
        r"""The update :math:`s\,BA`, shape (d_out, d_in), differentiable in A and B."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        r"""The effective weight :math:`W_0 + sBA` as a new detached tensor (either state)."""
        with torch.no_grad():
            if self.merged:
                return self.base.weight.clone()
            return self.base.weight + self.delta_weight()

    def merge(self) -> None:
        """Write :math:`sBA` into ``base.weight`` (in place); forward then costs one matmul."""
        if self.merged:
            raise RuntimeError("merge() called on a LoRALinear that is already merged; call unmerge() first.")
        with torch.no_grad():
            self.base.weight += self.delta_weight()
        self.merged = True

    def unmerge(self) -> None:
        """Subtract :math:`sBA` from ``base.weight`` again (restores :math:`W_0` up to rounding)."""
        if not self.merged:
            raise RuntimeError("unmerge() called on a LoRALinear that is not merged.")
        with torch.no_grad():
            self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, r={self.r}, "
            f"alpha={self.alpha:g}, scaling={self.scaling:.4g}{', rslora' if self.rslora else ''}, merged={self.merged}"
        )


def _matches(name: str, target: str) -> bool:
    """peft's rule for a list of names: the full module name, or its last dotted components."""
    return name == target or name.endswith("." + target)


def apply_lora(
    model: nn.Module,
    *,
    target_modules: Sequence[str],
    r: int,
    alpha: float,
    dropout: float = 0.0,
    rslora: bool = False,
    init: str = "kaiming",
    generator: torch.Generator | None = None,
) -> nn.Module:
    r"""A copy of ``model`` with the named ``nn.Linear`` submodules wrapped in :class:`LoRALinear`.

    Every other parameter of the copy is frozen, so only the ``lora_A``/``lora_B`` pairs train
    (``peft``'s default ``bias="none"``).

    Parameters
    ----------
    model : nn.Module
        Not modified (it is deep-copied first).
    target_modules : sequence of str
        Module names, matched as in ``peft``'s ``LoraConfig(target_modules=[...])``: a module
        is a target if its dotted name equals an entry or ends with ``"." + entry``
        (``"q_proj"`` matches ``"layers.0.attn.q_proj"``). No regular expressions.
    r, alpha, dropout, rslora, init, generator
        As in :class:`LoRALinear` (one ``generator`` draws all the A matrices, in module order).

    Returns
    -------
    nn.Module
        The adapted copy.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``, ``target_modules`` is a plain string or holds
        non-strings, or a matched module is not an ``nn.Linear``.
    ValueError
        If ``target_modules`` is empty or an entry matches no module (typos fail loudly;
        ``peft`` only raises when *no* entry matches), or on bad LoRA hyperparameters.

    Notes
    -----
    ``peft.get_peft_model`` instead modifies the model in place, which saves a copy of the
    weights. See question q08-11.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> lora_net = apply_lora(net, target_modules=["0", "2"], r=2, alpha=4)
    >>> count_parameters(lora_net).trainable == 2 * (8 + 8) + 2 * (8 + 2)
    True
    >>> type(net[0]).__name__, type(lora_net[0]).__name__
    ('Linear', 'LoRALinear')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if isinstance(target_modules, str):
        raise TypeError(
            f"target_modules must be a list of module names, not a string; got {target_modules!r} (try [{target_modules!r}])."
        )
    targets = list(target_modules)
    if not targets:
        raise ValueError("target_modules must name at least one module; got an empty list.")
    if not all(isinstance(t, str) and t for t in targets):
        raise TypeError(f"target_modules must hold non-empty strings; got {targets!r}.")
    _check_hparams(r, alpha, rslora)  # fail before copying a large model
    _check_dropout_init(dropout, init)

    model = copy.deepcopy(model)
    names = [n for n, _ in model.named_modules() if n]
    missing = [t for t in targets if not any(_matches(n, t) for n in names)]
    if missing:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(
            f"target_modules {missing} match no submodule of the model; its nn.Linear modules are {linear}."
        )
    chosen = [n for n in names if any(_matches(n, t) for t in targets)]
    model.requires_grad_(False)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        module = getattr(parent, child)
        if isinstance(module, LoRALinear) or not isinstance(module, nn.Linear):
            raise TypeError(f"target module {name!r} must be an nn.Linear; got {type(module).__name__}.")
        wrapped = LoRALinear(module, r=r, alpha=alpha, dropout=dropout, rslora=rslora, init=init, generator=generator)
        setattr(parent, child, wrapped)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    r"""A copy of ``model`` with every :class:`LoRALinear` replaced by a plain ``nn.Linear``.

    The new layer holds :math:`W_0 + sBA` and the base bias, like ``peft``'s
    ``merge_and_unload()``; the input model is not modified.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    nn.Module
        Same architecture as before :func:`apply_lora`, same function as ``model`` (up to
        rounding), no adapter overhead.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.

    Examples
    --------
    >>> lin = nn.Linear(4, 3)
    >>> plain = merge_lora(nn.Sequential(LoRALinear(lin, r=1, alpha=1)))
    >>> type(plain[0]).__name__, torch.equal(plain[0].weight, lin.weight)  # B = 0: no change
    ('Linear', True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if isinstance(model, LoRALinear):
        return _merged_linear(model)
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, _merged_linear(module))
    return model


def _merged_linear(layer: LoRALinear) -> nn.Linear:
    plain = copy.deepcopy(layer.base)
    with torch.no_grad():
        plain.weight.copy_(layer.merged_weight())
    return plain


class ParamCount(NamedTuple):
    """Trainable and total parameter counts of a model."""

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        """trainable / total (0.0 for a model without parameters)."""
        return self.trainable / self.total if self.total else 0.0


def count_parameters(model: nn.Module) -> ParamCount:
    r"""Count parameters with ``requires_grad`` and all parameters (shared ones once).

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    ParamCount
        ``(trainable, total)``, the numbers ``peft``'s ``get_nb_trainable_parameters()``
        reports for plain (non-quantised) models.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.

    Notes
    -----
    LoRA on a linear layer adds :math:`r(d_{in}+d_{out})` trainable parameters, all of them
    in A and B. See question q08-11.

    Examples
    --------
    >>> count_parameters(LoRALinear(nn.Linear(10, 6), r=2, alpha=2))
    ParamCount(trainable=32, total=98)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    params = list(model.parameters())  # deduplicated by identity
    return ParamCount(sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))
