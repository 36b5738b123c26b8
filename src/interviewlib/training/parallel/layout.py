r"""Records for the layout planner: a model's shape, the hardware (with assumed efficiencies), a layout.

:func:`check_layout` holds every constraint a 3D-parallel layout must meet and names the one a
layout breaks: TP owns whole attention and KV heads and stays inside a node, a pipeline stage
needs at least one layer, tp * pp * dp is the world size, 1F1B needs at least pp micro-batches.
See question q08-15.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..._validation import check_option, check_scalar

__all__ = ["ModelShape", "QWEN25_72B", "Hardware", "H100_SXM_80GB", "ParallelLayout", "check_layout"]

_RECOMPUTE = ("none", "selective", "full")


def _int(v, name, low=1):
    return check_scalar(v, name, kind="int", low=low)


@dataclass(frozen=True)
class ModelShape:
    """Shape of a Llama-style decoder (RMSNorm, GQA, SwiGLU, optional QKV bias)."""

    name: str
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    ffn_hidden: int
    vocab_size: int
    tie_embeddings: bool = False
    qkv_bias: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {type(self.name).__name__}.")
        for f in ("n_layers", "hidden", "n_heads", "n_kv_heads", "ffn_hidden", "vocab_size"):
            _int(getattr(self, f), f)
        if self.hidden % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"hidden must be a multiple of n_heads and n_heads of n_kv_heads; got hidden={self.hidden}, "
                f"n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}."
            )

    @property
    def layer_params(self) -> int:
        """Parameters of one block: Q, K, V (+bias), O, gate/up/down, two RMSNorm weights."""
        h, kv = self.hidden, self.n_kv_heads * self.hidden // self.n_heads
        attn = 2 * h * h + 2 * h * kv + ((h + 2 * kv) if self.qkv_bias else 0)
        return attn + 3 * h * self.ffn_hidden + 2 * h

    @property
    def n_params(self) -> int:
        """All parameters: blocks, final norm, embedding and (untied) LM head."""
        emb = self.vocab_size * self.hidden
        return self.n_layers * self.layer_params + self.hidden + emb * (1 if self.tie_embeddings else 2)


# Released config.json of Qwen/Qwen2.5-72B (Hugging Face Hub); q/k/v have a bias, o_proj not.
QWEN25_72B = ModelShape("Qwen2.5-72B", n_layers=80, hidden=8192, n_heads=64, n_kv_heads=8,
                        ffn_hidden=29568, vocab_size=152064)  # fmt: skip


@dataclass(frozen=True)
class Hardware:
    """GPU and network figures plus the efficiencies the estimate assumes (not measurements)."""

    name: str = "H100-SXM-80GB"
    memory_bytes: float = 80e9  # datasheet "80GB"
    usable_fraction: float = 0.9  # assumed: CUDA context, NCCL buffers, fragmentation take the rest
    gpus_per_node: int = 8
    peak_flops: float = 989e12  # dense BF16
    compute_efficiency: float = 0.5  # assumed share of peak the matmul kernels reach
    intra_node_bandwidth: float = 450e9  # NVLink 4, per direction (900 GB/s bidirectional)
    inter_node_bandwidth: float = 50e9  # one 400 Gb/s NIC per GPU
    comm_efficiency: float = 0.8  # assumed share of link bandwidth a ring collective reaches
    dp_overlap: float = 0.5  # assumed share of DP/ZeRO traffic hidden behind backward compute

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {type(self.name).__name__}.")
        for f in ("memory_bytes", "peak_flops", "intra_node_bandwidth", "inter_node_bandwidth"):
            check_scalar(getattr(self, f), f, low=0, low_inclusive=False)
        for f in ("usable_fraction", "compute_efficiency", "comm_efficiency"):
            check_scalar(getattr(self, f), f, low=0, high=1, low_inclusive=False)
        check_scalar(self.dp_overlap, "dp_overlap", low=0, high=1)
        _int(self.gpus_per_node, "gpus_per_node")


H100_SXM_80GB = Hardware()


@dataclass(frozen=True)
class ParallelLayout:
    """One candidate: degrees, ZeRO stage, micro-batching, sequence length and recomputation."""

    tp: int
    pp: int
    dp: int
    zero_stage: int = 1
    micro_batch: int = 1
    grad_accum: int = 1
    seq_len: int = 8192
    recompute: str = "selective"
    virtual_stages: int = 1

    def __post_init__(self):
        for f in ("tp", "pp", "dp", "micro_batch", "grad_accum", "seq_len", "virtual_stages"):
            _int(getattr(self, f), f)
        if isinstance(self.zero_stage, bool) or self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0, 1, 2 or 3; got {self.zero_stage!r}.")
        check_option(self.recompute, "recompute", _RECOMPUTE)

    @property
    def world_size(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step."""
        return self.dp * self.micro_batch * self.grad_accum

    def __str__(self) -> str:
        v = f"(v{self.virtual_stages})" if self.virtual_stages > 1 else ""
        return (f"TP{self.tp} PP{self.pp}{v} DP{self.dp} ZeRO-{self.zero_stage} "
                f"mb{self.micro_batch}x{self.grad_accum} {self.recompute}")  # fmt: skip


