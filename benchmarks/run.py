"""Run every benchmark module (benchmarks/bench_*.py) and print one table per module.

Usage: python benchmarks/run.py [topic ...]     e.g. python benchmarks/run.py linalg
Each bench_<topic>.py defines ``run() -> list[harness.Result]``.
"""

from __future__ import annotations

import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import print_table  # noqa: E402


def main(argv: list[str]) -> int:
    wanted = set(argv)
    for path in sorted(HERE.glob("bench_*.py")):
        topic = path.stem.removeprefix("bench_")
        if wanted and topic not in wanted:
            continue
        module = importlib.import_module(path.stem)
        print(f"\n### {topic}\n")
        print_table(module.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
