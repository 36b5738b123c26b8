"""Contributor tooling: pre-commit hooks, notebook budgets and timing, the outputs check, the docs.

CONTRIBUTING.md describes these; the tests keep the description and the files in step.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
from collections import defaultdict
from types import SimpleNamespace

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from book_tools import nb_outputs, timing  # noqa: E402

REGISTER = yaml.safe_load((ROOT / "chapters" / "questions.yml").read_text(encoding="utf-8"))
REQUIREMENTS = (ROOT / "requirements.txt").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _pinned(package: str) -> bool:
    return re.search(rf"^{re.escape(package)}==[\w.]+\s*$", REQUIREMENTS, re.M | re.I) is not None


# ---------------------------------------------------------------- pre-commit


def test_pre_commit_hooks_are_local_and_use_the_pinned_venv_tools():
    # `repo: local` + `language: system`: pre-commit clones and installs nothing, so a commit
    # works offline and runs the versions requirements.txt pins (the ones CI runs).
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert config["repos"], "no hooks configured"
    hooks = []
    for repo in config["repos"]:
        assert repo["repo"] == "local", f"hook repository {repo['repo']!r} would be downloaded at commit time"
        assert "rev" not in repo
        hooks += repo["hooks"]
    ids = {h["id"] for h in hooks}
    assert {"ruff-check", "notebook-outputs"} <= ids, ids
    for hook in hooks:
        assert hook["language"] == "system", hook
        assert "additional_dependencies" not in hook, hook
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/"), f"{hook['id']}: {tool} is not the venv's tool"
    assert _pinned("pre-commit") and _pinned("ruff")


def test_pre_commit_notebook_hook_runs_the_outputs_check():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hook = next(h for r in config["repos"] for h in r["hooks"] if h["id"] == "notebook-outputs")
    assert hook["entry"].endswith("-m book_tools.nb_outputs")
    assert re.search(hook["files"], "chapters/ch01_matrix.ipynb")


# ---------------------------------------------------------------- notebooks without outputs


def _notebook(outputs: list, execution_count: int | None) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# 第1章"]},
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "source": ["print(1)"],
                "outputs": outputs,
                "execution_count": execution_count,
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_outputs_check_passes_a_clean_notebook(tmp_path):
    path = tmp_path / "ch01_x.ipynb"
    path.write_text(json.dumps(_notebook([], None)), encoding="utf-8")
    assert nb_outputs.main([str(path)]) == 0


@pytest.mark.parametrize(
    ("outputs", "count"),
    [([{"output_type": "stream", "name": "stdout", "text": ["1\n"]}], 1), ([], 7)],
    ids=["outputs", "execution-count"],
)
def test_outputs_check_fails_then_fix_clears(tmp_path, capsys, outputs, count):
    path = tmp_path / "ch01_x.ipynb"
    path.write_text(json.dumps(_notebook(outputs, count)), encoding="utf-8")
    assert nb_outputs.main([str(path)]) == 1
    assert "1 code cell(s)" in capsys.readouterr().out
    # --fix clears and still exits 1, so the hook stops the commit until the file is re-staged
    assert nb_outputs.main(["--fix", str(path)]) == 1
    code = json.loads(path.read_text(encoding="utf-8"))["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["source"] == ["print(1)"] or code["source"] == "print(1)"
    assert nb_outputs.main([str(path)]) == 0


def test_committed_chapters_pass_the_outputs_check():
    assert nb_outputs.main([]) == 0


# ---------------------------------------------------------------- budgets and timing


def test_every_chapter_has_the_budget_the_house_style_gives():
    # 60 s per notebook on 2 CPU cores, 90 s for chapters 9-10, 120 s for chapter 8; chapter 13
    # (simulators only) was given 45 s by its issue, inside the house limit.
    chapters = [c["number"] for c in REGISTER["chapters"]]
    assert sorted(timing.BUDGET_S) == chapters == list(range(1, 14))
    expected = {n: 120 if n == 8 else 90 if n in (9, 10) else 45 if n == 13 else 60 for n in chapters}
    assert timing.BUDGET_S == expected


def test_budget_of_reads_the_chapter_from_the_notebook_name():
    assert timing.budget_of("chapters/ch08_llm_training.ipynb") == 120
    assert timing.budget_of("ch10_rl.ipynb") == 90
    assert timing.budget_of("chapters/ch01_matrix.ipynb") == 60
    assert timing.budget_of("chapters/scratch.ipynb") is None


def test_timing_table_orders_by_chapter_and_flags_over_budget():
    lines, over = timing.table(
        {
            "chapters/ch10_rl.ipynb": 45.0,
            "chapters/ch08_llm_training.ipynb": 130.0,
            "chapters/ch02_probability.ipynb": 12.5,
            "notes/scratch.ipynb": 1.0,
        }
    )
    assert over == ["ch08_llm_training.ipynb"]
    body = lines[1:-1]
    assert [line.split()[0] for line in body] == [
        "ch02_probability.ipynb",
        "ch08_llm_training.ipynb",
        "ch10_rl.ipynb",
        "scratch.ipynb",
    ]
    assert "12.5 s" in body[0] and "60 s" in body[0] and "21%" in body[0] and "OVER" not in body[0]
    assert body[1].endswith("OVER BUDGET") and "108%" in body[1]
    assert "OVER" not in body[2] and "50%" in body[2]
    assert lines[-1].split() == ["total", "188.5", "s"]


def test_timing_plugin_adds_every_phase_of_every_cell(monkeypatch):
    monkeypatch.setattr(timing, "_times", defaultdict(float))
    for nodeid, duration in [
        ("chapters/ch07_transformer.ipynb::Cell 0", 2.0),  # setup: starts the kernel
        ("chapters/ch07_transformer.ipynb::Cell 0", 0.5),
        ("chapters/ch07_transformer.ipynb::Cell 1", 1.5),
        ("chapters/ch01_matrix.ipynb::Cell 0", 3.0),
        ("tests/book/test_tooling.py::test_x", 9.0),  # not a notebook
    ]:
        timing.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=duration))
    assert dict(timing._times) == {"chapters/ch07_transformer.ipynb": 4.0, "chapters/ch01_matrix.ipynb": 3.0}


def test_make_targets_time_the_notebooks_and_measure_coverage():
    assert re.search(r"^NBVAL :=.*-p book_tools\.timing", MAKEFILE, re.M)
    assert re.search(r"^notebooks:.*\n\t\$\(NBVAL\) chapters$", MAKEFILE, re.M)
    assert re.search(r"^chapter:", MAKEFILE, re.M)
    floor = re.search(r"^COV_FLOOR := (\d+)$", MAKEFILE, re.M)
    assert floor and 50 <= int(floor.group(1)) <= 100
    assert re.search(r"^COV \?=.*--cov-fail-under=\$\(COV_FLOOR\)", MAKEFILE, re.M)
    assert re.search(r"^unit:.*\n\t.*pytest .*\$\(COV\)", MAKEFILE, re.M)
    assert _pinned("pytest-cov")


# ---------------------------------------------------------------- the contributor docs


def test_readme_links_contributing_and_points_at_nothing_outside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(CONTRIBUTING.md)" in readme
    assert not re.search(r"shared folder|shared/|/work/|\.\./", readme), "README refers to a path outside the clone"


def test_contributing_covers_the_loops_and_every_file_it_names_exists():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for needed in [
        "面试速答",
        "### 推导",
        "### 实现",
        "### 验证",
        "### 追问",
        "pending",
        "make audit",
        "make chapter N=",
        "make check",
        "jupytext --to ipynb",
        "See question q",
        "--cov-fail-under",
        ".venv/bin/pre-commit install",
    ]:
        assert needed in text, f"CONTRIBUTING.md does not mention {needed!r}"
    for path in re.findall(r"`((?:book_tools|tests|chapters|benchmarks|src)/[\w./-]+\.(?:py|yml|md))`", text):
        assert (ROOT / path).exists(), f"CONTRIBUTING.md names {path}, which does not exist"


def test_lab_landing_notebook_is_current():
    # make lab opens lab/start_here.ipynb; it is generated from the register and the chapters
    from book_tools import lab_start
    from book_tools.extract import load

    assert lab_start.main(["--check"]) == 0, "run python -m book_tools.lab_start"
    text = lab_start.START.read_text(encoding="utf-8")
    for chapter in (c for c in load()[0] if c.exists):
        assert f"../{chapter.docname}.ipynb" in text, chapter.docname
