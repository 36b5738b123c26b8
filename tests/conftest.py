import contextlib
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Tiny tensors: intra-op threads only add contention on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _importable_by_spawned_children(module_name: str):
    """Spawned workers unpickle the worker function by module name: put that module's root on sys.path
    (tests are imported with --import-mode=importlib, so it is not there by default)."""
    parts = module_name.split(".")
    here = Path(sys.modules[module_name].__file__).resolve()
    if here.with_suffix("").parts[-len(parts) :] != tuple(parts):
        pytest.fail(f"cannot make module {module_name!r} importable from {here} for torch.multiprocessing spawn")
    root = str(here.parents[len(parts) - 1])
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        yield
    finally:
        if added:
            sys.path.remove(root)


def _spawn_workers(worker, *, world: int, out_dir: Path, timeout_s: float) -> None:
    """Run ``worker(rank, world, port, out_dir)`` in ``world`` spawned processes on a free localhost
    port; always joined, killed and reported as a failure after ``timeout_s`` (a rendezvous hang)."""
    if not 1 <= world <= 4:
        raise ValueError(f"world must be 1..4 processes on this 2-core machine; got {world}.")
    with _importable_by_spawned_children(worker.__module__):
        ctx = mp.start_processes(
            worker, args=(world, _free_port(), str(out_dir)), nprocs=world, join=False, start_method="spawn"
        )
    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=0.5):  # re-raises a worker's exception with its traceback
            if time.monotonic() > deadline:
                pytest.fail(f"{worker.__name__} workers did not finish within {timeout_s:.0f} s (killed); a hang?")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
            p.join()


@pytest.fixture
def spawn_workers():
    """``spawn_workers(worker, world=2, out_dir=tmp_path, timeout_s=60)`` for torch.distributed tests."""
    return _spawn_workers
