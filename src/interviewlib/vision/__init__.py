"""Vision and vision-language models (chapter 12): patch embedding, ViT, MAE, CLIP and SigLIP losses,
and the Qwen2-VL / Qwen2.5-VL image preprocessing rule. Builds on :mod:`interviewlib.transformer`.
"""

from .contrastive_losses import chunked_siglip_loss, clip_loss, contrastive_cost, ring_schedule, siglip_loss
from .mae import MAE, MAEOutput, mae_loss, random_masking
from .qwen_vl import QWEN25_VL_7B_PREPROCESSOR, image_grid_thw, image_token_count, smart_resize
from .qwen_vl_vit import PatchMerger, qwen25_mrope_position_ids, window_attention_mask, window_partition
from .vit import PatchEmbedding, ViTEncoder, patchify, unpatchify

__all__ = [
    "MAE",
    "MAEOutput",
    "PatchEmbedding",
    "ViTEncoder",
    "chunked_siglip_loss",
    "clip_loss",
    "contrastive_cost",
    "mae_loss",
    "patchify",
    "random_masking",
    "ring_schedule",
    "siglip_loss",
    "unpatchify",
    "QWEN25_VL_7B_PREPROCESSOR",
    "PatchMerger",
    "image_grid_thw",
    "image_token_count",
    "qwen25_mrope_position_ids",
    "smart_resize",
    "window_attention_mask",
    "window_partition",
]
