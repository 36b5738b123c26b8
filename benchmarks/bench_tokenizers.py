"""Chapter 9 benchmarks: byte-level BPE training and encoding, ours (pure Python) vs Hugging Face `tokenizers`.

Same corpus, same pre-tokenizer (GPT-2 regex), same 256-byte alphabet, same vocabulary size:
the two learn identical merges (error column = number of merges or ids that differ).
`tokenizers` runs on one thread (RAYON_NUM_THREADS=1, set before its thread pool starts),
the fair comparison for our single-threaded trainer.

Expected: a pure-Python loop is usually one to two orders of magnitude slower than Rust, but
both trainers run the same incremental algorithm (pair counts updated only in the words that
contain the merged pair, a lazy max-heap) and most of the work is dict/set operations, which
CPython runs in C; measured (2-core machine under load): training 1.5-3x, encoding 2.5-3.5x
with a cold word cache and faster than `encode_batch` with a warm one (a dict hit per
pre-token, no offsets or Encoding objects). No targets: the numbers are for the record.

Run: python benchmarks/run.py tokenizers
"""

from __future__ import annotations

import json
import os
import pathlib

os.environ.setdefault("RAYON_NUM_THREADS", "1")

from harness import Result, compare  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402

from interviewlib.tokenizers import ByteLevelBPE, to_tokenizer_json  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
STDLIB = pathlib.Path(os.__file__).parent


def _corpus() -> tuple[list[str], list[str]]:
    # the book's Chinese prose (markdown cells) and Python standard-library sources
    def markdown(stem: str) -> list[str]:
        cells = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]

    def stdlib(*names: str) -> list[str]:
        return [(STDLIB / n).read_text(encoding="utf-8") for n in names]

    train = [cell for stem in ("ch01_matrix", "ch02_probability", "ch03_discrete_math", "ch05_classic_ml") for cell in markdown(stem)]
    train += stdlib("argparse.py", "textwrap.py", "functools.py")
    held = markdown("ch06_neural_nets") + markdown("ch07_transformer") + stdlib("heapq.py", "dataclasses.py", "json/decoder.py")
    return train, held


def _hf(train: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(train, trainer=trainer)
    return tok


def _merge_diff(ours: ByteLevelBPE, hf: Tokenizer) -> float:
    a = to_tokenizer_json(ours)["model"]["merges"]
    b = json.loads(hf.to_str())["model"]["merges"]
    return float(sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b)))


def run() -> list[Result]:
    train, held = _corpus()
    size_kb = sum(len(t.encode()) for t in train) // 1024
    results = []
    for vocab_size in (1000, 2000, 4000, 8000):
        results.append(
            compare(
                "BPE training (incremental counts + heap) vs tokenizers.BpeTrainer",
                f"{size_kb} KB, vocab {vocab_size}",
                lambda v=vocab_size: ByteLevelBPE(vocab_size=v).fit(train),
                lambda v=vocab_size: _hf(train, v),
                error=_merge_diff,
                repeats=3,
            )
        )
    ours, hf = ByteLevelBPE(vocab_size=8000).fit(train), _hf(train, 8000)
    assert _merge_diff(ours, hf) == 0
    held_kb = sum(len(t.encode()) for t in held) // 1024

    def fresh_ours():  # empty the word cache: every call pays for the merges
        ours._cache.clear()
        return [ours.encode(t) for t in held]

    results.append(
        compare(
            "encode held-out text (cold word cache) vs Tokenizer.encode_batch",
            f"{held_kb} KB, vocab 8000",
            fresh_ours,
            lambda: [e.ids for e in hf.encode_batch(held)],
            error=lambda a, b: float(sum(x != y for x, y in zip(a, b))),
            repeats=5,
        )
    )
    results.append(
        compare(
            "encode held-out text (warm word cache) vs Tokenizer.encode_batch",
            f"{held_kb} KB, vocab 8000",
            lambda: [ours.encode(t) for t in held],
            lambda: [e.ids for e in hf.encode_batch(held)],
            error=lambda a, b: float(sum(x != y for x, y in zip(a, b))),
            repeats=5,
        )
    )
    return results
