"""Reinforcement learning for LLMs (chapter 10): RLHF with PPO and GAE, DPO and successors, GRPO.

Every algorithm runs on one shared toy (:mod:`interviewlib.rl.toy`): a tiny decoder that sorts
digits, with a verifiable reward. Builds on :mod:`interviewlib.transformer`.
"""

from .best_of_n import best_of_n_expectation, best_of_n_kl_bound
from .dpo import PreferenceLoss, dpo_loss, implicit_reward
from .dpo_train import DPOHistory, dpo_train, length_biased_pairs, sft_on_chosen, toy_dpo_run
from .gae import discounted_returns, gae, potential_shaping
from .grpo import (
    KL_ESTIMATORS,
    LOSS_TYPES,
    GRPOLossResult,
    group_advantages,
    grpo_loss,
    informative_groups,
    kl_penalty,
    repeat_prompts,
    truncated_responses,
)
from .grpo_loop import GRPOHistory, grpo_train
from .masked import masked_mean, masked_sum, masked_whiten
from .ppo import PolicyLoss, ValueLoss, per_token_rewards, ppo_policy_loss, value_loss
from .ppo_trainer import PPOConfig, PPOTrainer, ValueModel
from .preference_losses import kto_loss, kto_reference_point, orpo_loss, simpo_loss
from .replay import GroupBatch, ReplayBuffer, importance_weighted_mean, update_on_batch
from .reward_model import (
    PreferencePairs,
    RewardModel,
    bradley_terry_loss,
    pairwise_accuracy,
    preference_pairs,
    train_reward_model,
)
from .rollout import Rollout, evaluate_policy, response_logprobs, response_mask_from, sample_rollout, sequence_logprob
from .toy import BOS, EOS, PAD, SEP, SFT_STEPS, VOCAB_SIZE, SortTask, ToySetting, sft_train, tiny_policy, toy_setting

__all__ = ["masked_mean", "masked_sum", "masked_whiten", "gae", "discounted_returns", "potential_shaping", "per_token_rewards", "ppo_policy_loss", "value_loss", "PolicyLoss", "ValueLoss", "ValueModel", "PPOConfig", "PPOTrainer", "BOS", "SEP", "EOS", "PAD", "VOCAB_SIZE", "SFT_STEPS", "SortTask", "ToySetting", "tiny_policy", "sft_train", "toy_setting", "Rollout", "sample_rollout", "response_logprobs", "sequence_logprob", "response_mask_from", "evaluate_policy", "RewardModel", "bradley_terry_loss", "PreferencePairs", "preference_pairs", "train_reward_model", "pairwise_accuracy", "PreferenceLoss", "dpo_loss", "implicit_reward", "DPOHistory", "dpo_train", "length_biased_pairs", "sft_on_chosen", "toy_dpo_run", "kto_loss", "kto_reference_point", "orpo_loss", "simpo_loss", "LOSS_TYPES", "KL_ESTIMATORS", "GRPOLossResult", "repeat_prompts", "group_advantages", "informative_groups", "truncated_responses", "kl_penalty", "grpo_loss", "GRPOHistory", "grpo_train", "GroupBatch", "ReplayBuffer", "update_on_batch", "importance_weighted_mean", "best_of_n_expectation", "best_of_n_kl_bound"]
