"""Chapter 8 benchmark: our pipeline-schedule simulator vs a longest-path pass over the same DAG.

An 80-layer model cut into pipeline stages (one layer per stage for p = 80; p = 8 or 16 ranks with
v = 10 or 5 interleaved chunks), many micro-batches. "ours" is simulate_pipeline (round-robin
list scheduling over the per-rank orders); the reference builds the dependency graph explicitly
(rank order + data dependencies) and takes longest paths in a stdlib graphlib topological
order. Error: largest |end-time difference| over all actions. The schedule is generated once,
outside the timing. Run: python benchmarks/run.py pipeline_schedule
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from harness import Result, compare

from interviewlib.training.parallel import (
    gpipe_schedule,
    interleaved_1f1b_schedule,
    one_f_one_b_schedule,
    simulate_pipeline,
    zb_h1_schedule,
)

T_F, T_B, T_W = 1.0, 2.0, 1.0


def _longest_path_ends(sched) -> dict:
    v, last = sched.n_chunks, sched.n_stages - 1
    cost = {"F": T_F / v, "B": T_B / v, "I": (T_B - T_W) / v, "W": T_W / v}
    grad = {a.stage: a.kind for acts in sched.order for a in acts if a.kind in "BI"}
    graph: dict = {}
    for acts in sched.order:
        for i, a in enumerate(acts):
            preds = [acts[i - 1]] if i else []
            kind, s, j = a
            if kind == "F" and s:
                preds.append(type(a)("F", s - 1, j))
            elif kind == "W":
                preds.append(type(a)("I", s, j))
            elif kind in "BI":
                preds.append(type(a)("F", s, j))
                if s < last:
                    preds.append(type(a)(grad[s + 1], s + 1, j))
            graph[a] = preds
    end: dict = {}
    for a in TopologicalSorter(graph).static_order():
        end[a] = max((end[p] for p in graph[a]), default=0.0) + cost[a.kind]
    return end


def _max_end_diff(tl, ref_end) -> float:
    return max(
        abs(e - ref_end[a]) for acts, ends in zip(tl.schedule.order, tl.end, strict=True) for a, e in zip(acts, ends)
    )


def run() -> list[Result]:
    cases = [
        ("GPipe", "p=80 (1 layer each), m=320", gpipe_schedule(80, 320)),
        ("1F1B", "p=80 (1 layer each), m=320", one_f_one_b_schedule(80, 320)),
        ("ZB-H1", "p=80 (1 layer each), m=320", zb_h1_schedule(80, 320)),
        ("interleaved 1F1B", "p=8, v=10 (80 stages), m=256", interleaved_1f1b_schedule(8, 256, 10)),
        ("interleaved 1F1B", "p=16, v=5 (80 stages), m=256", interleaved_1f1b_schedule(16, 256, 5)),
    ]
    results = []
    for name, size, sched in cases:
        n = sum(len(acts) for acts in sched.order)
        results.append(
            compare(
                f"simulate_pipeline vs graphlib longest path: {name}",
                f"{size}, {n} actions",
                lambda sched=sched: simulate_pipeline(sched, t_f=T_F, t_b=T_B, t_w=T_W),
                lambda sched=sched: _longest_path_ends(sched),
                error=_max_end_diff,
                repeats=3,
                warmup=0,
            )
        )
    return results


if __name__ == "__main__":
    from harness import print_table

    print_table(run())
