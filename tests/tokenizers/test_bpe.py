"""Byte-level BPE against Hugging Face `tokenizers` (same pre-tokenizer, byte alphabet, vocab size)."""

import json
import os
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers.convert_slow_tokenizer import bytes_to_unicode as hf_bytes_to_unicode

from interviewlib.tokenizers import (
    PATTERNS,
    ByteLevelBPE,
    bytes_to_unicode,
    load_tokenizer_json,
    pretokenize,
    to_tokenizer_json,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
STDLIB = pathlib.Path(os.__file__).parent
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The three patterns that Oniguruma (inside `tokenizers`) and the `regex` module read alike;
# tiktoken's cl100k uses possessive intervals, which Oniguruma reads differently (tested below).
HF_PATTERNS = ["gpt2", "llama3", "o200k"]
VOCAB = 1200  # large enough for multi-character Chinese tokens on a ~130 KB corpus, small enough for speed


def _markdown(name):
    cells = json.loads((ROOT / "chapters" / name).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _train_docs():
    code = [(STDLIB / m).read_text(encoding="utf-8") for m in ("textwrap.py", "heapq.py", "bisect.py")]
    return _markdown("ch01_matrix.ipynb") + _markdown("ch03_discrete_math.ipynb") + code


def _held_out_docs():
    return _markdown("ch02_probability.ipynb")[:40] + [(STDLIB / "json" / "decoder.py").read_text(encoding="utf-8")]


def _hf_tokenizer(pattern):
    tok = Tokenizer(models.BPE())
    if pattern == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        split = pre_tokenizers.Split(Regex(PATTERNS[pattern]), behavior="isolated")
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
    tok.decoder = decoders.ByteLevel()
    return tok


def _hf_train(texts, vocab_size, pattern, specials=()):
    tok = _hf_tokenizer(pattern)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


@pytest.fixture(scope="module")
def corpus():
    return _train_docs(), _held_out_docs()


@pytest.fixture(scope="module", params=HF_PATTERNS)
def trained(request, corpus):
    train, _ = corpus
    ours = ByteLevelBPE(vocab_size=VOCAB, pattern=request.param, special_tokens=SPECIALS).fit(train)
    return ours, _hf_train(train, VOCAB, request.param, SPECIALS)


# ---------------------------------------------------------------- against Hugging Face


def test_same_merges_and_vocabulary_as_hf_trainer(trained):
    ours, hf = trained
    hf_model = json.loads(hf.to_str())["model"]
    ours_model = to_tokenizer_json(ours)["model"]
    assert len(ours.merges_) == len(hf_model["merges"]) > 800
    assert ours_model["merges"] == hf_model["merges"]  # identical, in the same order
    assert ours_model["vocab"] == hf_model["vocab"]  # identical ids as well


def test_held_out_encodings_equal_hf(trained, corpus):
    ours, hf = trained
    _, held = corpus
    text = "<|im_start|>user\n" + held[0] + "<|endoftext|>"
    assert ours.encode(text, allowed_special="all") == hf.encode(text).ids
    assert [ours.encode(t) for t in held] == [e.ids for e in hf.encode_batch(held)]


def test_every_token_decodes_like_hf(trained):
    # Single tokens that hold part of a UTF-8 character decode to U+FFFD in both.
    ours, hf = trained
    ids = sorted(ours.vocab_)
    assert [ours.decode([i]) for i in ids] == [hf.decode([i]) for i in ids]
    assert any(ours.decode([i]) == "\ufffd" for i in ids)


def test_our_file_loads_in_hf_and_gives_the_same_ids(trained, corpus, tmp_path):
    ours, _ = trained
    _, held = corpus
    ours.save(tmp_path / "tokenizer.json")
    theirs = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert [e.ids for e in theirs.encode_batch(held)] == [ours.encode(t) for t in held]
    assert theirs.decode(ours.encode(held[1])) == held[1]


def test_hf_file_loads_in_ours_and_gives_the_same_ids(trained, corpus, tmp_path):
    _, hf = trained
    _, held = corpus
    hf.save(str(tmp_path / "hf.json"))
    back = load_tokenizer_json(tmp_path / "hf.json")
    assert back.pattern in HF_PATTERNS and back.special_tokens_ == {s: i for i, s in enumerate(SPECIALS)}
    assert [back.encode(t) for t in held] == [e.ids for e in hf.encode_batch(held)]


@pytest.mark.parametrize("pattern", HF_PATTERNS)
def test_pretokenize_matches_hf_pre_tokenizer(pattern, corpus):
    to_chars = bytes_to_unicode()
    pre = _hf_tokenizer(pattern).pre_tokenizer
    for doc in corpus[1]:
        ours = ["".join(to_chars[b] for b in p.encode("utf-8")) for p in pretokenize(doc, pattern)]
        assert ours == [piece for piece, _ in pre.pre_tokenize_str(doc)]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    texts=st.lists(st.text(alphabet="ab c\n1", max_size=40), min_size=1, max_size=5),
    extra=st.integers(0, 40),
    pattern=st.sampled_from(HF_PATTERNS),
)
def test_tiny_random_corpora_same_merges_as_hf(texts, extra, pattern):
    # Few symbols and many ties: this exercises the tie-break and the stale-count requeue.
    ours = ByteLevelBPE(vocab_size=256 + extra, pattern=pattern).fit(texts)
    hf = json.loads(_hf_train(texts, 256 + extra, pattern).to_str())["model"]
    assert to_tokenizer_json(ours)["model"]["merges"] == hf["merges"]


def test_hf_reads_cl100k_possessive_interval_as_a_repeat():
    # Why to_tokenizer_json refuses "cl100k": Oniguruma (Ruby syntax) reads \p{N}{1,3}+ as
    # (\p{N}{1,3})+, so the digit run is not cut into groups of three.
    split = pre_tokenizers.Split(Regex(PATTERNS["cl100k"]), behavior="isolated")
    assert [p for p, _ in split.pre_tokenize_str("x 1234567")] == ["x", " ", "1234567"]
    assert pretokenize("x 1234567", "cl100k") == ["x", " ", "123", "456", "7"]
    assert pretokenize("x 1234567", "llama3") == ["x", " ", "123", "456", "7"]
    with pytest.raises(ValueError, match="possessive interval"):
        to_tokenizer_json(ByteLevelBPE(vocab_size=260, pattern="cl100k").fit("12345 12345"))


def test_byte_map_matches_gpt2_and_hf_alphabet():
    ours = bytes_to_unicode()
    assert ours == hf_bytes_to_unicode()  # transformers' copy of GPT-2's encoder.py function
    assert set(ours.values()) == set(pre_tokenizers.ByteLevel.alphabet()) and len(ours) == 256
    assert sum(chr(b) == c for b, c in ours.items()) == 188  # printable bytes stand for themselves


# ---------------------------------------------------------------- hand-worked


def test_hand_worked_merges_on_sennrich_corpus():
    # Sennrich et al. (2016), Fig. 1 counts: low x5, lower x2, newest x6, widest x3 (no end-of-word
    # marker here). Initial pair counts: es 9, st 9, we 8, lo 7, ow 7, ne 6, ew 6, ...
    # Ties go to the smaller (left id, right id); byte ids follow code points, so "e" (68) < "s" (82).
    #   es(9 > st by tie) -> est(9) -> lo(7, tie with ow) -> low(7) -> ew(6; ne, w+est tie) -> new(6)
    #   -> newest(6) -> dest(3; wi, id tie) -> idest(3) -> widest(3) -> er(2; low+e tie) -> lower(2)
    docs = ["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3
    bpe = ByteLevelBPE(vocab_size=300).fit(docs)
    learned = [bpe.vocab_[i].decode() for i in range(256, 256 + len(bpe.merges_))]
    assert learned == ["es", "est", "lo", "low", "ew", "new", "newest", "dest", "idest", "widest", "er", "lower"]
    assert bpe.n_vocab == 268  # stopped early: every word is one token, no pair is left
    assert [bpe.decode([i]) for i in bpe.encode("lowest")] == ["low", "est"]
    hf = json.loads(_hf_train(docs, 300, "gpt2").to_str())["model"]
    assert ["".join(m) for m in hf["merges"]] == learned


def test_min_frequency_stops_training():
    docs = ["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3
    learned = ByteLevelBPE(vocab_size=300, min_frequency=4).fit(docs).merges_
    assert len(learned) == 7  # es, est, lo, low, ew, new, newest all occur >= 4 times; dest only 3


def test_ids_layout_specials_then_bytes_in_gpt2_order():
    bpe = ByteLevelBPE(vocab_size=258, special_tokens=["<s>", "</s>"]).fit("")
    assert bpe.merges_ == [] and bpe.special_tokens_ == {"<s>": 0, "</s>": 1}
    order = sorted(range(256), key=lambda b: ord(bytes_to_unicode()[b]))
    assert [bpe.vocab_[2 + j] for j in range(256)] == [bytes([b]) for b in order]
    assert bpe.vocab_[2] == b"!" and bpe.vocab_[2 + 188] == b"\x00"  # GPT-2's encoder.json order


def test_repeated_symbol_merges_left_to_right():
    bpe = ByteLevelBPE(vocab_size=257).fit("aaaaa")
    assert [bpe.vocab_[i] for i in bpe.encode("aaaaa")] == [b"aa", b"aa", b"a"]


def test_chinese_characters_become_tokens():
    text = "分词器把文本切成词元。" * 20 + "词表越大，序列越短。" * 20
    bpe = ByteLevelBPE(vocab_size=300).fit(text)
    assert "词" in {t.decode("utf-8", errors="ignore") for t in bpe.vocab_.values() if len(t) == 3}
    ids = bpe.encode("分词器把文本切成词元。")
    assert len(ids) < len("分词器把文本切成词元。".encode())  # fewer tokens than UTF-8 bytes


# ---------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def small_bpe(corpus):
    return ByteLevelBPE(vocab_size=600, pattern="o200k", special_tokens=SPECIALS).fit(corpus[0])


@settings(max_examples=25, deadline=None)
@given(st.text())
def test_round_trip_any_unicode(small_bpe, s):
    # st.text() draws from all of Unicode except surrogates: emoji, CJK, controls, unassigned
    assert small_bpe.decode(small_bpe.encode(s)) == s
    assert small_bpe.decode_bytes(small_bpe.encode(s)) == s.encode("utf-8")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["\x00", "\t", "\n", " ", "\u3000", "é", "中", "文", "😀", "👩\u200d💻", "a", "1"])).map(
        "".join
    )
)
def test_round_trip_emoji_cjk_controls(small_bpe, s):
    assert small_bpe.decode(small_bpe.encode(s)) == s


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_arbitrary_unicode_encodes_like_hf(trained, s):
    ours, hf = trained
    assert ours.encode(s) == hf.encode(s).ids


