r"""A Llama-style decoder-only LM: RMSNorm, RoPE, grouped-query (or latent) attention, SwiGLU.

Chapter 7's :class:`TransformerLM` is the GPT-2 recipe (learned positions, LayerNorm, GELU).
This sibling is the recipe of Llama 2/3, Mistral and Qwen2 (and, with ``attention="mla"``,
DeepSeek-V2/V3's attention), with a KV cache for incremental decoding. Weights load from a
Hugging Face ``LlamaForCausalLM`` (:func:`from_hf_llama`), which is how the tests prove it
computes the same function. Chapters 9 and 10 reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._checks import check_int, check_mask, check_tensor
from .gqa import GroupedQueryAttention
from .kv_cache import KVCache
from .rmsnorm import RMSNorm, SwiGLU
from .rope import RotaryEmbedding

__all__ = ["DecoderConfig", "DecoderBlock", "DecoderLM", "from_hf_llama", "convert_kv_heads", "from_hf_deepseek_v3"]


@dataclass(frozen=True)
class DecoderConfig:
    r"""Shape and options of a :class:`DecoderLM`.

    Parameters
    ----------
    vocab_size, d_model, n_layers, n_heads : int
        Vocabulary, width, depth, query heads.
    n_kv_heads : int, optional
        Key/value heads (default ``n_heads``; 1 = MQA). Must divide ``n_heads``.
    head_dim : int, optional
        Per-head width (default ``d_model // n_heads``).
    d_ff : int, optional
        SwiGLU hidden width (default: ``8 d / 3`` rounded up to a multiple of 8).
    max_len : int
        Longest sequence (prompt + generation) the model accepts.
    rope_base : float
        RoPE base :math:`\theta`.
    rope_dim : int, optional
        Rotated dims per head (default ``head_dim``; smaller = partial RoPE; 0 = NoPE).
    rope_inv_freq : torch.Tensor, optional
        Frequencies from a scaling transform (question q08-04); overrides ``rope_base``.
    rope_attention_scaling : float
        cos/sin multiplier of YaRN/LongRoPE (1 otherwise).
    norm_eps : float
        RMSNorm epsilon.
    tie_embeddings : bool
        Share the input embedding and the output head.
    attention_bias : bool
        Biases on q/k/v projections (Qwen2).
    attention : {"gqa", "mla"}
        Grouped-query attention, or DeepSeek's multi-head latent attention.
    mla : dict
        Keyword arguments of :class:`~interviewlib.transformer.mla.MultiHeadLatentAttention`
        when ``attention="mla"``.
    """

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    d_ff: int | None = None
    max_len: int = 2048
    rope_base: float = 10000.0
    rope_dim: int | None = None
    rope_inv_freq: torch.Tensor | None = None
    rope_attention_scaling: float = 1.0
    norm_eps: float = 1e-6
    tie_embeddings: bool = False
    attention_bias: bool = False
    attention: str = "gqa"
    mla: dict[str, Any] = field(default_factory=dict)

    def resolved_head_dim(self) -> int:
        """``head_dim``, or ``d_model // n_heads`` when it is not set."""
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    def resolved_d_ff(self) -> int:
        """``d_ff``, or Llama's ``8d/3`` rounded up to a multiple of 8."""
        return self.d_ff if self.d_ff is not None else -(-8 * self.d_model // 3 // 8) * 8


class DecoderBlock(nn.Module):
    r"""Pre-norm block: ``x += attn(norm(x)); x += ffn(norm(x))``.

    Parameters
    ----------
    config : DecoderConfig
        Model options.

    Examples
    --------
    >>> blk = DecoderBlock(DecoderConfig(vocab_size=10, d_model=16, n_layers=1, n_heads=4, n_kv_heads=2))
    >>> blk(torch.randn(2, 3, 16), None).shape
    torch.Size([2, 3, 16])
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        if not isinstance(config, DecoderConfig):
            raise TypeError(f"config must be a DecoderConfig; got {type(config).__name__}.")
        c = config
        self.attn_norm = RMSNorm(c.d_model, eps=c.norm_eps)
        if c.attention == "gqa":
            self.attn = GroupedQueryAttention(
                c.d_model, n_heads=c.n_heads, n_kv_heads=c.n_kv_heads, head_dim=c.head_dim, bias=c.attention_bias
            )
        else:  # "mla", validated by DecoderLM
            from .mla import MultiHeadLatentAttention  # imported here: only MLA models need it

            self.attn = MultiHeadLatentAttention(c.d_model, n_heads=c.n_heads, **c.mla)
        self.ffn_norm = RMSNorm(c.d_model, eps=c.norm_eps)
        self.ffn = SwiGLU(c.d_model, c.resolved_d_ff())

    def forward(self, x, rope, *, mask=None, cache=None, layer_idx: int = 0) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model); see :meth:`~interviewlib.transformer.gqa.GroupedQueryAttention.forward`."""
        x = x + self.attn(self.attn_norm(x), rope, mask=mask, cache=cache, layer_idx=layer_idx)  # (B, T, d)
        return x + self.ffn(self.ffn_norm(x))  # (B, T, d)


class DecoderLM(nn.Module):
    r"""Decoder-only language model with RoPE, GQA/MLA, RMSNorm, SwiGLU and a KV cache.

    Parameters
    ----------
    config : DecoderConfig
        Model options (see :class:`DecoderConfig`).

    Attributes
    ----------
    embed : nn.Embedding
        Token embedding (vocab_size, d_model).
    blocks : nn.ModuleList of DecoderBlock
        Index 0 nearest the input.
    norm : RMSNorm
        Final norm before the head.
    head : nn.Linear
        Output projection (shares ``embed.weight`` when ``tie_embeddings``).

    Raises
    ------
    ValueError
        On invalid sizes (heads not divisible by KV heads, odd RoPE dims, ...).

    Notes
    -----
    Initialisation: ``N(0, 0.02^2)`` for every linear and embedding weight, as in
    ``LlamaPreTrainedModel``. Incremental decoding: pass a :class:`KVCache`; the model
    writes each layer's keys/values and advances the cache by ``T`` after the pass, and
    positions default to ``cache.length + arange(T)``. See questions q08-02, q08-08, q08-09.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> cfg = DecoderConfig(vocab_size=11, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=16)
    >>> lm = DecoderLM(cfg)
    >>> idx = torch.randint(0, 11, (2, 5))
    >>> full = lm(idx)
    >>> cache = lm.new_cache()
    >>> step = torch.cat([lm(idx[:, :3], cache=cache), lm(idx[:, 3:4], cache=cache), lm(idx[:, 4:], cache=cache)], 1)
    >>> torch.allclose(full, step, atol=1e-5)
    True
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        if not isinstance(config, DecoderConfig):
            raise TypeError(f"config must be a DecoderConfig; got {type(config).__name__}.")
        c = config
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_len"):
            check_int(getattr(c, name), name, low=1)
        if c.attention not in ("gqa", "mla"):
            raise ValueError(f"attention must be 'gqa' or 'mla'; got {c.attention!r}.")
        if c.attention == "mla":
            rope_dim = c.mla.get("qk_rope_head_dim", 64)
        else:
            rope_dim = c.resolved_head_dim() if c.rope_dim is None else check_int(c.rope_dim, "rope_dim")
            if rope_dim > c.resolved_head_dim():
                raise ValueError(f"rope_dim must be <= head_dim={c.resolved_head_dim()}; got {rope_dim}.")
        if rope_dim % 2:
            raise ValueError(f"the RoPE dimension must be even (RoPE rotates pairs); got {rope_dim}.")
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.rope = (
            RotaryEmbedding(
                rope_dim, base=c.rope_base, inv_freq=c.rope_inv_freq, attention_scaling=c.rope_attention_scaling
            )
            if rope_dim
            else None
        )
        self.blocks = nn.ModuleList(DecoderBlock(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.d_model, eps=c.norm_eps)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        if c.tie_embeddings:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def new_cache(self, max_len: int | None = None) -> KVCache:
        """An empty :class:`KVCache` for this model (capacity ``max_len``, default the model's)."""
        return KVCache(n_layers=self.config.n_layers, max_len=self.config.max_len if max_len is None else max_len)

    def forward(
        self,
        idx: torch.Tensor,
        *,
        position_ids: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        r"""Next-token logits for token ids ``idx``.

        Parameters
        ----------
        idx : torch.Tensor, shape (B, T), integer
            Token ids of the new positions.
        position_ids : torch.Tensor, optional, shape (T,) or (B, T)
            RoPE positions (default ``past + arange(T)``); packed sequences pass positions
            that restart at 0 for every document.
        mask : torch.Tensor, optional, bool, broadcastable to (B, 1, T, S)
            Extra attention restriction on top of causality (True = attend), e.g. the
            block-diagonal mask of packed documents or key padding.
        cache : KVCache, optional
            Past keys/values, updated in place and advanced by ``T``.

        Returns
        -------
        torch.Tensor, shape (B, T, vocab_size)

        Raises
        ------
        TypeError, ValueError
            On non-integer ids, ids out of the vocabulary, a sequence longer than
            ``max_len``, a cache with another number of layers or one that would overflow,
            or a mask that does not broadcast to (B, H, T, S). All are checked before the
            cache is written, so a failed call leaves it unchanged.
        """
        check_tensor(idx, "idx", ndim=2, layout="(B, T)", floating=False)
        if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
            raise ValueError(f"idx must hold integer token ids (torch.long); got dtype {idx.dtype}.")
        B, T = idx.shape
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.config.vocab_size):
            raise ValueError(f"idx must hold token ids in [0, {self.config.vocab_size}); got [{idx.min()}, {idx.max()}].")
        past = 0
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise TypeError(f"cache must be a KVCache; got {type(cache).__name__}.")
            if cache.n_layers != self.config.n_layers:
                raise ValueError(
                    f"cache must have n_layers={self.config.n_layers} (use model.new_cache()); got {cache.n_layers}."
                )
            past = cache.length
            if past + T > cache.max_len:
                raise ValueError(
                    f"KV cache is full: max_len={cache.max_len}, already {past} positions, got {T} more."
                )
        if past + T > self.config.max_len:
            raise ValueError(
                f"sequence length must be <= max_len={self.config.max_len}; got {past} cached + {T} new positions."
            )
        if position_ids is None:
            position_ids = torch.arange(past, past + T, device=idx.device)  # (T,)
        else:
            check_tensor(position_ids, "position_ids", floating=False)
            if position_ids.shape not in ((T,), (B, T)):
                raise ValueError(f"position_ids must be (T,) or (B, T) = {(B, T)}; got {tuple(position_ids.shape)}.")
        if mask is not None:
            check_mask(mask, "mask", (B, self.config.n_heads, T, past + T), self.embed.weight.dtype)
        x = self.embed(idx)  # (B, T, d)
        rope = None if self.rope is None else self.rope(position_ids, dtype=x.dtype)  # 2 x (T or B,T, d_rot)
        for i, blk in enumerate(self.blocks):
            x = blk(x, rope, mask=mask, cache=cache, layer_idx=i)  # (B, T, d)
        if cache is not None:
            cache.advance(T)
        return self.head(self.norm(x))  # (B, T, V)


def _rope_from_hf(config) -> dict[str, Any]:
    params = dict(getattr(config, "rope_parameters", None) or {})
    rope_type = params.get("rope_type", "default")
    base = float(params.get("rope_theta", getattr(config, "rope_theta", 10000.0)))
    if rope_type == "default":
        return {"rope_base": base}
    from .rope_scaling import hf_rope_parameters  # the q08-04 transforms

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    inv_freq, scaling = hf_rope_parameters(params, head_dim, config.max_position_embeddings)
    return {"rope_base": base, "rope_inv_freq": inv_freq, "rope_attention_scaling": scaling}


def from_hf_llama(hf_model: nn.Module) -> DecoderLM:
    r"""Build a :class:`DecoderLM` with the weights of a Hugging Face Llama-family model.

    Parameters
    ----------
    hf_model : transformers.LlamaForCausalLM (or Qwen2/Mistral, same layout)
        A model built from a config (random weights are fine; nothing is downloaded).

    Returns
    -------
    DecoderLM
        Same dtype as ``hf_model``; its logits equal the reference's.

    Raises
    ------
    TypeError
        If ``hf_model`` does not have the Llama module layout.
    ValueError
        If it uses a feature this model lacks: an output-projection or MLP bias (Llama's
        ``attention_bias=True`` / ``mlp_bias=True``) or an activation other than SiLU.

    Notes
    -----
    Name map: ``embed_tokens -> embed``, ``layers[i].self_attn.{q,k,v,o}_proj -> blocks[i].attn``,
    ``mlp.{gate,up,down}_proj -> ffn``, ``input_layernorm -> attn_norm``,
    ``post_attention_layernorm -> ffn_norm``, ``norm``, ``lm_head -> head``. Both use the
    rotate-half RoPE layout, so no weight permutation is needed. A sliding-window model
    (Mistral, Qwen2 with ``use_sliding_window``) equals full causal attention up to the window,
    so ``max_len`` is capped at ``sliding_window``. See question q08-08.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> _ = torch.manual_seed(0)
    >>> hf = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=40,
    ...     num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2)).eval()
    >>> ours = from_hf_llama(hf)
    >>> idx = torch.randint(0, 32, (1, 6))
    >>> torch.allclose(ours(idx), hf(idx).logits, atol=1e-5)
    True
    """
    cfg = getattr(hf_model, "config", None)
    inner = getattr(hf_model, "model", None)
    if cfg is None or inner is None or not hasattr(inner, "layers") or not hasattr(hf_model, "lm_head"):
        raise TypeError(f"hf_model must be a Hugging Face *ForCausalLM with the Llama layout; got {type(hf_model).__name__}.")
    attn0, mlp0 = inner.layers[0].self_attn, inner.layers[0].mlp
    if attn0.o_proj.bias is not None or mlp0.gate_proj.bias is not None:
        raise ValueError(
            "hf_model has biases on o_proj or the MLP (attention_bias=True / mlp_bias=True); DecoderLM supports "
            "q/k/v biases only (Qwen2's layout)."
        )
    act = getattr(cfg, "hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"hf_model must use the SiLU (SwiGLU) activation; got hidden_act={act!r}.")
    max_len = cfg.max_position_embeddings
    if getattr(cfg, "sliding_window", None):
        max_len = min(max_len, cfg.sliding_window)  # exact only while the window covers the sequence
    config = DecoderConfig(
        vocab_size=cfg.vocab_size,
        d_model=cfg.hidden_size,
        n_layers=cfg.num_hidden_layers,
        n_heads=cfg.num_attention_heads,
        n_kv_heads=cfg.num_key_value_heads,
        head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads,
        d_ff=cfg.intermediate_size,
        max_len=max_len,
        norm_eps=cfg.rms_norm_eps,
        tie_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)),
        attention_bias=attn0.q_proj.bias is not None,
        **_rope_from_hf(cfg),
    )
    def copy_attention(attn: GroupedQueryAttention, ref: nn.Module) -> None:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            getattr(attn, name).load_state_dict(getattr(ref, name).state_dict())

    return _load_weights(DecoderLM(config).to(hf_model.lm_head.weight.dtype), hf_model, copy_attention)


def _load_weights(ours: DecoderLM, hf_model: nn.Module, copy_attention) -> DecoderLM:
    """Copy what every Llama-family layout shares (embedding, SwiGLU MLPs, norms, head) into ``ours``;
    ``copy_attention(ours_attn, hf_attn)`` copies each layer's attention."""
    inner = hf_model.model
    with torch.no_grad():
        ours.embed.weight.copy_(inner.embed_tokens.weight)
        for blk, layer in zip(ours.blocks, inner.layers):
            copy_attention(blk.attn, layer.self_attn)
            for name in ("gate_proj", "up_proj", "down_proj"):
                getattr(blk.ffn, name).weight.copy_(getattr(layer.mlp, name).weight)
            blk.attn_norm.weight.copy_(layer.input_layernorm.weight)
            blk.ffn_norm.weight.copy_(layer.post_attention_layernorm.weight)
        ours.norm.weight.copy_(inner.norm.weight)
        if not ours.config.tie_embeddings:
            ours.head.weight.copy_(hf_model.lm_head.weight)
    return ours.eval()


def convert_kv_heads(model: DecoderLM, n_kv_heads: int) -> DecoderLM:
    r"""A copy of a GQA/MHA :class:`DecoderLM` with fewer KV heads, each the mean of its group.

    Parameters
    ----------
    model : DecoderLM
        Source model with ``attention="gqa"`` (unchanged).
    n_kv_heads : int
        Target KV heads; must divide the source's.

    Returns
    -------
    DecoderLM
        Every other weight copied; the KV projections mean-pooled by
        :func:`~interviewlib.transformer.gqa.mha_to_gqa` (Ainslie et al. 2023's checkpoint
        conversion, to be followed by a short "up-training"). See question q08-08.

    Examples
    --------
    >>> mha = DecoderLM(DecoderConfig(vocab_size=9, d_model=16, n_layers=1, n_heads=4))
    >>> convert_kv_heads(mha, 1).config.n_kv_heads
    1
    """
    from dataclasses import replace

    from .gqa import mha_to_gqa

    if not isinstance(model, DecoderLM) or model.config.attention != "gqa":
        raise TypeError(f"model must be a DecoderLM with attention='gqa'; got {type(model).__name__}.")
    new = DecoderLM(replace(model.config, n_kv_heads=n_kv_heads)).to(model.head.weight.dtype)
    src = {k: v for k, v in model.state_dict().items() if ".attn.k_proj" not in k and ".attn.v_proj" not in k}
    missing, _ = new.load_state_dict(src, strict=False)
    if any(".attn.k_proj" not in k and ".attn.v_proj" not in k for k in missing):  # cannot happen: same config
        raise RuntimeError(f"unexpected missing weights {missing}")
    for blk_new, blk in zip(new.blocks, model.blocks):
        blk_new.attn = mha_to_gqa(blk.attn, n_kv_heads)
    return new.train(model.training)


def _rope_rows_to_half(w: torch.Tensor, n_groups: int, d_pass: int, d_rot: int, perm: torch.Tensor) -> torch.Tensor:
    """Reorder the RoPE output rows of a projection weight (n_groups (d_pass + d_rot), in)."""
    w = w.view(n_groups, d_pass + d_rot, w.shape[-1])  # (G, d_pass + d_rot, in)
    return torch.cat([w[:, :d_pass], w[:, d_pass:][:, perm]], dim=1).reshape(-1, w.shape[-1])


def from_hf_deepseek_v3(hf_model: nn.Module, *, absorb: bool = False) -> DecoderLM:
    r"""Build an MLA :class:`DecoderLM` with the weights of a dense Hugging Face DeepSeek-V3.

    Parameters
    ----------
    hf_model : transformers.DeepseekV3ForCausalLM
        Built from a ``DeepseekV3Config`` with ``first_k_dense_replace >= num_hidden_layers``
        (every layer a dense SwiGLU MLP, no MoE), plain RoPE and no attention bias.
    absorb : bool
        Use the absorbed (latent-space) attention path in every layer.

    Returns
    -------
    DecoderLM
        ``attention="mla"``, same dtype as ``hf_model``; its logits equal the reference's.

    Raises
    ------
    TypeError
        If ``hf_model`` does not have the DeepSeek-V3 layout.
    ValueError
        If it has MoE layers, a RoPE scaling type (YaRN's softmax factor is not modelled)
        or attention biases.

    Notes
    -----
    Name map: ``self_attn.{q_proj | q_a_proj, q_a_layernorm, q_b_proj}``, ``kv_a_proj_with_mqa``,
    ``kv_a_layernorm``, ``kv_b_proj``, ``o_proj`` -> ``attn.{q_proj | q_a_proj, q_a_norm, q_b_proj}``,
    ``kv_a_proj``, ``kv_a_norm``, ``kv_b_proj``, ``o_proj``; the rest as in :func:`from_hf_llama`.

    With ``rope_interleave=True`` (the default, DeepSeek's own layout) the RoPE part of q and
    of ``k_pe`` is rotated in adjacent pairs ``(x_0, x_1), (x_2, x_3), ...``; our RoPE rotates
    ``(x_i, x_{i + d/2})``. Reordering the RoPE output rows of ``q_b_proj`` (or ``q_proj``) and
    ``kv_a_proj_with_mqa`` to ``[0, 2, 4, ..., 1, 3, 5, ...]`` maps pair ``i`` of one layout onto
    pair ``i`` of the other with the same frequency, so :math:`P R^{\text{inter}}_m = R^{\text{half}}_m P`;
    since q and k get the same permutation, every score :math:`q^\top k` is unchanged (the
    rotated vectors even equal Hugging Face's, which writes its output in rotate-half order).
    See question q08-09.

    Examples
    --------
    >>> from transformers import DeepseekV3Config, DeepseekV3ForCausalLM
    >>> _ = torch.manual_seed(0)
    >>> hf = DeepseekV3ForCausalLM(DeepseekV3Config(vocab_size=32, hidden_size=16, intermediate_size=24,
    ...     num_hidden_layers=1, first_k_dense_replace=1, num_attention_heads=2, num_key_value_heads=2,
    ...     q_lora_rank=8, kv_lora_rank=6, qk_nope_head_dim=4, qk_rope_head_dim=4, v_head_dim=4)).eval()
    >>> ours = from_hf_deepseek_v3(hf)
    >>> idx = torch.randint(0, 32, (1, 6))
    >>> torch.allclose(ours(idx), hf(idx).logits, atol=1e-5)
    True
    """
    cfg = getattr(hf_model, "config", None)
    inner = getattr(hf_model, "model", None)
    if cfg is None or inner is None or not hasattr(inner, "layers") or not hasattr(cfg, "kv_lora_rank"):
        raise TypeError(f"hf_model must be a Hugging Face DeepseekV3ForCausalLM; got {type(hf_model).__name__}.")
    n_layers = cfg.num_hidden_layers
    if (cfg.first_k_dense_replace or 0) < n_layers:
        raise ValueError(
            f"only dense DeepSeek-V3 models are supported (MoE layers are not modelled); got first_k_dense_replace="
            f"{cfg.first_k_dense_replace} < num_hidden_layers={n_layers}. Set first_k_dense_replace=num_hidden_layers."
        )
    params = dict(getattr(cfg, "rope_parameters", None) or {})
    if params.get("rope_type", "default") != "default":
        raise ValueError(
            f"only plain RoPE is supported (DeepSeek's YaRN also rescales the softmax); got rope_type="
            f"{params['rope_type']!r}."
        )
    if getattr(cfg, "attention_bias", False):
        raise ValueError("attention_bias=True is not supported: MultiHeadLatentAttention has no biases.")
    H, dn, dr = cfg.num_attention_heads, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim
    dc = cfg.kv_lora_rank
    attn0 = inner.layers[0].self_attn
    mla = dict(
        q_lora_rank=cfg.q_lora_rank,
        kv_lora_rank=dc,
        qk_nope_head_dim=dn,
        qk_rope_head_dim=dr,
        v_head_dim=cfg.v_head_dim,
        norm_eps=attn0.kv_a_layernorm.variance_epsilon,
        absorb=absorb,
    )
    config = DecoderConfig(
        vocab_size=cfg.vocab_size,
        d_model=cfg.hidden_size,
        n_layers=n_layers,
        n_heads=H,
        d_ff=cfg.intermediate_size,
        max_len=cfg.max_position_embeddings,
        rope_base=float(params.get("rope_theta", 10000.0)),
        norm_eps=cfg.rms_norm_eps,
        tie_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)),
        attention="mla",
        mla=mla,
    )
    if getattr(cfg, "rope_interleave", False):
        perm = torch.cat([torch.arange(0, dr, 2), torch.arange(1, dr, 2)])  # interleaved -> rotate-half
    else:
        perm = torch.arange(dr)

    def copy_attention(a: nn.Module, h: nn.Module) -> None:
        if cfg.q_lora_rank is None:
            a.q_proj.weight.copy_(_rope_rows_to_half(h.q_proj.weight, H, dn, dr, perm))
        else:
            a.q_a_proj.weight.copy_(h.q_a_proj.weight)
            a.q_a_norm.weight.copy_(h.q_a_layernorm.weight)
            a.q_b_proj.weight.copy_(_rope_rows_to_half(h.q_b_proj.weight, H, dn, dr, perm))
        a.kv_a_proj.weight.copy_(_rope_rows_to_half(h.kv_a_proj_with_mqa.weight, 1, dc, dr, perm))
        a.kv_a_norm.weight.copy_(h.kv_a_layernorm.weight)
        a.kv_b_proj.weight.copy_(h.kv_b_proj.weight)
        a.o_proj.weight.copy_(h.o_proj.weight)

    return _load_weights(DecoderLM(config).to(hf_model.lm_head.weight.dtype), hf_model, copy_attention)
