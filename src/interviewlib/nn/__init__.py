"""Neural-network building blocks behind chapter 6 (numpy forward/backward, torch optimizers)."""

from interviewlib.nn.adam import Adam, AdamW
from interviewlib.nn.batchnorm import BatchNormCache, BatchNormOutput, batchnorm_backward, batchnorm_forward
from interviewlib.nn.clip import clip_grad_norm_
from interviewlib.nn.contrastive import alignment, info_nce, info_nce_logits, uniformity
from interviewlib.nn.cross_entropy import binary_cross_entropy_with_logits, cross_entropy, cross_entropy_grad
from interviewlib.nn.layernorm import (
    NormCache,
    layernorm_backward,
    layernorm_forward,
    rmsnorm_backward,
    rmsnorm_forward,
)
from interviewlib.nn.muon import (
    NS_COEFFICIENTS,
    Muon,
    max_attention_logits,
    muon_lr_scale,
    newton_schulz,
    polar_factor_svd,
    qk_clip,
)
from interviewlib.nn.softmax import log_softmax, softmax, softmax_backward, softmax_jacobian

__all__ = [
    "NS_COEFFICIENTS",
    "Adam",
    "AdamW",
    "BatchNormCache",
    "BatchNormOutput",
    "Muon",
    "NormCache",
    "alignment",
    "batchnorm_backward",
    "batchnorm_forward",
    "binary_cross_entropy_with_logits",
    "clip_grad_norm_",
    "cross_entropy",
    "cross_entropy_grad",
    "info_nce",
    "info_nce_logits",
    "layernorm_backward",
    "layernorm_forward",
    "log_softmax",
    "max_attention_logits",
    "muon_lr_scale",
    "newton_schulz",
    "polar_factor_svd",
    "qk_clip",
    "rmsnorm_backward",
    "rmsnorm_forward",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
    "uniformity",
]
