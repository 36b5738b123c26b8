r"""Training memory of a Transformer: model states, ZeRO sharding, activations, temporaries.

Model states follow Rajbhandari et al. (2019): with mixed-precision Adam every parameter
costs 2 bytes (16-bit weight) + 2 (16-bit gradient) + :math:`K = 12` (fp32 master weight,
momentum, variance), i.e. :math:`16\Psi` bytes for :math:`\Psi` parameters, and ZeRO stage
1/2/3 shards the optimizer states / + gradients / + weights over :math:`N_d` data-parallel
ranks. Activations follow Korthikanti et al. (2022, Section 4 and Table 2): a GPT layer
with 16-bit activations and 1-byte dropout masks stores :math:`sbh(34 + 5as/h)` bytes.
All results are bytes (GB = 1e9 bytes, as in both papers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..transformer._checks import check_int

__all__ = [
    "dtype_bytes",
    "bytes_per_param",
    "model_state_bytes",
    "activation_bytes_per_layer",
    "TrainingMemory",
    "training_memory",
]

_DTYPE_BYTES = {
    "float64": 8, "fp64": 8, "float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2,
    "float16": 2, "fp16": 2, "float8": 1, "fp8": 1, "int8": 1, "uint8": 1,
}  # fmt: skip
_MLP_TENSORS = {"gelu": 2, "swiglu": 4}  # (s, b, f)-sized tensors an MLP keeps, see activation_bytes_per_layer
_ATTENTION = ("eager", "flash")
_RECOMPUTE = ("none", "selective", "full")


def dtype_bytes(dtype: Any, name: str = "dtype") -> int:
    """Bytes per element of a dtype given by name (``"bf16"``, ``"float32"``, ...) or ``torch.dtype``.

    Examples
    --------
    >>> dtype_bytes("bf16"), dtype_bytes(torch.float32), dtype_bytes("int8")
    (2, 4, 1)
    """
    if isinstance(dtype, torch.dtype):
        return dtype.itemsize
    if not isinstance(dtype, str):
        raise TypeError(f"{name} must be a dtype name or torch.dtype; got {type(dtype).__name__} {dtype!r}.")
    key = dtype.lower().removeprefix("torch.")
    if key not in _DTYPE_BYTES:
        raise ValueError(f"{name} must be one of {sorted(_DTYPE_BYTES)}; got {dtype!r}.")
    return _DTYPE_BYTES[key]


def bytes_per_param(
    *,
    weight_dtype: Any = "bf16",
    grad_dtype: Any = "bf16",
    master_dtype: Any | None = "fp32",
    optimizer_states: Sequence[Any] = ("fp32", "fp32"),
) -> dict[str, int]:
    r"""Bytes each parameter costs in weights, gradients and optimizer states.

    Parameters
    ----------
    weight_dtype, grad_dtype : str or torch.dtype
        Dtype of the working weights and of the gradients.
    master_dtype : str or torch.dtype or None
        Dtype of a separate master copy kept by the optimizer (mixed precision), or
        None when the working weights are updated directly (plain fp32 training).
    optimizer_states : sequence of dtypes
        One entry per state tensor: ``("fp32", "fp32")`` for Adam/AdamW's :math:`m, v`,
        ``("fp32",)`` for SGD with momentum, ``()`` for plain SGD, ``("int8", "int8")``
        for an 8-bit Adam (ignoring its small per-block scales).

    Returns
    -------
    dict of str to int
        ``weights``, ``gradients``, ``optimizer_states`` (master copy + states, the
        :math:`K` of the ZeRO paper) and ``total``.

    Notes
    -----
    Defaults are the ZeRO paper's mixed-precision Adam: :math:`2 + 2 + 12 = 16`. Plain
    fp32 AdamW is :math:`4 + 4 + 8 = 16` too; Megatron-LM keeps fp32 gradients
    (:math:`2 + 4 + 12 = 18`). See question q08-10.

    Examples
    --------
    >>> bytes_per_param()
    {'weights': 2, 'gradients': 2, 'optimizer_states': 12, 'total': 16}
    >>> bytes_per_param(weight_dtype="fp32", grad_dtype="fp32", master_dtype=None)["total"]
    16
    """
    w = dtype_bytes(weight_dtype, "weight_dtype")
    g = dtype_bytes(grad_dtype, "grad_dtype")
    master = 0 if master_dtype is None else dtype_bytes(master_dtype, "master_dtype")
    if isinstance(optimizer_states, (str, torch.dtype)) or not isinstance(optimizer_states, Sequence):
        raise TypeError(
            f"optimizer_states must be a sequence of dtypes, e.g. ('fp32', 'fp32'); got {optimizer_states!r}."
        )
    k = master + sum(dtype_bytes(d, f"optimizer_states[{i}]") for i, d in enumerate(optimizer_states))
    return {"weights": w, "gradients": g, "optimizer_states": k, "total": w + g + k}


def _check_stage(zero_stage: Any) -> int:
    if isinstance(zero_stage, bool) or zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3; got {zero_stage!r}.")
    return int(zero_stage)


def model_state_bytes(
    n_params: int,
    *,
    zero_stage: int = 0,
    dp_size: int = 1,
    tensor_parallel: int = 1,
    **dtypes: Any,
) -> dict[str, float]:
    r"""Per-GPU bytes of weights, gradients and optimizer states, optionally ZeRO-sharded.

    Parameters
    ----------
    n_params : int
        Number of parameters :math:`\Psi`.
    zero_stage : {0, 1, 2, 3}
        0: plain data parallelism (every rank holds everything). 1 (:math:`P_{os}`):
        optimizer states sharded over ``dp_size`` ranks; 2 (:math:`P_{os+g}`): also
        gradients; 3 (:math:`P_{os+g+p}`, FSDP's full sharding): also weights.
    dp_size : int
        Data-parallel degree :math:`N_d`.
    tensor_parallel : int
        Tensor-parallel degree :math:`t`; every state is divided by it (an approximation:
        LayerNorm weights and biases are in fact replicated).
    **dtypes
        Keyword arguments of :func:`bytes_per_param`.

    Returns
    -------
    dict of str to float
        ``weights``, ``gradients``, ``optimizer_states``, ``total`` (bytes per GPU).

    Raises
    ------
    ValueError
        If a size is < 1, ``zero_stage`` is unknown or a dtype name is unknown.

    Notes
    -----
    Memory per GPU (Rajbhandari et al. 2019, Section 5 and Figure 1):
    :math:`(2+2+K)\Psi` baseline, :math:`4\Psi + K\Psi/N_d`, :math:`2\Psi + (2+K)\Psi/N_d`,
    :math:`(4+K)\Psi/N_d`. Stage 3 still all-gathers each layer's weights while it runs
    (not counted here). See question q08-10.

    References
    ----------
    .. [1] Rajbhandari, Rasley, Ruwase and He, "ZeRO: Memory Optimizations Toward Training
       Trillion Parameter Models", SC 2020, arXiv:1910.02054.

    Examples
    --------
    >>> [round(model_state_bytes(7_500_000_000, zero_stage=s, dp_size=64)["total"] / 1e9, 2) for s in range(4)]
    [120.0, 31.41, 16.64, 1.88]
    """
    psi = check_int(n_params, "n_params", low=1)
    stage = _check_stage(zero_stage)
    n_d = check_int(dp_size, "dp_size", low=1)
    t = check_int(tensor_parallel, "tensor_parallel", low=1)
    per = bytes_per_param(**dtypes)
    shard = {
        "weights": n_d if stage >= 3 else 1,
        "gradients": n_d if stage >= 2 else 1,
        "optimizer_states": n_d if stage >= 1 else 1,
    }
    out = {key: per[key] * psi / (shard[key] * t) for key in shard}
    out["total"] = sum(out.values())
    return out


def activation_bytes_per_layer(
    seq_len: int,
    micro_batch: int,
    hidden: int,
    n_heads: int,
    *,
    ffn_hidden: int | None = None,
    n_kv_heads: int | None = None,
    mlp: str = "gelu",
    activation_dtype: Any = "bf16",
    dropout: bool = True,
    attention: str = "eager",
    recompute: str = "none",
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
) -> dict[str, float]:
    r"""Bytes one Transformer layer keeps for backward (Korthikanti et al. 2022).

    Parameters
    ----------
    seq_len, micro_batch, hidden, n_heads : int
        :math:`s, b, h, a`.
    ffn_hidden : int, optional
        MLP width :math:`f` (default :math:`4h`).
    n_kv_heads : int, optional
        Key/value heads :math:`a_{kv}` of grouped-query attention (default ``n_heads``,
        i.e. multi-head attention): K and V are :math:`a_{kv}/a` the size of Q.
    mlp : {"gelu", "swiglu"}
        ``gelu``: ``W2 gelu(W1 x)`` keeps 2 tensors of width :math:`f` (GELU input, second
        matmul input). ``swiglu``: ``W2 (silu(W1 x) * W3 x)`` keeps 4 (gate, silu output,
        up, product).
    activation_dtype : str or torch.dtype
        Element size :math:`e` of stored activations (2 in the paper).
    dropout : bool
        Count the dropout masks (1 byte per element) and the attention-dropout output.
    attention : {"eager", "flash"}
        ``flash``: a fused kernel that never stores the :math:`a s^2 b` score matrices.
    recompute : {"none", "selective", "full"}
        ``selective``: recompute the attention core (:math:`QK^\top`, softmax, dropout,
        times :math:`V`); ``full``: store only the layer input and recompute the rest.
    tensor_parallel : int
        Tensor-parallel degree :math:`t` (must divide ``n_heads``, ``n_kv_heads`` and
        ``ffn_hidden``).
    sequence_parallel : bool
        Split the LayerNorm/dropout regions along the sequence as well (needs
        ``seq_len % t == 0``).

    Returns
    -------
    dict of str to float
        ``norms``, ``attention_linear`` (inputs of the QKV and output projections, Q, K,
        V), ``attention_core``, ``mlp``, ``dropout_masks``, ``layer_input`` (only with
        full recomputation) and ``total``.

    Raises
    ------
    ValueError
        On sizes < 1, ``hidden % n_heads != 0``, ``n_heads % n_kv_heads != 0``, an
        unknown option, or a tensor-parallel degree that does not divide the heads, the
        key/value heads, the MLP width or (with sequence parallelism) the sequence.
    TypeError
        If ``dropout`` or ``sequence_parallel`` is not a bool.

    Notes
    -----
    With :math:`e = 2`, :math:`f = 4h`, GELU and dropout, the terms are Korthikanti et
    al.'s: LayerNorm inputs :math:`4sbh`; QKV input :math:`2sbh`, Q and K :math:`4sbh`,
    V :math:`2sbh`, output-projection input :math:`2sbh`; scores/softmax :math:`2as^2b`,
    its dropout mask :math:`as^2b` and output :math:`2as^2b`; MLP :math:`2sbh + 16sbh`;
    two dropout masks :math:`2sbh`. Sum: :math:`sbh(34 + 5as/h)`. With tensor
    parallelism the LayerNorm, QKV-input, MLP-input and dropout-mask terms
    (:math:`10sbh`) are replicated and the rest is divided by :math:`t`:
    :math:`sbh(10 + 24/t + 5as/(ht))`; with sequence parallelism everything is divided:
    :math:`sbh(34/t + 5as/(ht))`; selective recomputation removes the :math:`5as/h` term;
    full recomputation keeps the :math:`2sbh` layer input (divided by :math:`t` with
    sequence parallelism). FlashAttention also removes the :math:`5as/h` term (it keeps
    a logsumexp of :math:`abs` fp32 values, omitted here like the LayerNorm statistics,
    :math:`O(sb)` terms the paper ignores too). With grouped-query attention K and V are
    :math:`2sbh\,a_{kv}/a` each instead of :math:`2sbh`. See questions q08-05, q08-06,
    q08-10 and q08-15.

    References
    ----------
    .. [1] Korthikanti, Casper, Lym, McAfee, Andersch, Shoeybi and Catanzaro, "Reducing
       Activation Recomputation in Large Transformer Models", MLSys 2023,
       arXiv:2205.05198 (Section 4.1, Table 2).

    Examples
    --------
    >>> s, b, h, a = 2048, 1, 4096, 32
    >>> activation_bytes_per_layer(s, b, h, a)["total"] == s * b * h * (34 + 5 * a * s / h)
    True
    >>> activation_bytes_per_layer(s, b, h, a, recompute="selective", tensor_parallel=8,
    ...                            sequence_parallel=True)["total"] == s * b * h * 34 / 8
    True
    """
    s = check_int(seq_len, "seq_len", low=1)
    b = check_int(micro_batch, "micro_batch", low=1)
    h = check_int(hidden, "hidden", low=1)
    a = check_int(n_heads, "n_heads", low=1)
    if h % a:
        raise ValueError(f"hidden must be divisible by n_heads; got hidden={h}, n_heads={a}.")
    f = 4 * h if ffn_hidden is None else check_int(ffn_hidden, "ffn_hidden", low=1)
    kv = a if n_kv_heads is None else check_int(n_kv_heads, "n_kv_heads", low=1)
    if a % kv:
        raise ValueError(f"n_heads must be a multiple of n_kv_heads; got n_heads={a}, n_kv_heads={kv}.")
    if mlp not in _MLP_TENSORS:
        raise ValueError(f"mlp must be one of {sorted(_MLP_TENSORS)}; got {mlp!r}.")
    e = dtype_bytes(activation_dtype, "activation_dtype")
    for flag, fname in ((dropout, "dropout"), (sequence_parallel, "sequence_parallel")):
        if not isinstance(flag, bool):
            raise TypeError(f"{fname} must be a bool; got {type(flag).__name__}.")
    if attention not in _ATTENTION:
        raise ValueError(f"attention must be one of {list(_ATTENTION)}; got {attention!r}.")
    if recompute not in _RECOMPUTE:
        raise ValueError(f"recompute must be one of {list(_RECOMPUTE)}; got {recompute!r}.")
    t = check_int(tensor_parallel, "tensor_parallel", low=1)
    if a % t or kv % t or f % t:
        raise ValueError(
            "tensor_parallel must divide n_heads and ffn_hidden (and n_kv_heads); "
            f"got t={t}, n_heads={a}, n_kv_heads={kv}, ffn_hidden={f}."
        )
    if sequence_parallel and s % t:
        raise ValueError(f"sequence_parallel needs seq_len % tensor_parallel == 0; got seq_len={s}, t={t}.")
    return _activation_core(s, b, h, a, f, mlp, e, dropout, attention, recompute, t, sequence_parallel, kv / a)


def _activation_core(s, b, h, a, f, mlp, e, dropout, attention, recompute, t, sp, kv_ratio=1.0) -> dict[str, float]:
    sbh = s * b * h
    rep = t if sp else 1  # divisor of the regions tensor parallelism alone leaves replicated
    zero = dict.fromkeys(("norms", "attention_linear", "attention_core", "mlp", "dropout_masks"), 0.0)
    if recompute == "full":
        out = {**zero, "layer_input": e * sbh / rep}
    else:
        core = 0.0
        if attention == "eager" and recompute == "none":
            core = (e + ((1 + e) if dropout else 0)) * a * s * s * b / t  # scores, (mask, dropout out)
        out = {
            "norms": 2 * e * sbh / rep,  # inputs of the two LayerNorms
            "attention_linear": e * sbh / rep + (2 + 2 * kv_ratio) * e * sbh / t,  # QKV input | Q, K, V, out-proj in
            "attention_core": core,
            "mlp": e * sbh / rep + _MLP_TENSORS[mlp] * e * s * b * f / t,  # first matmul input | width-f tensors
            "dropout_masks": (2 * sbh / rep) if dropout else 0.0,  # after attention and after the MLP
            "layer_input": 0.0,
        }
    out["total"] = sum(out.values())
    return out


@dataclass(frozen=True)
class TrainingMemory:
    """Per-GPU training memory in bytes, by kind (see :func:`training_memory`)."""

    weights: float
    gradients: float
    optimizer_states: float
    activations: float
    temporaries: float
    detail: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def model_states(self) -> float:
        """Weights + gradients + optimizer states."""
        return self.weights + self.gradients + self.optimizer_states

    @property
    def total(self) -> float:
        """Sum of every kind: the peak if everything is alive at once."""
        return self.model_states + self.activations + self.temporaries

    def as_dict(self) -> dict[str, float]:
        """The five kinds plus ``model_states`` and ``total``."""
        keys = ("weights", "gradients", "optimizer_states", "activations", "temporaries", "model_states", "total")
        return {k: getattr(self, k) for k in keys}


def training_memory(
    n_params: int,
    *,
    n_layers: int,
    hidden: int,
    n_heads: int,
    seq_len: int,
    micro_batch: int,
    vocab_size: int,
    ffn_hidden: int | None = None,
    n_kv_heads: int | None = None,
    mlp: str = "gelu",
    dropout: bool = True,
    attention: str = "eager",
    recompute: str = "none",
    activation_dtype: Any = "bf16",
    zero_stage: int = 0,
    dp_size: int = 1,
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
    comm_buffer_bytes: int = 0,
    **dtypes: Any,
) -> TrainingMemory:
    r"""Estimate the peak memory per GPU of one training step of a decoder-only Transformer.

    Parameters
    ----------
    n_params : int
        Total parameters (count them from the model, embeddings included).
    n_layers, hidden, n_heads, seq_len, micro_batch, vocab_size : int
        :math:`L, h, a, s, b, v`.
    ffn_hidden, n_kv_heads, mlp, dropout, attention, recompute, activation_dtype, tensor_parallel, sequence_parallel
        As in :func:`activation_bytes_per_layer`.
    zero_stage, dp_size
        As in :func:`model_state_bytes`.
    comm_buffer_bytes : int
        Gradient-communication buffers (e.g. DDP buckets), added to the temporaries.
    **dtypes
        ``weight_dtype``, ``grad_dtype``, ``master_dtype``, ``optimizer_states`` of
        :func:`bytes_per_param` (default: mixed-precision AdamW, 16 bytes/param).

    Returns
    -------
    TrainingMemory
        ``activations`` = :math:`L` layers + embedding (8-byte token ids, its dropout
        mask) + output layer (final-norm and head inputs, fp32 log-probabilities
        :math:`4sbv/t` for the loss) + with full recomputation one layer's full
        activations, which exist while that layer is recomputed. ``temporaries`` = the
        fp32 gradient of the logits (:math:`4sbv/t`), alive with all activations at the
        start of backward, + ``comm_buffer_bytes``. ``detail`` has the parts.

    Raises
    ------
    ValueError, TypeError
        As the functions it calls.

    Notes
    -----
    The sum is the peak when everything is alive at once, which is the case with
    gradient accumulation (gradients persist while the next micro-batch's activations
    build up); with ``zero_grad(set_to_none=True)`` and no accumulation the true peak
    can be lower by up to the gradients. Not included: the allocator's fragmentation
    (reserved minus allocated memory), the CUDA context (hundreds of MB), ZeRO-3's
    gathered layer weights, optimizer-step scratch (``foreach`` implementations
    materialise temporaries of a parameter group's size). The output-layer accounting
    follows Megatron-LM's ``theoretical_memory_usage.py``. See question q08-10.

    References
    ----------
    .. [1] Rajbhandari et al., "ZeRO", arXiv:1910.02054.
    .. [2] Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
       Models", arXiv:2205.05198.

    Examples
    --------
    >>> m = training_memory(6_738_415_616, n_layers=32, hidden=4096, n_heads=32, seq_len=4096,
    ...                     micro_batch=1, vocab_size=32000, ffn_hidden=11008, mlp="swiglu",
    ...                     dropout=False, attention="flash")
    >>> round(m.model_states / 1e9, 1), round(m.activations / 1e9, 1)
    (107.8, 20.7)
    """
    psi = check_int(n_params, "n_params", low=1)
    L = check_int(n_layers, "n_layers", low=1)
    v = check_int(vocab_size, "vocab_size", low=1)
    comm = check_int(comm_buffer_bytes, "comm_buffer_bytes", low=0)
    states = model_state_bytes(psi, zero_stage=zero_stage, dp_size=dp_size, tensor_parallel=tensor_parallel, **dtypes)
    opts = dict(
        ffn_hidden=ffn_hidden, n_kv_heads=n_kv_heads, mlp=mlp, activation_dtype=activation_dtype, dropout=dropout,
        attention=attention,
        tensor_parallel=tensor_parallel, sequence_parallel=sequence_parallel,
    )  # fmt: skip
    layer = activation_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, recompute=recompute, **opts)
    s, b, h, t = int(seq_len), int(micro_batch), int(hidden), int(tensor_parallel)
    e = dtype_bytes(activation_dtype, "activation_dtype")
    rep = t if sequence_parallel else 1
    recompute_buffer = 0.0
    if recompute == "full":
        recompute_buffer = activation_bytes_per_layer(seq_len, micro_batch, hidden, n_heads, **opts)["total"]
    detail = {
        "layers": L * layer["total"],
        "embedding": 8 * s * b + ((s * b * h / rep) if dropout else 0.0),
        "output_layer": 2 * e * s * b * h / rep + 4 * s * b * v / t,
        "recompute_buffer": recompute_buffer,
        "logits_grad": 4 * s * b * v / t,
        "comm_buffer": float(comm),
    }
    activations = detail["layers"] + detail["embedding"] + detail["output_layer"] + recompute_buffer
    return TrainingMemory(
        weights=states["weights"],
        gradients=states["gradients"],
        optimizer_states=states["optimizer_states"],
        activations=activations,
        temporaries=detail["logits_grad"] + detail["comm_buffer"],
        detail=detail,
    )
