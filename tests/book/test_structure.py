"""Structure of the book: the question register, the answer anatomy, and the toc.

For every chapter notebook that exists, each of its questions in chapters/questions.yml
must be a labelled level-2 section with the full anatomy (CONVENTIONS.md §2).
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import unicodedata

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools.extract import interviewlib_imports  # noqa: E402

CHAPTERS = ROOT / "chapters"
REGISTER = yaml.safe_load((CHAPTERS / "questions.yml").read_text(encoding="utf-8"))
QUESTIONS = REGISTER["questions"]
CHAPTER_META = {c["number"]: c for c in REGISTER["chapters"]}
SEED = ROOT.parent / "shared" / "seed" / "000_a0987cf5a14b8576.txt"


def notebook_path(chapter: int) -> pathlib.Path:
    return CHAPTERS / f"ch{chapter:02d}_{CHAPTER_META[chapter]['slug']}.ipynb"


EXISTING = [n for n in sorted(CHAPTER_META) if notebook_path(n).exists()]


def load(chapter: int) -> dict:
    return json.loads(notebook_path(chapter).read_text(encoding="utf-8"))


def cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return re.sub(r"[\s*`_#：:，,。？?！!（）()“”\"'、·\-—/]+", "", s).lower()


def sections(nb: dict) -> dict[str, list[dict]]:
    """Cells of each question section, keyed by its `(qNN-MM)=` label.

    A section starts at a markdown cell whose first lines are the label and a level-2
    heading, and runs until the next level-2 heading.
    """
    out: dict[str, list[dict]] = {}
    current = None
    for cell in nb["cells"]:
        text = cell_text(cell)
        if cell["cell_type"] == "markdown" and re.search(r"^## ", text, re.M):
            m = re.match(r"\s*\((q\d\d-\d\d)\)=\s*\n## ", text)
            current = m.group(1) if m else None
            if current:
                out[current] = []
        if current:
            out[current].append(cell)
    return out


# ---------------------------------------------------------------- the register


def test_register_has_98_unique_questions():
    ids = [q["id"] for q in QUESTIONS]
    assert len(ids) == 98
    assert len(set(ids)) == 98
    for q in QUESTIONS:
        assert q["id"] == f"q{q['chapter']:02d}-{q['number']:02d}"
        assert q["difficulty"] in (1, 2, 3)
        assert q["zh"].strip() and q["en"].strip() and q["seed"].strip()
        assert q["tags"] and q["tags"][0] in CHAPTER_META[q["chapter"]]["topics"]
    assert sorted(CHAPTER_META) == list(range(1, 14))


@pytest.mark.skipif(not SEED.exists(), reason=f"seed file not found at {SEED}")
def test_register_matches_seed_file():
    # The seed numbers chapter 4's six operations implicitly; every other question
    # appears as "N、 text" under its "# chapter" heading.
    seed_text = norm(SEED.read_text(encoding="utf-8"))
    for q in QUESTIONS:
        assert norm(q["seed"]) in seed_text, q["id"]


# ---------------------------------------------------------------- notebooks


def test_at_least_one_chapter_exists():
    assert EXISTING, "no chapter notebook found"


def test_every_notebook_is_registered():
    known = {notebook_path(n).name for n in CHAPTER_META}
    for path in CHAPTERS.glob("*.ipynb"):
        assert path.name in known, f"{path.name} is not named chNN_<slug>.ipynb from questions.yml"


@pytest.mark.parametrize("chapter", EXISTING)
def test_notebook_is_in_toc(chapter):
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert f"chapters/{notebook_path(chapter).stem}" in toc


@pytest.mark.parametrize("chapter", EXISTING)
def test_notebook_committed_without_outputs(chapter):
    for cell in load(chapter)["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"code cell with outputs: {cell_text(cell)[:60]!r}"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("chapter", EXISTING)
def test_notebook_starts_with_chapter_title(chapter):
    first = cell_text(load(chapter)["cells"][0])
    assert first.startswith(f"# 第{chapter}章"), first[:40]


def _library_names(nb: dict) -> set[str]:
    names = {"interviewlib"}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            names |= {bound for _, _, bound in interviewlib_imports(cell_text(cell))}
    return names


ANSWERED = [q for q in QUESTIONS if q["chapter"] in EXISTING and not q.get("pending")]
PENDING = [q for q in QUESTIONS if q.get("pending")]


@pytest.mark.parametrize("q", PENDING, ids=[q["id"] for q in PENDING])
def test_pending_question_has_no_section_yet(q):
    # A chapter may be written in parts; a question flagged `pending` in the register must
    # not have a section yet, so the flag is removed the moment the answer lands.
    assert isinstance(q["pending"], str) and q["pending"].strip()
    if q["chapter"] in EXISTING:
        assert q["id"] not in sections(load(q["chapter"])), f"{q['id']} is answered: drop its `pending` flag"


@pytest.mark.parametrize("q", ANSWERED, ids=[q["id"] for q in ANSWERED])
def test_question_has_full_anatomy(q):
    nb = load(q["chapter"])
    secs = sections(nb)
    assert q["id"] in secs, f"no section labelled ({q['id']})= in {notebook_path(q['chapter']).name}"
    cells = secs[q["id"]]
    md = "\n".join(cell_text(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join(cell_text(c) for c in cells if c["cell_type"] == "code")
    heading = re.search(r"^## (.*)$", md, re.M).group(1)
    assert heading.startswith(f"{q['chapter']}.{q['number']} "), heading
    # the difficulty stars under the heading come from the register, the one place they are kept
    stars = "★" * q["difficulty"] + "☆" * (3 - q["difficulty"])
    subtitle = md.split(heading, 1)[1].lstrip("\n").split("\n", 1)[0]
    assert f"难度 {stars}" in subtitle, f"{q['id']}: stars under the heading must be {stars} (questions.yml); got {subtitle!r}"
    # the heading keeps the seed's wording (typo fixes allowed, so compare either text)
    assert norm(q["zh"])[:12] in norm(heading) or norm(q["seed"])[:12] in norm(heading), heading
    assert re.search(r":::\{admonition\} 面试速答", md), "no 面试速答 box"
    assert re.search(r"^### 推导", md, re.M) and re.search(r"^### 验证", md, re.M)
    assert re.search(r"\$[^$\n]+\$", md), "no math"
    # show()/use_book_style() only display things: the section must call library code.
    libs = _library_names(nb) - {"show", "use_book_style"}
    assert any(re.search(rf"\b{re.escape(n)}\b", code) for n in libs), "no code cell uses interviewlib"
    assert re.search(r"\bassert\b|assert_allclose|assert_close|assert_array_equal", code), "no check"
    assert re.search(r":::\{dropdown\} 追问", md), "no 追问 dropdown"
    assert "{cite}" in md, "no citation"


# ---------------------------------------------------------------- references


def _bib_keys() -> list[str]:
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    return re.findall(r"^@\w+\{([^,\s]+),", bib, re.M)


def test_bib_keys_unique():
    keys = _bib_keys()
    dup = sorted({k for k in keys if keys.count(k) > 1})
    assert not dup, f"duplicate bib keys: {dup}"


@pytest.mark.parametrize("chapter", EXISTING)
def test_citations_resolve(chapter):
    keys = set(_bib_keys())
    for cell in load(chapter)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", cell_text(cell)):
            for key in group.split(","):
                assert key.strip() in keys, f"unknown citation key {key.strip()!r}"


@pytest.mark.parametrize("chapter", EXISTING)
def test_notebook_declares_python_kernel(chapter):
    # without a kernelspec myst-nb cannot pick a lexer and warns (a -W build fails)
    spec = load(chapter)["metadata"].get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python", spec


@pytest.mark.parametrize("chapter", EXISTING)
def test_notebook_carries_the_kernels_language_info(chapter):
    # JupyterLab writes the kernel's language_info on open and marks a notebook modified when it
    # differs, so a chapter without it looks edited before the reader has touched it
    from book_tools.nb_outputs import kernel_language_info

    info = load(chapter)["metadata"].get("language_info")
    assert info == kernel_language_info(), (
        f"{chapter.path.name}: language_info {info} differs from this interpreter's kernel; "
        "run `.venv/bin/python -m book_tools.nb_outputs --stamp-language`"
    )


def test_audit_accounts_for_every_question_of_written_chapters():
    from book_tools.audit import report

    lines, ok = report()
    assert ok, "\n".join(lines)
    assert lines[-1].startswith("total ") and len(lines) == 14


@pytest.mark.parametrize("chapter", EXISTING)
def test_markdown_has_no_control_characters(chapter):
    # a LaTeX backslash eaten by a non-raw string turns \big, \times, \approx into \b, \t, \a
    for cell in load(chapter)["cells"]:
        if cell["cell_type"] == "markdown":
            text = cell_text(cell)
            bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|\t[A-Za-z]", text)
            assert not bad, f"control character in markdown: {text[max(0, bad.start() - 30):bad.start() + 10]!r}"


@pytest.mark.parametrize("chapter", EXISTING)
def test_internal_links_work_in_jupyterlab_too(chapter):
    # jupyterlab-myst renders cell by cell: a MyST [text](#label) link or {ref} role to another
    # cell finds no target there (console error, dead link); book_tools/links.py writes HTML
    # anchors that Lab and the site both resolve, and every anchor must point at a real label
    labels = {}
    for n in EXISTING:
        for cell in load(n)["cells"]:
            for label in re.findall(r"^\s*\(([\w-]+)\)=\s*$", cell_text(cell), re.M):
                labels[label] = notebook_path(n).name
    for cell in load(chapter)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = cell_text(cell)
        assert not re.search(r"\{ref\}`", text), "use an HTML anchor: python -m book_tools.links"
        assert not re.search(r"\]\(#", text), "use an HTML anchor: python -m book_tools.links"
        for where, label in re.findall(r'<a href="([\w.]*)#([\w-]+)"', text):
            assert label in labels, f"anchor to unknown label #{label}"
            home = "" if labels[label] == notebook_path(chapter).name else labels[label]
            assert where == home, f"#{label} lives in {labels[label]}, not {where or 'this chapter'}"