def check_layout(layout: ParallelLayout, model: ModelShape = QWEN25_72B, *, gpus_per_node: int = 8,
                 world_size: int | None = None) -> ParallelLayout:  # fmt: skip
    """Raise ``ValueError`` naming the violated constraint; return the layout if it is valid.

    Examples
    --------
    >>> check_layout(ParallelLayout(tp=8, pp=5, dp=25, grad_accum=20), world_size=1000).world_size
    1000
    >>> check_layout(ParallelLayout(tp=16, pp=1, dp=1))
    Traceback (most recent call last):
    ...
    ValueError: tp must divide n_heads=64 and n_kv_heads=8 (each TP rank owns whole heads); got tp=16.
    """
    if not isinstance(layout, ParallelLayout):
        raise TypeError(f"layout must be a ParallelLayout; got {type(layout).__name__}.")
    if not isinstance(model, ModelShape):
        raise TypeError(f"model must be a ModelShape; got {type(model).__name__}.")
    lay = layout
    g = _int(gpus_per_node, "gpus_per_node")
    if model.n_heads % lay.tp or model.n_kv_heads % lay.tp:
        raise ValueError(f"tp must divide n_heads={model.n_heads} and n_kv_heads={model.n_kv_heads} "
                         f"(each TP rank owns whole heads); got tp={lay.tp}.")  # fmt: skip
    if g % lay.tp:
        raise ValueError(f"tp must divide gpus_per_node={g} (TP stays inside one NVLink node); got tp={lay.tp}.")
    if lay.tp > 1 and lay.seq_len % lay.tp:
        raise ValueError(f"seq_len must be a multiple of tp for sequence parallelism; got {lay.seq_len}, tp={lay.tp}.")
    if lay.pp * lay.virtual_stages > model.n_layers:
        raise ValueError(f"pp * virtual_stages must be <= n_layers={model.n_layers} (a stage needs a layer); "
                         f"got pp={lay.pp}, virtual_stages={lay.virtual_stages}.")  # fmt: skip
    if world_size is not None and _int(world_size, "world_size") != lay.world_size:
        raise ValueError(f"world_size must equal tp*pp*dp; got {world_size} != {lay.tp}*{lay.pp}*{lay.dp}.")
    if lay.pp > 1 and lay.grad_accum < lay.pp:
        raise ValueError(f"the 1F1B schedule needs grad_accum (micro-batches per step) >= pp to fill the pipeline; "
                         f"got grad_accum={lay.grad_accum} < pp={lay.pp}.")  # fmt: skip
    if lay.virtual_stages > 1 and (
        lay.pp == 1 or lay.grad_accum % lay.pp or model.n_layers % (lay.pp * lay.virtual_stages)
    ):
        raise ValueError(f"the interleaved schedule needs pp > 1, grad_accum % pp == 0 and n_layers % (pp * virtual_stages) "
                         f"== 0; got pp={lay.pp}, grad_accum={lay.grad_accum}, virtual_stages={lay.virtual_stages}.")  # fmt: skip
    return lay
