"""The local executor's parallel form: worker processes on this machine, each computing on one torch thread.

Generation computes on ``ShardWork.threads`` (one) torch threads so that its bytes never depend on the machine
(synth/core/torch_runtime.py): one process then uses one core. To use the others with the same bytes, this module
starts ``workers`` fresh interpreters (spawn: this process may hold torch's thread pools, which a forked child
would inherit half-initialised). Each runs ``ShardWork.setup`` once, then takes whole shards from a shared queue,
makes each with the same ``ShardWork.make`` the one-process executor and the Ray actors run, and writes it
atomically into the output folder; progress and finished shard names come back on an event queue. A worker that
fails sends its error (a ``UserError`` stays one line) and the run stops; one that dies (killed, out of memory)
stops it too, leaving only the shards already finished, each complete.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from concurrent.futures import Future
from pathlib import Path

from synth.backends.work import ShardJob, ShardWork
from synth.core.torch_runtime import fixed_threads
from synth.errors import UserError
from synth.store.shards import read_shard, write_atomic

POLL_SECONDS = 1.0  # how often the driver looks for a worker that died without a word
GRACE_SECONDS = 60.0  # how long a worker may take to finish its shard after another reported bad input
PARENT_POLL_SECONDS = 0.2  # how often a worker looks whether the process that started it is still there


class WorkerFailed(RuntimeError):
    """A worker process raised something other than a ``UserError``: its traceback, as the worker printed it."""


class WorkerProcesses:
    """``workers`` processes started at once, each setting up (imports, model) before any job exists.

    The caller can then finish what it checks before making anything (``synth synthesize`` reads the model's
    tokenizer, a second of imports) while the workers import torch and load their model, and hand them the jobs
    with ``run``; or ``close`` without running, which stops them: a worker writes only the jobs it is given.
    """

    def __init__(self, work: ShardWork, out_dir: Path, workers: int):
        context = multiprocessing.get_context("spawn")
        self.tasks, self.events = context.Queue(), context.Queue()
        self.procs = [
            context.Process(
                target=_serve,
                args=(work, self.tasks, self.events, str(out_dir), os.getpid()),
                name=f"{work.kind}-{i}",
                daemon=True,
            )
            for i in range(workers)
        ]
        for proc in self.procs:
            proc.start()
        self.ran = False

    def run(self, jobs: list[ShardJob], advance) -> list[str]:
        """Make ``jobs`` (the shard names written, in job order); the workers exit when they are done."""
        self.ran = True
        for job in jobs:
            self.tasks.put(job)
        for _ in self.procs:
            self.tasks.put(None)  # one stop sign per worker, after every job
        written: set[str] = set()
        try:
            _collect(self.events, self.procs, advance, written)
        except UserError:
            _wind_down(self.tasks, self.procs)
            raise
        except BaseException:
            _stop(self.tasks, self.procs)
            raise
        finally:
            for proc in self.procs:
                proc.join()
        return [job.plan.filename for job in jobs if job.plan.filename in written]

    def close(self) -> None:
        """Stop workers that were never given a job (they are still setting up, or waiting): nothing to lose."""
        if not self.ran:
            _stop(self.tasks, self.procs)
            for proc in self.procs:
                proc.join()


def _wind_down(tasks, procs) -> None:
    """Bad input: the other workers take no new shard and exit on their own, so their own exit handlers release
    what they hold (a killed process leaks its semaphores: the resource tracker's warning would follow the one
    line of the error); one still busy after GRACE_SECONDS is stopped."""
    try:
        while True:
            tasks.get_nowait()
    except queue.Empty:
        pass
    for _ in procs:
        tasks.put(None)
    for proc in procs:
        proc.join(timeout=GRACE_SECONDS)
    _stop(tasks, [proc for proc in procs if proc.is_alive()])


def _stop(tasks, procs) -> None:
    tasks.cancel_join_thread()  # the workers are stopped here; nobody reads what is left in the queue
    for proc in procs:
        proc.terminate()


def _collect(events, procs, advance, written: set[str]) -> None:
    """Forward progress and finished shards until every worker has said it is done; raise what a worker raised."""
    done = 0
    while done < len(procs):
        try:
            kind, value = events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            for proc in procs:
                if proc.exitcode not in (None, 0):
                    raise WorkerFailed(f"worker process {proc.name} died (exit code {proc.exitcode})") from None
            continue
        if kind == "progress":
            advance(value)
        elif kind == "shard":
            written.add(value)
        elif kind == "done":
            done += 1
        elif kind == "user_error":
            raise UserError(value)
        else:
            raise WorkerFailed(f"a worker process failed:\n{value}")


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as the process that started it is gone.

    Daemon workers are stopped by a parent that exits, not by one killed with ``kill -9`` (or out of memory):
    they would go on taking shards nobody waits for, competing for the cores with the user's next run and
    writing into the folder it is filling. Polling the parent id works on every POSIX system (a prctl death
    signal is Linux-only and tied to the thread that started the child).
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(work: ShardWork, tasks, events, out_dir: str, parent: int) -> None:
    """A worker's life: set up once, make shards until the stop sign, tear down; every outcome goes to ``events``."""
    _exit_with_parent(parent)
    try:
        with fixed_threads(work.threads):
            state = work.parallel_setup()()
        failed = True
        try:
            while (job := tasks.get()) is not None:
                _make_one(work, state, job, Path(out_dir), events)
            failed = False
        finally:
            if work.teardown is not None:
                work.teardown(state, failed)
    except UserError as error:
        events.put(("user_error", str(error)))
    except BaseException:
        events.put(("error", traceback.format_exc()))
    else:
        events.put(("done", None))


def _make_one(work: ShardWork, state, job: ShardJob, out_dir: Path, events) -> None:
    source = read_shard(Path(job.source), list(work.source_columns)) if work.source_columns else None
    with fixed_threads(work.threads):
        made = work.make(state, job, source, lambda n=1: events.put(("progress", n)))
    table = made.result() if isinstance(made, Future) else made  # a Future where the work encodes beside itself
    write_atomic(table, out_dir / job.plan.filename)
    events.put(("shard", job.plan.filename))
