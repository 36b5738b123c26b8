"""Show library source code in a notebook.

``obj??`` and ``%psource`` print through the pager, which an executed notebook (nbval,
the book build) does not record. ``show`` returns an ``IPython.display.Code`` object
instead, so the source is part of the cell's output and appears on the website.
"""

from __future__ import annotations

import inspect
from typing import Any


def show(obj: Any, *, docstring: bool = True):
    """Return the syntax-highlighted source of a function, class or module.

    Parameters
    ----------
    obj : function, class, method or module
        Anything ``inspect.getsource`` accepts.
    docstring : bool
        If False, drop the leading docstring to keep long listings short.

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

    try:
        src = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"obj must be a Python function, class or module with source; got {obj!r} ({exc}).") from exc
    if not docstring:
        src = _strip_docstring(src)
    return Code(src, language="python")


def _strip_docstring(src: str) -> str:
    """Remove the first triple-quoted string after the ``def``/``class`` line."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(src))
    node = tree.body[0] if tree.body else None
    if node is None or not ast.get_docstring(node, clean=False):
        return src
    doc = node.body[0]
    lines = src.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno :])


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
