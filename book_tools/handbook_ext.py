"""Sphinx extension with the handbook's build-time tooling (kept out of ``interviewlib``).

* Serves MathJax from the site itself: the copy comes from the ``django-static-mathjax``
  wheel on PyPI (plain static files, no Django needed), so reading the site needs no CDN.
* Points Sphinx's Chinese search (jieba) at the book's own dictionary of terms, so that
  words like 奇异值 or 张量并行 are indexed as words, and keeps one-character terms
  (秩, 熵, 核): Sphinx's zh indexer drops every word shorter than two characters.
"""

from __future__ import annotations

import pathlib
import shutil

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.search.zh import SearchChinese

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
    config.html_static_path = [*config.html_static_path, str(stage)]
    config.mathjax_path = "mathjax/tex-chtml.js"
    # Sphinx's zh search loads this dictionary into jieba before indexing.
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(JIEBA_DICT)}


# Single characters that carry no meaning on their own; every other one-character CJK
# word (秩, 熵, 核, 迹, 阶) is kept in the index.
_CJK_STOPWORDS = frozenset("的了是在和与或及等把被也都就而其之这那个为中上下不有会可要对从到用以将则即若如但并所它我你他们来去说着过还又很更最再才只该能")


class HandbookChinese(SearchChinese):
    """Sphinx's Chinese search, but indexing meaningful one-character words too."""

    def word_filter(self, stemmed_word: str) -> bool:
        if len(stemmed_word) == 1:
            return "\u4e00" <= stemmed_word <= "\u9fff" and stemmed_word not in _CJK_STOPWORDS
        return super().word_filter(stemmed_word)


def setup(app: Sphinx) -> dict:
    app.add_search_language(HandbookChinese)
    app.connect("config-inited", _configure, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
