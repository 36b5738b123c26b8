"""The notebook ``make lab`` opens first: ``python -m book_tools.lab_start [--check]``.

It links every chapter that exists (from ``chapters/questions.yml`` and the notebooks), so it is
generated rather than written by hand; ``--check`` exits 1 when the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys

import nbformat

from book_tools.extract import ROOT, load
from book_tools.nb_outputs import kernel_language_info

START = ROOT / "lab" / "start_here.ipynb"


def build() -> nbformat.NotebookNode:
    """The landing notebook: what the reader gets, the chapter links, how to stop the server."""
    chapters, questions = load()
    lines = [
        "# 机器学习与大模型面试手册 · JupyterLab",
        "",
        "*The handbook in JupyterLab: every chapter is a notebook you can run, change and re-run.*",
        "",
        "每章一个 notebook：`面试速答`、推导、实现（`interviewlib`）、可运行的验证和追问。"
        "打开一章后用 **Run ▸ Run All Cells** 从头执行；改动代码、重跑、对照断言，是这本书最有用的读法。"
        "章节里的题号链接可以直接跳到对应小节。",
        "",
    ]
    for c in chapters:
        if not c.exists:
            continue
        n = sum(1 for q in questions if q.chapter.number == c.number and q.answered)
        lines.append(f"- [第{c.number}章 {c.title}](../{c.docname}.ipynb) · *{c.en}* · {n} 题")
    lines += [
        "",
        "停止服务器：在启动它的终端里按两次 `Ctrl-C`，或者菜单 **File ▸ Shut Down**。"
        "  *To stop the server: press Ctrl-C twice in its terminal, or use File ▸ Shut Down.*",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("\n".join(lines), id="start-here")]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = kernel_language_info()  # else Lab marks it modified on open
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if lab/start_here.ipynb is stale")
    args = parser.parse_args(argv)
    text = nbformat.writes(build()) + "\n"
    if args.check:
        current = START.read_text(encoding="utf-8") if START.is_file() else ""
        if current != text:
            print(f"{START.relative_to(ROOT)} is stale: run python -m book_tools.lab_start")
            return 1
        return 0
    START.parent.mkdir(exist_ok=True)
    START.write_text(text, encoding="utf-8")
    print(f"wrote {START.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