@settings(max_examples=25, deadline=None)
@given(st.text(), st.sampled_from(list(PATTERNS)))
def test_pretokenize_covers_the_text(s, pattern):
    pieces = pretokenize(s, pattern)
    assert "".join(pieces) == s and all(pieces)


# ---------------------------------------------------------------- special tokens


def test_special_tokens_allowed_disallowed_plain(small_bpe):
    text = "hi<|endoftext|>"
    eot = small_bpe.special_tokens_["<|endoftext|>"]
    assert small_bpe.encode(text, allowed_special={"<|endoftext|>"})[-1] == eot
    assert small_bpe.encode(text, allowed_special="all") == small_bpe.encode(text, allowed_special={"<|endoftext|>"})
    plain = small_bpe.encode(text, disallowed_special=())
    assert eot not in plain and small_bpe.decode(plain) == text
    with pytest.raises(ValueError, match="contains the special token '<\\|endoftext\\|>'"):
        small_bpe.encode(text)
    with pytest.raises(ValueError, match="unknown special tokens \\['<\\|fim\\|>'\\]"):
        small_bpe.encode(text, allowed_special={"<|fim|>"})
    with pytest.raises(TypeError, match="allowed_special must be"):
        small_bpe.encode(text, allowed_special="<|endoftext|>")


