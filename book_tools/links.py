"""Cross-references that work both on the site and inside JupyterLab.

jupyterlab-myst renders each markdown cell on its own, so a MyST ``[text](#label)`` link or a
``{ref}`label``` role whose target lies in another cell (or another notebook) finds no target:
it logs a console error and the link does nothing. Plain HTML anchors work in both places,
because every ``(qNN-MM)=`` label becomes the ``id`` of its heading in Sphinx and in Lab:

* same chapter: ``<a href="#q08-02">8.2</a>``;
* another chapter: ``<a href="ch08_llm_training.ipynb#q08-02">8.2</a>``, which Lab opens as a
  notebook; the site build rewrites ``.ipynb#`` to ``.html#`` in such anchors
  (:func:`site_href`, called from ``handbook_ext``).

``python -m book_tools.links`` rewrites the chapter notebooks in place (the drafts' assembler
calls :func:`portable` too), and a structure test keeps MyST-only links out of the chapters.
"""

from __future__ import annotations

import re
import sys

from book_tools.extract import CHAPTERS, load

MD_LINK = re.compile(r"\[([^\]]+)\]\(#([A-Za-z0-9_-]+)\)")
LOCAL_QHREF = re.compile(r'<a href="#q(\d\d)-(\d\d)">')
QREF = re.compile(r"\{ref\}`q(\d\d)-(\d\d)`")
NOTEBOOK_HREF = re.compile(r'(<a\s+href=")(ch\d\d_\w+)\.ipynb#')


def _notebook_of() -> dict[int, str]:
    return {c.number: c.path.name for c in load()[0]}


def portable(markdown: str, chapter: int, notebooks: dict[int, str] | None = None) -> str:
    """``markdown`` with MyST-only internal links replaced by HTML anchors (see the module docstring)."""
    notebooks = notebooks or _notebook_of()

    def ref(m: re.Match) -> str:
        nn, mm = int(m.group(1)), int(m.group(2))
        label = f"q{nn:02d}-{mm:02d}"
        where = "" if nn == chapter else notebooks[nn]
        return f'<a href="{where}#{label}">{nn}.{mm}</a>'

    def local(m: re.Match) -> str:  # an anchor written as same-page that points into another chapter
        nn = int(m.group(1))
        where = "" if nn == chapter else notebooks[nn]
        return f'<a href="{where}#q{m.group(1)}-{m.group(2)}">'

    out = MD_LINK.sub(r'<a href="#\2">\1</a>', markdown)
    return LOCAL_QHREF.sub(local, QREF.sub(ref, out))


def site_href(html: str) -> str:
    """Point a raw-HTML anchor at another chapter's page instead of its notebook."""
    return NOTEBOOK_HREF.sub(r"\1\2.html#", html)


LOCAL_HREF = re.compile(r'(<a\s+href=")#')


def from_appendix(html: str, chapter_page: str) -> str:
    """Anchors of a chapter's markdown, re-pointed for a page in ``appendix/``.

    ``chapter_page`` is the chapter's file name without suffix (``ch01_matrix``): a same-page
    ``#label`` becomes ``../chapters/ch01_matrix.html#label`` and another chapter's
    ``chNN_slug.ipynb#label`` becomes ``../chapters/chNN_slug.html#label``.
    """
    out = NOTEBOOK_HREF.sub(r"\1../chapters/\2.html#", html)
    return LOCAL_HREF.sub(rf"\1../chapters/{chapter_page}.html#", out)


def main() -> int:
    import nbformat

    notebooks = _notebook_of()
    for path in sorted(CHAPTERS.glob("ch*.ipynb")):
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        chapter = int(path.name[2:4])
        changed = 0
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                new = portable(cell.source, chapter, notebooks)
                changed += new != cell.source
                cell.source = new
        if changed:
            nbformat.write(nb, path)
            print(f"{path.name}: {changed} cell(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
