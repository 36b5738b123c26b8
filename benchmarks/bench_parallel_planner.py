"""Chapter 8 benchmark: the 3D-parallel layout planner on Qwen2.5-72B (80 layers) at 1000 GPUs.

Ours: ``plan_layouts`` (enumerates only tp <= GPUs per node and the divisors of the world size).
Reference: a brute-force planner that loops over every (tp, pp) pair up to the world size and
scores each surviving layout with the public ``estimate_layout``; error = number of fitting
layouts (and their order) on which the two disagree (must be 0). The issue's target is "well
under a second" for a 1000-rank, 80-layer plan: the ours column is that time.

Run: python benchmarks/run.py parallel_planner   (or python benchmarks/bench_parallel_planner.py)
"""

from __future__ import annotations

from harness import Result, compare

from interviewlib.training.parallel import ParallelLayout, check_layout, estimate_layout, plan_layouts

OPTS = dict(zero_stages=(1, 2, 3), micro_batches=(1, 2), recompute=("none", "selective", "full"), virtual_stages=(1, 2))


def _brute_force(world: int, global_batch: int, seq_len: int) -> list[ParallelLayout]:
    fitting = []
    for tp in range(1, world + 1):
        for pp in range(1, world + 1):
            if world % (tp * pp):
                continue
            dp = world // (tp * pp)
            for mb in OPTS["micro_batches"]:
                if global_batch % (dp * mb):
                    continue
                for v in OPTS["virtual_stages"]:
                    for z in OPTS["zero_stages"]:
                        for r in OPTS["recompute"]:
                            lay = ParallelLayout(tp, pp, dp, z, mb, global_batch // (dp * mb), seq_len, r, v)
                            try:
                                check_layout(lay, world_size=world)
                            except ValueError:
                                continue
                            est = estimate_layout(lay)
                            if est.fits:
                                fitting.append(est)
    fitting.sort(key=lambda e: (e.step_time["total"], e.memory.total))
    return [e.layout for e in fitting]


def _ours(world: int, global_batch: int, seq_len: int) -> list[ParallelLayout]:
    return [e.layout for e in plan_layouts(world, global_batch=global_batch, seq_len=seq_len, **OPTS).fitting]


def _mismatch(a: list, b: list) -> float:
    return float(sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b)))


def run() -> list[Result]:
    results = []
    for world, gb, seq in ((1000, 500, 8192), (1000, 125, 32768), (1024, 512, 8192)):
        results.append(
            compare(
                "plan_layouts vs brute-force loop + estimate_layout (Qwen2.5-72B)",
                f"{world} GPUs, batch {gb} x {seq}",
                lambda w=world, g=gb, s=seq: _ours(w, g, s),
                lambda w=world, g=gb, s=seq: _brute_force(w, g, s),
                error=_mismatch,
                repeats=3,
            )
        )
    return results


if __name__ == "__main__":
    from harness import print_table

    print_table(run())
