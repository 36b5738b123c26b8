"""Tests for interviewlib.training.sft: label masking, chat template, packing, SFT loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.training import (
    IGNORE_INDEX,
    block_causal_mask,
    pack_sft_examples,
    pad_sft_batch,
    render_chat,
    sft_example,
    sft_loss,
    shift_labels,
)
from interviewlib.transformer import DecoderConfig, DecoderLM, from_hf_llama

# float64 losses over at most a few hundred terms: rounding is ~1e-15, 1e-12 leaves headroom.
TOL_F64 = 1e-12
# Packed vs unpacked logits in float64: the same per-document arithmetic, only the matmul
# shapes differ (summation order), so differences are at the 1e-16 level.
TOL_PACKED = 1e-12
# A missing mask/position reset must move the logits by far more than rounding.
MIN_CONTAMINATION = 1e-4
# Hugging Face Llama builds its RoPE cos/sin in float32 even for a float64 model, and its
# loss upcasts logits with .float(): agreement is at float32 precision.
TOL_HF = 1e-6

WORDS = "<bos> <eot> <system> <user> <assistant> <pad> <unk> what is 2 + ? 4 thanks you are welcome be brief".split()
VOCAB = {w: i for i, w in enumerate(WORDS)}
CHAT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "what is 2 + 2 ?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "thanks"},
    {"role": "assistant", "content": "you are welcome"},
]


def _random_batch(B, T, V, *, seed, p_ignore=0.3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g, dtype=dtype)
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[torch.rand(B, T, generator=g) < p_ignore] = IGNORE_INDEX
    labels[0, 1] = 0  # at least one valid target after the shift
    return logits, labels


def _reference_ce(logits, labels, reduction):
    """F.cross_entropy on the hand-shifted tensors."""
    V = logits.shape[-1]
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX, reduction=reduction
    )


def _tiny_decoder(seed=0, V=23):
    torch.manual_seed(seed)
    cfg = DecoderConfig(vocab_size=V, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=64)
    return DecoderLM(cfg).double().eval()


def _examples(V=23, seed=1, sizes=((3, 4), (5, 2), (2, 6))):
    g = torch.Generator().manual_seed(seed)
    # the second example trains on its prompt too, so its first label is a real token until packing masks it
    return [
        sft_example(torch.randint(0, V, (p,), generator=g), torch.randint(0, V, (r,), generator=g), train_on_prompt=k == 1)
        for k, (p, r) in enumerate(sizes)
    ]


def _word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab=VOCAB, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eot>", pad_token="<pad>", unk_token="<unk>"
    )


# --------------------------------------------------------------------------- sft_loss


@pytest.mark.parametrize("reduction", ["token", "sum", "none"])
def test_loss_matches_torch_cross_entropy(reduction):
    logits, labels = _random_batch(3, 7, 11, seed=0)
    ours = sft_loss(logits, labels, reduction=reduction)
    ref = _reference_ce(logits, labels, {"token": "mean"}.get(reduction, reduction))
    if reduction == "none":
        ours = ours[:, :-1].reshape(-1)  # the last position has no next token
    torch.testing.assert_close(ours, ref, atol=TOL_F64, rtol=0)


def test_sample_reduction_is_mean_of_per_sample_means():
    logits, labels = _random_batch(4, 6, 9, seed=3)
    per_sample = [
        F.cross_entropy(logits[i, :-1], labels[i, 1:], ignore_index=IGNORE_INDEX)
        for i in range(4)
        if (labels[i, 1:] != IGNORE_INDEX).any()
    ]
    torch.testing.assert_close(sft_loss(logits, labels, reduction="sample"), torch.stack(per_sample).mean(), atol=TOL_F64, rtol=0)


def test_gradient_matches_torch_cross_entropy():
    logits, labels = _random_batch(2, 5, 7, seed=4)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    sft_loss(a, labels).backward()
    _reference_ce(b, labels, "mean").backward()
    torch.testing.assert_close(a.grad, b.grad, atol=TOL_F64, rtol=0)


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 4), T=st.integers(2, 9), V=st.integers(2, 13), seed=st.integers(0, 10_000))
def test_property_token_loss_equals_cross_entropy(B, T, V, seed):
    logits, labels = _random_batch(B, T, V, seed=seed)
    torch.testing.assert_close(sft_loss(logits, labels), _reference_ce(logits, labels, "mean"), atol=TOL_F64, rtol=0)


def test_per_token_vs_per_sample_hand_worked():
    # V = 4. Uniform logits cost log 4 = 2 log 2; a target logit of log 3 gives p = 3/6, cost log 2.
    # Sample A: 1 answer token costing 2 log 2. Sample B: 3 answer tokens costing log 2 each.
    V, a = 4, math.log(3.0)
    logits = torch.zeros(2, 4, V, dtype=torch.float64)
    labels = torch.full((2, 4), IGNORE_INDEX)
    labels[0, 3] = 1  # predicted from position 2 (uniform)
    labels[1, 1:] = torch.tensor([2, 3, 0])  # predicted from positions 0, 1, 2
    logits[1, 0, 2] = logits[1, 1, 3] = logits[1, 2, 0] = a
    log2 = math.log(2.0)
    per_token = sft_loss(logits, labels, reduction="token").item()
    per_sample = sft_loss(logits, labels, reduction="sample").item()
    assert per_token == pytest.approx((2 + 3) / 4 * log2, abs=TOL_F64)  # every token weighs 1/4
    assert per_sample == pytest.approx((2 / 1 + 3 / 3) / 2 * log2, abs=TOL_F64)  # every sample weighs 1/2
    assert sft_loss(logits, labels, reduction="sum").item() == pytest.approx(5 * log2, abs=TOL_F64)


def test_uniform_logits_give_log_vocab_and_perplexity_vocab():
    logits = torch.zeros(2, 5, 7, dtype=torch.float64)
    labels = torch.randint(0, 7, (2, 5))
    loss = sft_loss(logits, labels)
    assert loss.item() == pytest.approx(math.log(7), abs=TOL_F64)
    assert math.exp(loss.item()) == pytest.approx(7.0, abs=1e-10)  # perplexity of a uniform model = V


def test_all_ignored_raises_unless_allowed():
    logits = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    labels = torch.full((2, 4), IGNORE_INDEX)
    labels[:, 0] = 3  # only the first column, which the shift drops
    for reduction in ("token", "sample"):
        with pytest.raises(ValueError, match="no valid target"):
            sft_loss(logits, labels, reduction=reduction)
    zero = sft_loss(logits, labels, allow_empty=True)
    zero.backward()
    assert zero.item() == 0.0 and torch.count_nonzero(logits.grad) == 0
    assert sft_loss(logits, labels, reduction="sum").item() == 0.0
    assert torch.count_nonzero(sft_loss(logits, labels, reduction="none")) == 0


def test_sample_reduction_skips_rows_without_targets():
    logits, labels = _random_batch(3, 5, 6, seed=8)
    labels[2] = IGNORE_INDEX
    ref = torch.stack([F.cross_entropy(logits[i, :-1], labels[i, 1:], ignore_index=IGNORE_INDEX) for i in (0, 1)]).mean()
    torch.testing.assert_close(sft_loss(logits, labels, reduction="sample"), ref, atol=TOL_F64, rtol=0)


def test_half_precision_logits_are_upcast():
    logits, labels = _random_batch(2, 6, 8, seed=5, dtype=torch.bfloat16)
    out = sft_loss(logits, labels)
    assert out.dtype == torch.float32
    ref = _reference_ce(logits.double(), labels, "mean")  # the same bf16 values, exact arithmetic
    assert abs(out.item() - ref.item()) < 1e-5  # float32 rounding of a log-sum-exp


def test_loss_bad_inputs():
    logits, labels = _random_batch(2, 5, 7, seed=6)
    with pytest.raises(ValueError, match=r"labels must be \(B, T\)"):
        sft_loss(logits, labels[:, :4])
    with pytest.raises(ValueError, match=r"labels must be 2-D"):
        sft_loss(logits, labels[0])
    with pytest.raises(TypeError, match="integer token ids"):
        sft_loss(logits, labels.double())
    with pytest.raises(ValueError, match="floating dtype"):
        sft_loss(labels[..., None], labels)
    bad = labels.clone()
    bad[1, 2] = 7
    with pytest.raises(ValueError, match=r"token ids in \[0, 7\)"):
        sft_loss(logits, bad)
    bad[1, 2] = -1
    with pytest.raises(ValueError, match="ignore_index=-100; got -1"):
        sft_loss(logits, bad)
    with pytest.raises(ValueError, match="reduction must be one of"):
        sft_loss(logits, labels, reduction="mean")


def test_shift_labels_hand_worked_and_bad_input():
    assert shift_labels(torch.tensor([[7, -100, 5, 6]])).tolist() == [[-100, 5, 6, -100]]
    assert shift_labels(torch.tensor([[1, 2]]), ignore_index=-1).tolist() == [[2, -1]]
    with pytest.raises(TypeError, match="integer token ids"):
        shift_labels(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        shift_labels([[1, 2]])


# --------------------------------------------------------------------------- examples and batches


def test_sft_example_masks_the_prompt():
    x, y = sft_example([1, 7, 8], torch.tensor([5, 6, 2]))
    assert x.tolist() == [1, 7, 8, 5, 6, 2]
    assert y.tolist() == [-100, -100, -100, 5, 6, 2]
    _, y_all = sft_example([1, 7, 8], [5, 6, 2], train_on_prompt=True)
    assert y_all.tolist() == x.tolist()
    # after the shift the targets are exactly the response, predicted from positions P-1 .. P+R-2
    assert shift_labels(y[None])[0].tolist() == [-100, -100, 5, 6, 2, -100]


def test_sft_example_bad_input():
    with pytest.raises(ValueError, match="empty prompt"):
        sft_example([], [5])
    with pytest.raises(ValueError, match="empty response"):
        sft_example([1], [])
    with pytest.raises(TypeError, match="integer token ids"):
        sft_example([1.0], [5])
    with pytest.raises(TypeError, match="integer token ids"):
        sft_example(torch.tensor([1.0]), [5])
    with pytest.raises(ValueError, match=">= 0"):
        sft_example([1], [-3])
    with pytest.raises(TypeError, match="sequence of ints"):
        sft_example("hello", [5])
    with pytest.raises(ValueError, match="1-D"):
        sft_example(torch.ones(1, 2, dtype=torch.long), [5])


def test_pad_batch_hand_worked():
    b = pad_sft_batch([sft_example([1], [5, 2]), sft_example([1, 7, 8], [2])], pad_id=0)
    assert b["input_ids"].tolist() == [[1, 5, 2, 0], [1, 7, 8, 2]]
    assert b["labels"].tolist() == [[-100, 5, 2, -100], [-100, -100, -100, 2]]
    assert b["attention_mask"].tolist() == [[True, True, True, False], [True] * 4]


def test_pad_batch_matches_hf_collator_and_keeps_eos_when_pad_is_eos():
    from transformers import DataCollatorForLanguageModeling

    tok = _word_tokenizer()
    pad, eos = tok.pad_token_id, tok.eos_token_id
    seqs = [[0, 7, 8, 9, 1], [0, 13, 1], [0, 14, 15, 16, 1, 3]]
    # Train on everything and pad with an id the data never uses: HF's labels are input_ids with pads -> -100.
    ours = pad_sft_batch([sft_example(s[:1], s[1:], train_on_prompt=True) for s in seqs], pad_id=pad)
    hf = DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)([{"input_ids": s} for s in seqs])
    assert torch.equal(ours["input_ids"], hf["input_ids"])
    assert torch.equal(ours["labels"], hf["labels"])
    assert torch.equal(ours["attention_mask"], hf["attention_mask"].bool())
    # With pad = eos, HF finds padding by id and also masks every real EOS; ours keeps them.
    tok.pad_token = tok.eos_token
    hf_eos = DataCollatorForLanguageModeling(tokenizer=tok, mlm=False)([{"input_ids": s} for s in seqs])
    ours_eos = pad_sft_batch([sft_example(s[:1], s[1:], train_on_prompt=True) for s in seqs], pad_id=eos)
    real_eos = (ours_eos["input_ids"] == eos) & ours_eos["attention_mask"]
    assert torch.equal(ours_eos["labels"][real_eos], ours_eos["input_ids"][real_eos])
    assert (hf_eos["labels"][real_eos] == IGNORE_INDEX).all() and real_eos.sum() == 3
    assert torch.equal(hf_eos["labels"][~real_eos], ours_eos["labels"][~real_eos])


def test_pad_batch_bad_input():
    with pytest.raises(ValueError, match="at least one example"):
        pad_sft_batch([], pad_id=0)
    with pytest.raises(ValueError, match="same length"):
        pad_sft_batch([(torch.tensor([1, 2]), torch.tensor([1]))], pad_id=0)
    with pytest.raises(TypeError, match="pair"):
        pad_sft_batch([torch.tensor([1, 2])], pad_id=0)
    with pytest.raises(ValueError, match="pad_id must be >= 0"):
        pad_sft_batch([sft_example([1], [2])], pad_id=-1)
    with pytest.raises(ValueError, match="labels must be token ids >= 0 or -100; got -5"):
        pad_sft_batch([(torch.tensor([1, 2]), torch.tensor([-100, -5]))], pad_id=0)


# --------------------------------------------------------------------------- chat template


def test_render_chat_hand_worked_masking():
    x, y = render_chat(CHAT, VOCAB)
    tokens = [WORDS[i] for i in x.tolist()]
    assert " ".join(tokens) == (
        "<bos> <system> be brief <eot> <user> what is 2 + 2 ? <eot> <assistant> 4 <eot> "
        "<user> thanks <eot> <assistant> you are welcome <eot>"
    )
    trained = [WORDS[i] for i in y.tolist() if i != IGNORE_INDEX]
    assert trained == ["4", "<eot>", "you", "are", "welcome", "<eot>"]  # content + end-of-turn, no role marker
    assert (y[x == VOCAB["<assistant>"]] == IGNORE_INDEX).all()


def test_render_chat_matches_hf_generation_mask():
    tok = _word_tokenizer()
    template = (
        "{{ '<bos>' }}{% for m in messages %}{% if m['role'] == 'assistant' %}{{ ' <assistant> ' }}"
        "{% generation %}{{ m['content'] }}{{ ' <eot>' }}{% endgeneration %}"
        "{% else %}{{ ' <' + m['role'] + '> ' + m['content'] + ' <eot>' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ ' <assistant>' }}{% endif %}"
    )
    hf = tok.apply_chat_template(
        CHAT, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    x, y = render_chat(CHAT, VOCAB)
    assert x.tolist() == hf["input_ids"]
    assert (y != IGNORE_INDEX).int().tolist() == hf["assistant_masks"]
    hf_prompt = tok.apply_chat_template(CHAT[:2], chat_template=template, tokenize=True, add_generation_prompt=True)
    hf_prompt = hf_prompt["input_ids"] if isinstance(hf_prompt, dict) or hasattr(hf_prompt, "keys") else hf_prompt
    xp, yp = render_chat(CHAT[:2], VOCAB, add_generation_prompt=True)
    assert xp.tolist() == list(hf_prompt) and (yp == IGNORE_INDEX).all()


def test_render_chat_token_ids_and_custom_markers():
    vocab = {"[B]": 0, "[E]": 1, "[U]": 2, "[A]": 3}
    x, y = render_chat(
        [{"role": "user", "content": [10, 11]}, {"role": "assistant", "content": torch.tensor([12])}],
        vocab,
        bos="[B]",
        eot="[E]",
        role_tokens={"user": "[U]", "assistant": "[A]"},
    )
    assert x.tolist() == [0, 2, 10, 11, 1, 3, 12, 1]
    assert y.tolist() == [-100] * 6 + [12, 1]


def test_render_chat_bad_input():
    with pytest.raises(ValueError, match="empty chat"):
        render_chat([], VOCAB)
    with pytest.raises(ValueError, match="role must be one of"):
        render_chat([{"role": "tool", "content": "4"}], VOCAB)
    with pytest.raises(ValueError, match="'role' and 'content'"):
        render_chat([{"role": "user"}], VOCAB)
    with pytest.raises(ValueError, match="vocab has no id for 'five'"):
        render_chat([{"role": "assistant", "content": "five"}], VOCAB)
    with pytest.raises(ValueError, match="no assistant turn|must contain an assistant turn"):
        render_chat([{"role": "user", "content": "thanks"}], VOCAB)
    with pytest.raises(TypeError, match="list of"):
        render_chat({"role": "user", "content": "thanks"}, VOCAB)
    with pytest.raises(TypeError, match="vocab must be a mapping"):
        render_chat(CHAT, ["<bos>"])
    with pytest.raises(ValueError, match="vocab has no id for '<bos>'"):
        render_chat(CHAT, {"<eot>": 1})


# --------------------------------------------------------------------------- packing


def test_block_causal_mask_hand_worked_and_count():
    m = block_causal_mask([2, 1, 3])
    assert m.int().tolist() == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1, 1],
    ]
    assert int(block_causal_mask([5, 4, 7]).sum()) == sum(n * (n + 1) // 2 for n in (5, 4, 7))
    with pytest.raises(ValueError, match="lengths >= 1"):
        block_causal_mask([2, 0])
    with pytest.raises(ValueError, match="lengths >= 1"):
        block_causal_mask([])


def test_pack_matches_hf_data_collator_with_flattening():
    from transformers import DataCollatorWithFlattening

    examples = _examples()
    pb = pack_sft_examples(examples)
    features = [{"input_ids": x.tolist(), "labels": y.tolist()} for x, y in examples]
    hf = DataCollatorWithFlattening(return_flash_attn_kwargs=True, return_seq_idx=True)(features)
    assert torch.equal(pb.input_ids, hf["input_ids"])
    assert torch.equal(pb.labels, hf["labels"])  # -100 at every document's first token
    assert torch.equal(pb.position_ids, hf["position_ids"])
    assert torch.equal(pb.seq_idx, hf["seq_idx"].long())
    assert torch.equal(pb.cu_seqlens, hf["cu_seq_lens_q"]) and pb.cu_seqlens.dtype == torch.int32
    assert pb.max_seqlen == hf["max_length_q"]


def test_pack_hand_worked_and_inputs_not_mutated():
    ex = [sft_example([1], [5, 2], train_on_prompt=True), sft_example([1, 7], [2])]
    before = [y.clone() for _, y in ex]
    pb = pack_sft_examples(ex)
    assert pb.labels.tolist() == [[-100, 5, 2, -100, -100, 2]]
    assert pb.position_ids.tolist() == [[0, 1, 2, 0, 1, 2]]
    assert pb.seq_idx.tolist() == [[0, 0, 0, 1, 1, 1]]
    assert pb.mask.shape == (1, 1, 6, 6) and torch.equal(pb.mask[0, 0], block_causal_mask([3, 3]))
    assert all(torch.equal(a, y) for a, (_, y) in zip(before, ex))


def test_packed_equals_unpacked_logits_loss_and_gradients():
    lm, examples = _tiny_decoder(), _examples()
    pb = pack_sft_examples(examples)
    with torch.no_grad():
        packed = lm(pb.input_ids, position_ids=pb.position_ids, mask=pb.mask)  # (1, T, V)
        separate = torch.cat([lm(x[None]) for x, _ in examples], dim=1)  # (1, T, V)
    torch.testing.assert_close(packed, separate, atol=TOL_PACKED, rtol=0)
    # the loss: one token mean over all documents' targets
    sums = [sft_loss(lm(x[None]).detach(), y[None], reduction="sum") for x, y in examples]
    counts = [int((y[1:] != IGNORE_INDEX).sum()) for _, y in examples]
    assert sft_loss(packed, pb.labels).item() == pytest.approx(sum(sums).item() / sum(counts), abs=TOL_F64)
    # the gradients of the summed loss
    lm.zero_grad()
    sft_loss(lm(pb.input_ids, position_ids=pb.position_ids, mask=pb.mask), pb.labels, reduction="sum").backward()
    g_packed = [p.grad.clone() for p in lm.parameters()]
    lm.zero_grad()
    sum(sft_loss(lm(x[None]), y[None], reduction="sum") for x, y in examples).backward()
    for a, p in zip(g_packed, lm.parameters()):
        torch.testing.assert_close(a, p.grad, atol=TOL_PACKED, rtol=0)


def test_packing_without_mask_contaminates_later_documents():
    lm, examples = _tiny_decoder(), _examples()
    pb = pack_sft_examples(examples)
    first = examples[0][0].numel()
    with torch.no_grad():
        separate = torch.cat([lm(x[None]) for x, _ in examples], dim=1)
        plain = lm(pb.input_ids)  # plain causal attention, positions 0..T-1
        reset_only = lm(pb.input_ids, position_ids=pb.position_ids)  # positions reset, no mask
        mask_only = lm(pb.input_ids, mask=pb.mask)  # mask, positions 0..T-1
    for wrong in (plain, reset_only):
        torch.testing.assert_close(wrong[:, :first], separate[:, :first], atol=TOL_PACKED, rtol=0)  # doc 0 sees nothing new
        assert (wrong[:, first:] - separate[:, first:]).abs().max() > MIN_CONTAMINATION
    assert sft_loss(plain, pb.labels).item() != pytest.approx(sft_loss(separate, pb.labels).item(), abs=MIN_CONTAMINATION)
    # RoPE scores depend only on q/k offsets, so inside the mask the absolute positions cancel.
    torch.testing.assert_close(mask_only, separate, atol=1e-10, rtol=0)


def test_absolute_positions_need_the_reset():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=23, n_embd=16, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=1)
    gpt2 = GPT2LMHeadModel(cfg).double().eval()
    examples = _examples()
    pb = pack_sft_examples(examples)
    with torch.no_grad():
        separate = torch.cat([gpt2(input_ids=x[None]).logits for x, _ in examples], dim=1)
        both = gpt2(input_ids=pb.input_ids, attention_mask=pb.mask, position_ids=pb.position_ids).logits
        mask_only = gpt2(input_ids=pb.input_ids, attention_mask=pb.mask).logits
    torch.testing.assert_close(both, separate, atol=TOL_PACKED, rtol=0)
    assert (mask_only - separate).abs().max() > MIN_CONTAMINATION  # learned absolute positions shift


def test_packed_matches_hf_llama_padding_free():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=23, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )
    hf = LlamaForCausalLM(cfg).double().eval()
    ours = from_hf_llama(hf)
    pb = pack_sft_examples(_examples())
    with torch.no_grad():
        # transformers 5.23 infers the document boundaries from position_ids that restart, but only
        # when no KV cache is passed; use_cache=False keeps the model from creating one.
        out = hf(input_ids=pb.input_ids, position_ids=pb.position_ids, labels=pb.labels, use_cache=False)
        mine = ours(pb.input_ids, position_ids=pb.position_ids, mask=pb.mask)
    torch.testing.assert_close(mine, out.logits, atol=TOL_HF, rtol=0)
    assert sft_loss(mine, pb.labels).item() == pytest.approx(out.loss.item(), abs=TOL_HF)


def test_pack_bad_input():
    with pytest.raises(ValueError, match="at least one example"):
        pack_sft_examples([])
    with pytest.raises(ValueError, match="non-empty input_ids"):
        pack_sft_examples([(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))])
    with pytest.raises(TypeError, match="pair"):
        pack_sft_examples(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="list of"):
        pack_sft_examples("ab")
