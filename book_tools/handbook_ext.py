"""Sphinx extension with the handbook's build-time tooling (kept out of ``interviewlib``).

* Serves MathJax from the site itself: the copy comes from the ``django-static-mathjax``
  wheel on PyPI (plain static files, no Django needed), so reading the site needs no CDN.
* Generates the question index, the cheat sheet, the mock-interview page and the API
  reference from the register and the notebooks before Sphinx reads anything
  (book_tools/pages.py), and writes the flashcards next to the site after the build
  (book_tools/flashcards.py), with the PDF when ``make pdf`` has printed one
  (book_tools/pdf.py).
* Adds static/handbook.css and static/handbook.js (site-wide layout fixes, including the
  navigation drawer on phones).
* Links both ways between answers and the API reference: a docstring's "question
  q01-02" becomes a link to the answer, and each answer ends with the API entries that
  its code cells call.
* Points Sphinx's Chinese search (jieba) at the book's own dictionary of terms, so that
  words like 奇异值 or 张量并行 are indexed as words, and keeps one-character terms
  (秩, 熵, 核): Sphinx's zh indexer drops every word shorter than two characters; and
  indexes in linear time (see HandbookChinese).
"""

from __future__ import annotations

import importlib
import pathlib
import re
import shutil
import sys

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.search import zh as zh_search
from sphinx.search.zh import SearchChinese

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from book_tools import extract, flashcards, links, pages, pdf  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
JIEBA_DICT = HERE / "jieba_dict.txt"


def _mathjax_source() -> pathlib.Path:
    import mathjax  # the django-static-mathjax distribution installs this package

    es5 = pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax files not found under {es5}; reinstall requirements.txt.")
    return es5


def _configure(app: Sphinx, config: Config) -> None:
    # Stage the MathJax files in a folder of our own and add it to html_static_path:
    # Sphinx copies it to _build/html/_static/mathjax/.
    stage = pathlib.Path(app.doctreedir).parent / "mathjax_static"
    target = stage / "mathjax"
    if not (target / "tex-chtml.js").is_file():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(_mathjax_source(), target)
    config.html_static_path = [*config.html_static_path, str(stage), str(HERE / "static")]
    config.mathjax_path = "mathjax/tex-chtml.js"
    # pydata-sphinx-theme logs a console error on a first visit unless a default mode is set.
    config.html_context = {**(config.html_context or {}), "default_mode": "auto"}
    # Sphinx's zh search loads this dictionary into jieba before indexing.
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(JIEBA_DICT)}


# Single characters that carry no meaning on their own; every other one-character CJK
# word (秩, 熵, 核, 迹, 阶) is kept in the index.
_CJK_STOPWORDS = frozenset("的了是在和与或及等把被也都就而其之这那个为中上下不有会可要对从到用以将则即若如但并所它我你他们来去说着过还又很更最再才只该能")


class HandbookChinese(SearchChinese):
    """Sphinx's Chinese search, but indexing meaningful one-character words too, and in
    linear time.

    Sphinx 7.4's ``SearchChinese`` appends every Latin word of every page to one list and
    tests each word against that list when stemming, so indexing the whole book was
    quadratic: three quarters of the website build's time. Here the same words go into a
    set, which gives the same index.
    """

    def init(self, options: dict[str, str]) -> None:
        super().init(options)
        self._latin_seen: set[str] = set()

    def split(self, input: str) -> list[str]:
        chinese = list(zh_search.jieba.cut_for_search(input)) if zh_search.JIEBA else []
        latin = [term.strip() for term in self.latin1_letters.findall(input)]
        self._latin_seen.update(latin)
        return chinese + latin

    def stem(self, word: str) -> str:
        # as Sphinx: a Latin word of three or more letters that stemming would cut below three stays whole
        lower = word.lower()
        stemmed = self.stemmer.stemWord(lower)
        if word in self._latin_seen and len(word) >= 3 and len(stemmed) < 3:
            return lower
        return stemmed

    def word_filter(self, stemmed_word: str) -> bool:
        if len(stemmed_word) == 1:
            return "\u4e00" <= stemmed_word <= "\u9fff" and stemmed_word not in _CJK_STOPWORDS
        return super().word_filter(stemmed_word)


def _generate_pages(app: Sphinx, config: Config) -> None:
    chapters, questions = extract.load()
    out = pathlib.Path(app.srcdir) / "appendix"
    pages.write_if_changed(out / "questions.md", pages.question_index(chapters, questions))
    pages.write_if_changed(out / "cheatsheet.md", pages.cheatsheet(chapters, questions))
    pages.write_if_changed(out / "api.md", pages.api_reference())
    pages.write_if_changed(out / "mock.md", pages.mock_interview(chapters, questions))
    app.env_answered = {q.id for q in questions if q.answered}  # type: ignore[attr-defined]


_QUESTION_REF = re.compile(r"\bquestion (q\d\d-\d\d)\b")


_CITATION_DEF = re.compile(r"^(\s*)\.\. \[(\w+)\]\s*")
_CITATION_USE = re.compile(r"\[(\w+)\]_")


