"""Chapter 8 benchmark: our ring all-reduce (isend/recv, reduce-scatter + all-gather) vs gloo's all_reduce.

Both run in the same gloo worker processes on localhost, interleaved, each call between two
barriers; float32 tensors of N elements; the median over 5 repeats of rank 0's time is reported.
Error: largest |ours - dist.all_reduce| on rank 0. "bytes/rank" is what our ring sent, against
2(p-1)/p * N * 4. Our ring pays one Python-level isend/recv round per step (2(p-1) steps) and a
separate add; gloo's own algorithm runs in C++ and pipelines. Run: python benchmarks/run.py ring_allreduce
"""

from __future__ import annotations

from harness import Result

from interviewlib.training.parallel import all_reduce_timing, ring_all_reduce_bytes, run_workers

SIZES = (1_000, 100_000, 1_000_000, 4_000_000)


def run() -> list[Result]:
    results = []
    for world in (2, 4):
        rows = run_workers(all_reduce_timing, world=world, args=(SIZES, 5), timeout_s=300)[0]
        for row in rows:
            formula = ring_all_reduce_bytes(row["n"], world, 4)
            results.append(
                Result(
                    f"ring all-reduce (send/recv) vs dist.all_reduce, p={world}",
                    f"N={row['n']:,} fp32, bytes/rank {row['bytes']:,} (formula {formula:,})",
                    row["ours_s"], row["ref_s"], row["error"], None,
                )
            )
    return results
