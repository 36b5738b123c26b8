"""Show library source code in a notebook.

``obj??`` and ``%psource`` print through the pager, which an executed notebook (nbval,
the book build) does not record. ``show`` returns an ``IPython.display.Code`` object
instead, so the source is part of the cell's output and appears on the website.
"""

from __future__ import annotations

import inspect
from typing import Any


def show(obj: Any, *, docstring: bool | None = None):
    """Return the syntax-highlighted source of a function, class or module.

    Parameters
    ----------
    obj : function, class, method or module
        Anything ``inspect.getsource`` accepts.
    docstring : bool, optional
        True keeps every docstring, False drops them. The default (None) keeps a function's
        docstring but, for a class, shortens the class docstring and each method's to its
        first line, so the code a reader came for is not pushed below a page of parameters
        (the full text is on the API reference page).

    Returns
    -------
    IPython.display.Code
        Rendered as highlighted Python in notebooks and on the website.

    Raises
    ------
    TypeError
        If ``obj`` has no retrievable Python source (a builtin, a lambda typed at a
        prompt, an instance).

    Examples
    --------
    >>> from interviewlib._rng import as_generator
    >>> "def as_generator" in show(as_generator).data
    True
    """
    from IPython.display import Code

    if docstring is not None and not isinstance(docstring, bool):
        raise TypeError(f"docstring must be True, False or None; got {type(docstring).__name__}.")
    try:
        src = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"obj must be a Python function, class or module with source; got {obj!r} ({exc}).") from exc
    if docstring is False:
        src = _strip_docstrings(src, keep_summary=False)
    elif docstring is None and inspect.isclass(obj):
        src = _strip_docstrings(src, keep_summary=True)
    return Code(src, language="python")


def _strip_docstrings(src: str, *, keep_summary: bool) -> str:
    """Drop (or shorten to their first line) the docstrings of the top-level def/class and,
    for a class, of its methods."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(src))
    if not tree.body:
        return src
    top = tree.body[0]
    nodes = [top]
    if isinstance(top, ast.ClassDef):
        nodes += [n for n in top.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lines = src.splitlines(keepends=True)
    indent = len(lines[0]) - len(lines[0].lstrip())  # getsource keeps a method's indentation
    edits = []
    for node in nodes:
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(node)):
            continue
        doc = node.body[0]
        summary = ast.get_docstring(node).strip().splitlines()[0]
        pad = " " * (indent + doc.col_offset)
        repl = [f'{pad}"""{summary}"""\n'] if keep_summary else []
        edits.append((doc.lineno - 1, doc.end_lineno, repl))
    for first, last, repl in sorted(edits, reverse=True):
        lines[first:last] = repl
    return "".join(lines)


def use_book_style() -> None:
    """Matplotlib defaults for the book's figures.

    Figures get an opaque white background, so that black labels stay readable when the
    website is switched to its dark theme (a transparent PNG would show black on black).
    Labels should be in English: the default fonts have no CJK glyphs.
    """
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "figure.dpi": 100,
            "figure.figsize": (6.4, 3.6),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
        }
    )
