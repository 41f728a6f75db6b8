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


def default_workers() -> int:
    """One worker process per CPU core this process may use (each computes on one torch thread); one on a GPU,
    where the device, not the cores, is what the workers would share."""
    import os

    import torch

    if torch.cuda.is_available():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_locally(work: ShardWork, jobs: list[ShardJob], out_dir: Path, advance, workers: int | None = 1) -> list[str]:
    """Make ``jobs`` into ``out_dir`` with ``workers`` processes (1: this one; None: ``default_workers()``, asked
    only once there is work, since it imports torch); the shard names written, in job order."""
    workers = max(1, min(default_workers() if workers is None else workers, len(jobs)))
    if workers > 1:
        from synth.backends.processes import run_in_processes

        return run_in_processes(work, jobs, out_dir, advance, workers)
    with fixed_threads(work.threads):
        return _run(work, jobs, out_dir, advance)


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
