"""Constrained decoding: the DFA vs Python's re on the same strings, the token table vs a brute-force walk,
every generated sequence accepted, masked logits never picking a forbidden token, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents import CharDFA, Repeat, TokenFSM, constrained_generate
from interviewlib.transformer import DecoderConfig, DecoderLM, sample_next

PARTS = ['{"n":', Repeat("123456789", 1, 1), Repeat("0123456789", 0, 2), ',"c":', ('"a"', '"bb"', '"abc"'), "}"]
REGEX = re.compile(r'\{"n":[1-9][0-9]{0,2},"c":("a"|"bb"|"abc")\}')  # the same language, written independently
ALPHABET = '{}":,nc0123456789abx'
VALID = ['{"n":7,"c":"a"}', '{"n":100,"c":"abc"}', '{"n":42,"c":"bb"}']
VOCAB = ["<eos>"] + sorted(set(ALPHABET)) + ['{"n":', ',"c":', '"abc"', "99", '"}', "x}"]


@pytest.fixture(scope="module")
def fsm():
    return TokenFSM(CharDFA(PARTS), VOCAB, eos_token_id=0)


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.text(alphabet=ALPHABET, max_size=20),
                 st.tuples(st.sampled_from(VALID), st.integers(0, 14), st.text(alphabet=ALPHABET, max_size=2))
                 .map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1:])))
def test_dfa_equals_regex(s):
    assert CharDFA(PARTS).accepts(s) == bool(REGEX.fullmatch(s))


def test_valid_examples_and_longest():
    dfa = CharDFA(PARTS)
    assert all(dfa.accepts(s) for s in VALID)
    assert dfa.max_length == len('{"n":999,"c":"abc"}')


def test_token_table_is_the_char_walk(fsm):
    dfa = fsm.dfa
    for s in range(len(dfa.transitions)):
        for i, text in enumerate(VOCAB):
            if i == 0:
                continue
            state = s
            for c in text:  # independent walk over the transition dicts
                state = dfa.transitions[state].get(c, -1) if state >= 0 else -1
            assert int(fsm.table[s, i]) == state


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_masked_logits_never_pick_forbidden(seed):
    g = torch.Generator().manual_seed(seed)
    f = TokenFSM(CharDFA(PARTS), VOCAB, eos_token_id=0)
    states = torch.randint(0, len(f.dfa.transitions), (64,), generator=g)
    logits = torch.randn(64, len(VOCAB), generator=g) * 5
    ok = f.allowed(states)
    has = ok.any(dim=1)
    masked = logits.masked_fill(~ok, float("-inf"))[has]
    for do_sample in (False, True):
        picks = sample_next(masked, do_sample=do_sample, top_k=3, generator=g)
        assert ok[has][torch.arange(int(has.sum())), picks].all()


@pytest.mark.parametrize(("do_sample", "seed"), [(False, 0), (True, 1), (True, 2)])
def test_every_generated_sequence_is_accepted(fsm, do_sample, seed):
    _ = torch.manual_seed(seed)
    lm = DecoderLM(DecoderConfig(vocab_size=len(VOCAB), d_model=16, n_layers=1, n_heads=2, max_len=32))
    prompt = torch.zeros((16, 1), dtype=torch.long)
    for budget in (int(fsm.dist[0]), 20):  # the tightest budget still finishes every row
        out = constrained_generate(lm, prompt, fsm, budget, do_sample=do_sample, rng=seed)
        for row in out[:, 1:].tolist():
            text = "".join(VOCAB[t] for t in row if t != 0)
            assert fsm.accepts_tokens(row) and REGEX.fullmatch(text)
            if 0 in row:  # after EOS only EOS
                assert all(t == 0 for t in row[row.index(0):])


def test_allowed_example_and_budget_mask(fsm):
    ok = fsm.allowed(torch.tensor([0]))[0]
    assert {VOCAB[i] for i in torch.nonzero(ok).flatten().tolist()} == {"{", '{"n":'}
    dfa = CharDFA(["a", Repeat("b", 0, 3)])
    f = TokenFSM(dfa, ["<eos>", "a", "b"], eos_token_id=0)
    s1 = dfa.step(0, "a")
    assert f.allowed(torch.tensor([s1])).tolist() == [[True, False, True]]
    assert f.allowed(torch.tensor([0]), remaining=1).tolist() == [[False, True, False]]


def test_construction_errors():
    with pytest.raises(ValueError, match="prefix-free"):
        CharDFA([("ab", "abc")])
    with pytest.raises(ValueError, match="deterministic"):
        CharDFA([Repeat("ab", 0, 2), "a"])
    with pytest.raises(TypeError, match="parts"):
        CharDFA(None)
    with pytest.raises(TypeError, match=r"parts\[0\]"):
        CharDFA([3])
    with pytest.raises(ValueError, match="complete"):
        TokenFSM(CharDFA(["ab"]), ["<eos>", "a"], eos_token_id=0)  # "b" cannot be spelled
    with pytest.raises(ValueError, match="eos_token_id"):
        TokenFSM(CharDFA(["a"]), ["a"], eos_token_id=3)


def test_generate_errors(fsm):
    lm = DecoderLM(DecoderConfig(vocab_size=len(VOCAB), d_model=16, n_layers=1, n_heads=2, max_len=32))
    prompt = torch.zeros((2, 1), dtype=torch.long)
    with pytest.raises(ValueError, match="max_new_tokens"):
        constrained_generate(lm, prompt, fsm, int(fsm.dist[0]) - 1)
    with pytest.raises(ValueError, match="max_len"):
        constrained_generate(lm, prompt, fsm, 40)
    other = DecoderLM(DecoderConfig(vocab_size=5, d_model=16, n_layers=1, n_heads=2, max_len=32))
    with pytest.raises(ValueError, match="vocab"):
        constrained_generate(other, prompt, fsm, 20)
    for bad in [None, "not valid", float("nan"), [[1.0, 2.0], [3.0]]]:
        with pytest.raises((TypeError, ValueError), match="model"):
            constrained_generate(bad, prompt, fsm, 20)
    with pytest.raises(TypeError, match="fsm"):
        constrained_generate(lm, prompt, None, 20)
    with pytest.raises(TypeError, match="idx"):
        constrained_generate(lm, np.zeros((2, 1)), fsm, 20)
