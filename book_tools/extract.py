"""Read the question register and the chapter notebooks; pull out each quick answer.

One extraction feeds the question index, the cheat sheet, the flashcards and the mock
interview page, so a change to a notebook's 面试速答 box or to one of its 追问 changes all
of them on the next build.
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass, field

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"

_LABEL = re.compile(r"^\s*\((q\d\d-\d\d)\)=\s*$", re.M)
_QUICK = re.compile(r"^:::\{admonition\} 面试速答[^\n]*\n(?::class:[^\n]*\n)?(.*?)^:::\s*$", re.M | re.S)
_HEADING = re.compile(r"^## (.+)$", re.M)
# A follow-up is a sphinx-design dropdown titled "追问：…"; its fence may be longer than three
# colons when the body nests another directive.
_FOLLOWUP = re.compile(r"^(:{3,})\{dropdown\} 追问[：:]\s*(.*?)\s*\n(.*?)^\1\s*$", re.M | re.S)


@dataclass
class Chapter:
    number: int
    title: str
    en: str
    slug: str
    part: str

    @property
    def docname(self) -> str:
        return f"chapters/ch{self.number:02d}_{self.slug}"

    @property
    def path(self) -> pathlib.Path:
        return ROOT / f"{self.docname}.ipynb"

    @property
    def exists(self) -> bool:
        return self.path.is_file()


@dataclass
class Question:
    id: str
    chapter: Chapter
    number: int
    zh: str
    en: str
    difficulty: int
    tags: list[str]
    heading: str | None = None  # the section heading in the notebook, when answered
    quick: str | None = None  # markdown body of the 面试速答 box
    followups: list[tuple[str, str]] = field(default_factory=list)  # (question, markdown answer)

    @property
    def answered(self) -> bool:
        return self.heading is not None and self.quick is not None

    @property
    def stars(self) -> str:
        return "★" * self.difficulty + "☆" * (3 - self.difficulty)


def _cells(path: pathlib.Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        src = cell.get("source", "")
        out.append((cell["cell_type"], "".join(src) if isinstance(src, list) else src))
    return out


def _sections(path: pathlib.Path) -> dict[str, str]:
    """Markdown of each labelled question section (label -> text up to the next `## `)."""
    found: dict[str, list[str]] = {}
    current = None
    for kind, text in _cells(path):
        if kind != "markdown":
            continue
        if _HEADING.search(text):
            m = _LABEL.match(text)
            current = m.group(1) if m else None
            if current:
                found[current] = []
        if current:
            found[current].append(text)
    return {k: "\n\n".join(v) for k, v in found.items()}


def load(root: pathlib.Path = ROOT) -> tuple[list[Chapter], list[Question]]:
    """Chapters and questions of the register, with headings and quick answers filled in."""
    register = yaml.safe_load((root / "chapters" / "questions.yml").read_text(encoding="utf-8"))
    chapters = {
        c["number"]: Chapter(c["number"], c["title"], c["en"], c["slug"], c["part"]) for c in register["chapters"]
    }
    questions = []
    cache: dict[int, dict[str, str]] = {}
    for q in register["questions"]:
        ch = chapters[q["chapter"]]
        if ch.exists and ch.number not in cache:
            cache[ch.number] = _sections(ch.path)
        item = Question(q["id"], ch, q["number"], q["zh"], q["en"], q["difficulty"], list(q["tags"]))
        md = cache.get(ch.number, {}).get(q["id"])
        if md is not None:
            item.heading = _HEADING.search(md).group(1).strip()
            m = _QUICK.search(md)
            item.quick = m.group(1).strip() if m else None
            item.followups = [(title, body.strip()) for _, title, body in _FOLLOWUP.findall(md)]
        questions.append(item)
    return list(chapters.values()), questions


def interviewlib_imports(code: str) -> list[tuple[str, str, str]]:
    """``(module, name, bound_name)`` for each ``from interviewlib... import name [as alias]``.

    Parsed with ``ast`` (IPython magics and shell lines are blanked first), so
    parenthesised multi-line imports are read correctly.
    """
    import ast

    lines = [("" if ln.lstrip().startswith(("%", "!")) else ln) for ln in code.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "interviewlib":
            out += [(node.module, a.name, a.asname or a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "", a.asname or a.name) for a in node.names if a.name.split(".")[0] == "interviewlib"]
    return out