def test_longest_special_token_wins():
    bpe = ByteLevelBPE(vocab_size=258, special_tokens=["<|end|>", "<|end|>x"]).fit("")
    assert bpe.encode("<|end|>x<|end|>", allowed_special="all") == [1, 0]


# ---------------------------------------------------------------- edge cases and bad input


def test_minimum_vocabulary_has_no_merges():
    bpe = ByteLevelBPE(vocab_size=257, special_tokens=["<s>"]).fit(["abc abc"])
    assert bpe.merges_ == [] and bpe.n_vocab == 257
    assert len(bpe.encode("abc")) == 3 and bpe.encode("") == [] and bpe.decode([]) == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vocab_size": 257, "special_tokens": ["<a>", "<b>"]}, ValueError, "vocab_size must be >= 256 \\+ len"),
        ({"vocab_size": 100}, ValueError, "vocab_size must be >= 256"),
        ({"vocab_size": 300.0}, TypeError, "vocab_size must be an integer"),
        ({"special_tokens": "<s>"}, TypeError, "special_tokens must be a sequence of str"),
        ({"special_tokens": ["<s>", 3]}, TypeError, "special_tokens must hold non-empty str"),
        ({"special_tokens": ["<s>", "<s>"]}, ValueError, "special_tokens must be distinct"),
        ({"pattern": "(unclosed"}, ValueError, "pattern must be one of"),
        ({"pattern": 3}, TypeError, "pattern must be a str"),
        ({"min_frequency": -1}, ValueError, "min_frequency must be >= 0"),
    ],
)
def test_bad_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        ByteLevelBPE(**kwargs).fit("some text")