def _link_questions_in_docstring(app, what, name, obj, options, lines) -> None:
    """'See question q01-02.' -> a link to that answer (only for answers that exist).

    Also turns numpydoc's ``.. [1]`` citations into line blocks (``| [1] ...``): every
    docstring lands on one API page, where Sphinx would report each repeated "[1]" as a
    duplicate target.
    """
    answered = getattr(app, "env_answered", set())
    for i, line in enumerate(lines):
        line = _CITATION_DEF.sub(lambda m: f"{m.group(1)}| [{m.group(2)}] ", line)
        line = _CITATION_USE.sub(lambda m: f"[{m.group(1)}]", line)
        lines[i] = _QUESTION_REF.sub(
            lambda m: f"question :ref:`{m.group(1)} <{m.group(1)}>`" if m.group(1) in answered else m.group(0),
            line,
        )


def _api_targets(code: str) -> dict[str, tuple[str, str]]:
    """Names imported from interviewlib in ``code`` -> (reftype, documented target)."""
    documented = {m for mods in pages.public_modules().values() for m in mods}
    out = {}
    for module_name, name, bound in extract.interviewlib_imports(code):
        if name.startswith("_"):  # private cores are shown in answers but not documented
            continue
        try:
            obj = getattr(importlib.import_module(module_name), name) if name else None
        except (ImportError, AttributeError):
            continue
        module = getattr(obj, "__module__", "")
        # display helpers (show, use_book_style) are plumbing, not answers
        if module in documented and module != "interviewlib.display" and hasattr(obj, "__qualname__"):
            kind = "class" if isinstance(obj, type) else "func"
            out[bound] = (kind, f"{module}.{obj.__qualname__}")
    return out


def _add_api_links(app: Sphinx, doctree: nodes.document) -> None:
    """Append 'API：…' to every answer section, listing the library entries its code uses."""
    if not app.env.docname.startswith("chapters/"):
        return
    blocks = [b for b in doctree.findall(nodes.literal_block) if "cell_input" in b.parent.get("classes", [])]
    targets = _api_targets("\n".join(b.astext() for b in blocks))
    if not targets:
        return
    for section in doctree.findall(nodes.section):
        if not any(re.fullmatch(r"q\d\d-\d\d", i) for i in section["ids"]):
            continue
        code = "\n".join(
            b.astext() for b in section.findall(nodes.literal_block) if "cell_input" in b.parent.get("classes", [])
        )
        used = sorted({t for name, t in targets.items() if re.search(rf"\b{re.escape(name)}\b", code)},
                      key=lambda t: t[1])
        if not used:
            continue
        para = nodes.paragraph(classes=["api-links"])
        para += nodes.Text("本题用到的 API：")
        for i, (kind, target) in enumerate(used):
            if i:
                para += nodes.Text("，")
            ref = addnodes.pending_xref("", refdomain="py", reftype=kind, reftarget=target, refexplicit=False,
                                        refdoc=app.env.docname)
            ref += nodes.literal(target, target.removeprefix("interviewlib."), classes=["xref", "py"])
            para += ref
        section += para


def _drop_thebe(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts: Jupyter Book always loads the extension, its inline
    config is added twice (a console error: THEBE_JS_URL redeclared) and it points at a
    CDN. The book has no live-code button, so the site needs none of it."""
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            s for s in scripts if "thebe" not in (getattr(s, "filename", None) or str(s.attributes.get("body", "")))
        ]


def _write_flashcards(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.name == "html":
        flashcards.write_all(pathlib.Path(app.outdir) / "flashcards")


def _publish_pdf(app: Sphinx, exception: Exception | None) -> None:
    """Copy ``_build/pdf/handbook.pdf`` into the website when ``make pdf`` has built it, and
    write the script that shows (or does not show) its download link (book_tools/pdf.py)."""
    if exception is None and app.builder.format == "html":
        pdf.publish(pathlib.Path(app.outdir))


def _site_links(app: Sphinx, doctree: nodes.document) -> None:
    """Anchors to another chapter's notebook (book_tools/links.py) point at its page on the site."""
    for raw in doctree.findall(nodes.raw):
        if "html" in raw.get("format", "") and ".ipynb#" in raw.astext():
            new = links.site_href(raw.astext())
            raw.children[0] = nodes.Text(new)
            raw.rawsource = new


def setup(app: Sphinx) -> dict:
    app.add_search_language(HandbookChinese)
    app.add_css_file("handbook.css")
    app.add_js_file(pdf.LINK_SCRIPT)
    app.add_js_file("handbook.js")
    app.connect("config-inited", _configure, priority=400)
    app.connect("config-inited", _generate_pages, priority=450)
    app.connect("autodoc-process-docstring", _link_questions_in_docstring)
    app.connect("doctree-read", _add_api_links)
    app.connect("doctree-read", _site_links)
    app.connect("html-page-context", _drop_thebe)
    app.connect("build-finished", _write_flashcards)
    app.connect("build-finished", _publish_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
