"""Notebooks are committed without outputs: ``python -m book_tools.nb_outputs [--fix] [FILE ...]``.

Checks that no code cell of the given notebooks (default: ``chapters/*.ipynb``) has
outputs or an execution count; the book build and nbval execute the notebooks, so a
committed output would only be stale. ``--fix`` clears them in place (nothing else in the
file changes). Exits 1 when a notebook had outputs (also after fixing, so that a
pre-commit hook stops the commit and the cleared file can be staged). Used by the
``notebook-outputs`` hook of ``.pre-commit-config.yaml``.

``--stamp-language`` writes the running IPython kernel's ``language_info`` into each
notebook's metadata. JupyterLab sets that field from the kernel when a notebook opens and
marks the notebook modified if it differs, so a chapter committed without it (or with another
Python version's) shows as changed before the reader touches it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from book_tools.extract import CHAPTERS


def dirty_cells(nb: dict) -> list[int]:
    """Indices of the code cells that carry outputs or an execution count."""
    return [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]


def clear(nb: dict) -> None:
    """Remove every code cell's outputs and execution count, in place."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


def kernel_language_info() -> dict:
    """The ``language_info`` the IPython kernel of this interpreter reports (what Lab writes)."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def stamp_language_info(path: pathlib.Path) -> bool:
    """Write :func:`kernel_language_info` into ``path``'s metadata; True if it changed."""
    import nbformat

    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    info = kernel_language_info()
    if notebook.metadata.get("language_info") == info:
        return False
    notebook.metadata["language_info"] = info
    nbformat.write(notebook, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=pathlib.Path, help="notebooks (default: chapters/*.ipynb)")
    parser.add_argument("--fix", action="store_true", help="clear the outputs in place")
    parser.add_argument("--stamp-language", action="store_true", help="write the kernel's language_info")
    args = parser.parse_args(argv)
    files = args.files or sorted(CHAPTERS.glob("*.ipynb"))
    if args.stamp_language:
        for path in files:
            if stamp_language_info(path):
                print(f"{path}: language_info set to this interpreter's kernel")
        return 0
    bad = 0
    for path in files:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = dirty_cells(nb)
        if not cells:
            continue
        bad += 1
        shown = ", ".join(map(str, cells[:10])) + (" ..." if len(cells) > 10 else "")
        if args.fix:
            import nbformat  # writes the layout jupytext and JupyterLab write

            notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
            clear(notebook)
            nbformat.write(notebook, path)
            print(f"{path}: cleared outputs of {len(cells)} code cell(s): {shown}")
        else:
            print(f"{path}: {len(cells)} code cell(s) with outputs or execution counts: {shown}")
    if bad and not args.fix:
        print("Commit notebooks without outputs: python -m book_tools.nb_outputs --fix FILE")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