def test_bad_inputs(small_bpe):
    with pytest.raises(TypeError, match="text must be a str; got bytes"):
        small_bpe.encode(b"bytes")
    with pytest.raises(TypeError, match="texts must be a str or an iterable"):
        ByteLevelBPE().fit(42)
    with pytest.raises(TypeError, match="texts\\[1\\] must be a str; got int"):
        ByteLevelBPE().fit(["ok", 7])
    with pytest.raises(ValueError, match="lone surrogate at index 1"):
        small_bpe.encode("a\ud800")
    with pytest.raises(ValueError, match="unknown token id 100000"):
        small_bpe.decode([1, 100000])
    with pytest.raises(TypeError, match="ids must hold int; got str"):
        small_bpe.decode(["a"])
    with pytest.raises(ValueError, match="not fitted"):
        ByteLevelBPE().encode("x")
    with pytest.raises(TypeError, match="text must be a str; got list"):
        pretokenize(["x"])


def test_fit_does_not_change_hyperparameters():
    specials = ("<s>",)
    bpe = ByteLevelBPE(vocab_size=300, special_tokens=specials)
    bpe.fit("hello")
    assert bpe.vocab_size == 300 and bpe.special_tokens is specials and bpe.pattern == "gpt2"


def test_load_rejects_unsupported_files(tmp_path):
    spec = to_tokenizer_json(ByteLevelBPE(vocab_size=260).fit("hello hello"))
    cases = {
        "wordpiece": {**spec, "model": {**spec["model"], "type": "WordPiece"}},
        "normalizer": {**spec, "normalizer": {"type": "NFC"}},
        "byte_fallback": {**spec, "model": {**spec["model"], "byte_fallback": True}},
        "prefix_space": {**spec, "pre_tokenizer": {**spec["pre_tokenizer"], "add_prefix_space": True}},
    }
    for name, bad in cases.items():
        (tmp_path / name).write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ValueError, match="model must be BPE|unsupported|pre_tokenizer must be"):
            load_tokenizer_json(tmp_path / name)


