"""The local executor: every shard in this process, one after another, each written atomically.

A ``make`` that returns a future (synthesize: samples are encoded beside the generator) is written by a thread
while the next shard is made; a plain table is written at once, so at most one shard is held at a time.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from synth.backends.work import ShardJob, ShardWork
from synth.core.torch_runtime import fixed_threads
from synth.store.shards import read_shard, write_atomic


def run_locally(work: ShardWork, jobs: list[ShardJob], out_dir: Path, advance) -> list[str]:
    """Make ``jobs`` into ``out_dir``; the shard names written, in job order."""
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
