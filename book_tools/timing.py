"""How long each chapter notebook takes to execute, against its time budget.

``BUDGET_S`` is the one place the budgets are kept: seconds per notebook on the 2 CPU
cores CI has (CONTRIBUTING.md, "Notebooks"). Chapter 8 answers 19 questions and gets
120 s; chapters 9 and 10 get 90 s; chapter 13 (simulators only) 45 s; every other chapter 60 s.

The module is also a pytest plugin for nbval runs (``-p book_tools.timing``; ``make
notebooks``, which ``make test`` runs, and ``make chapter N=8``). It adds up the setup,
call and teardown time of every cell of a notebook (the first cell's setup starts the
kernel, the last one's teardown stops it), so the figure is what executing that notebook
cost in that run; nothing is executed a second time. At the end of the run it prints::

    notebook                     time  budget   used
    ch07_transformer.ipynb      31.2 s    60 s    52%
    ch08_llm_training.ipynb    131.0 s   120 s   109%  OVER BUDGET

and writes the same figures to ``_build/notebook-times.json``. A notebook over budget is
flagged, not failed: a wall-clock number depends on the machine and its load (in ``make
test`` the book build executes the notebooks on the other core at the same time), so it
is a warning to shrink an experiment before CI time grows, not a test.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORD = ROOT / "_build" / "notebook-times.json"

#: Seconds each chapter's notebook may take on 2 CPU cores (one BLAS/torch thread per job).
BUDGET_S: dict[int, int] = {
    1: 60,
    2: 60,
    3: 60,
    4: 60,
    5: 60,
    6: 60,
    7: 60,
    8: 120,  # 19 questions
    9: 90,
    10: 90,
    11: 60,
    12: 60,
    13: 45,  # simulators only (issue: chapter 13 within 45 s)
}

_CHAPTER = re.compile(r"(?:^|/)ch(\d\d)_[^/]*\.ipynb$")


def chapter_of(path: str) -> int | None:
    """Chapter number of a notebook path such as ``chapters/ch07_transformer.ipynb``."""
    m = _CHAPTER.search(path.replace("\\", "/"))
    return int(m.group(1)) if m else None


def budget_of(path: str) -> int | None:
    """Budget in seconds of a chapter notebook, or None for a notebook that is no chapter."""
    chapter = chapter_of(path)
    return BUDGET_S.get(chapter) if chapter is not None else None


def table(times: dict[str, float]) -> tuple[list[str], list[str]]:
    """Lines of the timing table, in chapter order, and the notebooks over budget."""
    names = sorted(times, key=lambda p: (chapter_of(p) or 99, p))
    width = max([len("notebook")] + [len(pathlib.PurePath(p).name) for p in names])
    lines = [f"{'notebook':<{width}}  {'time':>8}  {'budget':>6}  {'used':>5}"]
    over = []
    for path in names:
        name, seconds, budget = pathlib.PurePath(path).name, times[path], budget_of(path)
        if budget is None:
            lines.append(f"{name:<{width}}  {seconds:>6.1f} s  {'-':>6}  {'-':>5}")
            continue
        line = f"{name:<{width}}  {seconds:>6.1f} s  {budget:>4} s  {seconds / budget:>5.0%}"
        if seconds > budget:
            over.append(name)
            line += "  OVER BUDGET"
        lines.append(line)
    if len(names) > 1:
        lines.append(f"{'total':<{width}}  {sum(times.values()):>6.1f} s")
    return lines, over


# ---------------------------------------------------------------- pytest plugin

_times: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report) -> None:
    """Add each phase of each notebook cell to its notebook's total."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the table and record it in ``_build/notebook-times.json``."""
    if not _times:
        return
    lines, over = table(dict(_times))
    terminalreporter.write_sep("-", "notebook execution time vs budget (book_tools/timing.py)")
    for line in lines:
        terminalreporter.write_line(line)
    if over:
        terminalreporter.write_line(
            f"over budget: {', '.join(over)}; shrink the experiments (CONTRIBUTING.md, 'Notebooks')",
            yellow=True,
            bold=True,
        )
    record = {
        path: {"seconds": round(seconds, 2), "budget_s": budget_of(path)} for path, seconds in sorted(_times.items())
    }
    try:
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only checkout still gets the printed table
        terminalreporter.write_line(f"could not write {RECORD}: {exc}")