@pytest.mark.parametrize("pattern", ["gpt2", "o200k"])
def test_truncated_equals_training_to_the_smaller_size(pattern, corpus):
    docs = corpus[0][:30]
    big = ByteLevelBPE(vocab_size=700, pattern=pattern, special_tokens=["<s>"]).fit(docs)
    for size in (257, 300, 451, 699):
        small = ByteLevelBPE(vocab_size=size, pattern=pattern, special_tokens=["<s>"]).fit(docs)
        cut = big.truncated(size)
        assert cut.merges_ == small.merges_ and cut.vocab_ == small.vocab_ and cut.n_vocab == size
        assert cut.encode(corpus[1][0]) == small.encode(corpus[1][0])
    with pytest.raises(ValueError, match="vocab_size must be >= 257"):
        big.truncated(256)


def test_custom_pattern_keeps_unmatched_text_like_hf_isolated_split():
    # HF's Split(behavior="isolated") keeps the gaps between matches as pieces of their own.
    for pattern in (r"\d+", r"\d*", r"[a-z]"):
        ours = pretokenize("ab12cd 3", pattern)
        hf = [p for p, _ in pre_tokenizers.Split(Regex(pattern), behavior="isolated").pre_tokenize_str("ab12cd 3")]
        assert ours == hf and "".join(ours) == "ab12cd 3"
    assert pretokenize("ab12cd", r"\d+") == ["ab", "12", "cd"]
    with pytest.raises(ValueError, match="non-empty regex"):
        pretokenize("x", "")


def test_save_and_load_methods_round_trip(tmp_path):
    bpe = ByteLevelBPE(vocab_size=300, pattern="o200k", special_tokens=["<s>"]).fit(["Hello, World! 你好，世界。"] * 3)
    bpe.save(tmp_path / "tokenizer.json")
    back = ByteLevelBPE.load(tmp_path / "tokenizer.json")
    assert back.pattern == "o200k" and back.merges_ == bpe.merges_ and back.vocab_ == bpe.vocab_
    text = "<s>Hello, 世界!"
    assert back.encode(text, allowed_special="all") == bpe.encode(text, allowed_special="all")


def test_tokenizer_json_bad_input(tmp_path):
    with pytest.raises(TypeError, match="bpe must be a ByteLevelBPE"):
        to_tokenizer_json("not a tokenizer")
    with pytest.raises(ValueError, match="not fitted"):
        to_tokenizer_json(ByteLevelBPE())
    with pytest.raises(TypeError, match="path must be a str or os.PathLike; got NoneType"):
        load_tokenizer_json(None)
    spec = to_tokenizer_json(ByteLevelBPE(vocab_size=260, special_tokens=["<s>"]).fit("hello hello"))
    added = [{**spec["added_tokens"][0], "special": False}]
    outside = {**spec["model"], "vocab": {**spec["model"]["vocab"], "a b": 999}}
    missing = {**spec["model"], "merges": [*spec["model"]["merges"], ["Ġ", "zzz"]]}
    cases = [
        ({**spec, "added_tokens": added}, "non-special added tokens"),
        ({**spec, "model": outside}, "not in GPT-2's byte-level alphabet"),
        ({**spec, "model": missing}, "missing from the vocabulary"),
    ]
    for k, (bad, match) in enumerate(cases):
        (tmp_path / f"{k}.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ValueError, match=match):
            load_tokenizer_json(tmp_path / f"{k}.json")
