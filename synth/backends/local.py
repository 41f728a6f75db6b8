"""The local executor: every shard on this machine, each written atomically; in this process, or in parallel.

With one worker, shards are made in this process one after another. A ``make`` that returns a future
(synthesize: samples are encoded beside the generator) is written by a thread while the next shard is made; a
plain table is written at once, so at most one shard is held at a time. With more, ``workers`` one-thread
processes share the shards (synth/backends/processes.py): the same bytes, one core each.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from synth.backends.work import ShardJob, ShardWork
from synth.core.torch_runtime import fixed_threads
from synth.store.shards import read_shard, write_atomic

# Where one of these exists a GPU driver is installed and torch must be asked; where none does (Linux), torch
# would find no device, and importing it only to hear so costs the command a second before any worker starts.
GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/kfd")  # NVIDIA (CUDA), AMD (ROCm)


def default_workers() -> int:
    """One worker process per CPU core this process may use (each computes on one torch thread); one on a GPU,
    where the device, not the cores, is what the workers would share."""
    import os

    if gpu_possible():
        import torch

        if torch.cuda.is_available():
            return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def gpu_possible() -> bool:
    """False only where torch certainly finds no GPU: on Linux without a GPU driver (and torch not imported)."""
    import sys

    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return True
    return any(Path(name).exists() for name in GPU_DRIVER_FILES)


class LocalExecutor:
    """This machine's executor for one stage run: with several workers their processes start on construction,
    so they set up while the caller finishes its own checks; ``run`` makes the jobs, ``close`` ends it."""

    def __init__(self, work: ShardWork, out_dir: Path, shards: int, workers: int | None = 1):
        """``shards``: how many may be made (no more workers start); ``workers`` None: ``default_workers()``."""
        self.work, self.out_dir = work, out_dir
        count = max(1, min(default_workers() if workers is None else workers, shards))
        self.pool = None
        if count > 1:
            from synth.backends.processes import WorkerProcesses

            self.pool = WorkerProcesses(work, out_dir, count)

    def run(self, jobs: list[ShardJob], advance) -> list[str]:
        """Make ``jobs`` into the output folder; the shard names written, in job order."""
        if self.pool is not None:
            return self.pool.run(jobs, advance)
        with fixed_threads(self.work.threads):
            return _run(self.work, jobs, self.out_dir, advance)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def _run(work: ShardWork, jobs: list[ShardJob], out_dir: Path, advance) -> list[str]:
    state = work.setup()
    failed = True
    written: list[str] = []
    try:
        with ThreadPoolExecutor(1, "write") as writer:
            pending = []
            for job in jobs:
                source = read_shard(Path(job.source), list(work.source_columns)) if work.source_columns else None
                made = work.make(state, job, source, advance)
                del source  # one shard's input at a time: holding it while the next is read grew peak memory
                if isinstance(made, Future):
                    pending.append((job, writer.submit(_write_when_ready, made, out_dir / job.plan.filename)))
                    continue
                write_atomic(made, out_dir / job.plan.filename)
                del made
                written.append(job.plan.filename)
            for job, done in pending:
                done.result()
                written.append(job.plan.filename)
        failed = False
    finally:
        if work.teardown is not None:
            work.teardown(state, failed)
    return written


def _write_when_ready(table: Future, path: Path) -> None:
    write_atomic(table.result(), path)
