"""Run a function on several gloo processes on localhost, from a script, a test or a notebook.

``torch.multiprocessing`` with the ``spawn`` start method pickles the worker by module and name,
so workers are top-level library functions (a notebook cell's function would not unpickle in
the child). Each child joins a gloo process group on a free loopback port, runs the worker,
writes its return value to a temporary directory and leaves the group; the parent always joins
or kills every child and raises a clear error on a worker failure or a hang.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ...transformer._checks import check_int

MAX_WORLD = 4  # the CI machine has 2 cores; more processes only oversubscribe it


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _children_skip_main_script():
    """Spawned children re-run the parent's ``__main__`` file before unpickling; the workers live
    in the library, so hide the script (``python chapter.py`` would otherwise run again per rank)."""
    main = sys.modules.get("__main__")
    saved = getattr(main, "__file__", None)
    if saved is None:  # a notebook kernel or an interactive session: nothing to hide
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = saved


def _trampoline(rank: int, worker: Callable, world: int, port: int, out_dir: str, args: tuple, timeout_s: float):
    torch.set_num_threads(1)  # tiny tensors; intra-op threads would only fight over the cores
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout_s),  # a collective that waits longer raises, not hangs
    )
    try:
        result = worker(rank, world, *args)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def run_workers(
    worker: Callable[..., Any], *, world: int, args: Sequence[Any] = (), timeout_s: float = 60.0
) -> list[Any]:
    """Run ``worker(rank, world, *args)`` on ``world`` gloo processes and return their results by rank.

    Parameters
    ----------
    worker : callable
        A top-level (importable) function. It runs inside an initialised gloo process group
        (``torch.distributed`` is ready to use) and returns a picklable value (tensors are fine).
    world : int
        Number of processes, 1 to 4.
    args : sequence
        Extra positional arguments passed to every rank (picklable).
    timeout_s : float
        Limit for the whole run and for any single collective.

    Returns
    -------
    list
        ``results[r]`` is what rank ``r`` returned.

    Raises
    ------
    TypeError
        If ``worker`` is not a top-level function that the children can import.
    ValueError
        If ``world`` is outside 1..4 or ``timeout_s`` is not positive.
    TimeoutError
        If the workers do not finish within ``timeout_s`` (they are killed first).
    torch.multiprocessing.ProcessRaisedException
        If a worker raised; the message carries its traceback.

    Notes
    -----
    See question q08-18.

    Examples
    --------
    >>> from interviewlib.training.parallel import run_workers
    >>> from interviewlib.training.parallel.launch import rank_and_world
    >>> run_workers(rank_and_world, world=2, timeout_s=60)
    [(0, 2), (1, 2)]
    """
    qualname = getattr(worker, "__qualname__", "<locals>")
    if not callable(worker) or "<locals>" in qualname or "<lambda>" in qualname:  # pickled by name: neither imports
        raise TypeError(
            f"worker must be a top-level function the spawned processes can import; got {worker!r}. "
            "Define it with def in a module (not a lambda, a notebook cell or a closure)."
        )
    if getattr(worker, "__module__", "__main__") == "__main__":
        raise TypeError(f"worker {worker.__name__!r} lives in __main__; spawned children cannot import it.")
    world = check_int(world, "world", low=1)
    if world > MAX_WORLD:
        raise ValueError(f"world must be 1..{MAX_WORLD} processes; got {world}.")
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds; got {timeout_s!r}.")
    with tempfile.TemporaryDirectory(prefix="interviewlib-dist-") as out_dir:
        # pickled by reference: take the copy registered in sys.modules (pytest's importlib mode
        # may have imported this file a second time under the same name)
        trampoline = sys.modules[__name__]._trampoline
        with _children_skip_main_script():
            ctx = mp.start_processes(
                trampoline,
                args=(worker, world, free_port(), out_dir, tuple(args), float(timeout_s)),
                nprocs=world,
                join=False,
                start_method="spawn",
            )
        deadline = time.monotonic() + timeout_s
        try:
            while not ctx.join(timeout=0.2):  # re-raises a worker's exception with its traceback
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{worker.__name__} on {world} processes did not finish within {timeout_s:g} s; "
                        "killed (a collective that not every rank called?)."
                    )
        finally:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
                p.join()
        return [torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=False) for r in range(world)]


def rank_and_world(rank: int, world: int) -> tuple[int, int]:
    """The smallest worker: returns ``(rank, world)`` as seen by ``torch.distributed``."""
    return dist.get_rank(), dist.get_world_size()
