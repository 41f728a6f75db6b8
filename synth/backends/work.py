"""What a sharded stage hands an executor: per-shard work an executor runs without knowing the stage.

An executor (``local``, ``ray``) gets a ``ShardWork`` and the ``ShardJob``s still to do. ``setup`` runs once per
worker (loading a model is the expensive part) and returns the state every shard of that worker shares; ``make``
turns one job into its shard's table (or, locally, a future of it, so the write overlaps the next shard). Both are
plain module-level functions or ``functools.partial``s of them, so Ray pickles them by reference and a worker
imports the stage's module itself: the executors never import a stage. ``threads`` is part of what is made,
not how: float results depend on torch's thread count, so every executor runs the work on that many threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synth.store.shards import ShardPlan


@dataclass(frozen=True)
class ShardJob:
    plan: ShardPlan
    source: str = ""  # the input shard (a samples shard for decode), or "" when a shard is made from nothing


@dataclass(frozen=True)
class ShardWork:
    name: str  # the dataset: its prefix in an object store
    kind: str  # the output shard folder: its name in an object store (samples, masks)
    setup: Callable[[], Any]
    make: Callable[..., Any]  # (state, job, source table or None, advance) -> pa.Table (or a Future of one, locally)
    teardown: Callable[[Any, bool], None] | None = None  # (state, failed); workers that are killed skip it
    source_kind: str = "samples"  # where a job's source shard lives in an object store
    source_columns: tuple[str, ...] | None = None  # read from a job's source before ``make``; None: no source
    threads: int | None = None  # torch threads ``setup`` and ``make`` compute on in every executor; None: any
    # The setup of a worker among several (a Ray actor, a local worker process), where it differs from the setup
    # of the one in-process worker (which may use a caller's generator, or a child process beside it); None: same.
    worker_setup: Callable[[], Any] | None = None

    def parallel_setup(self) -> Callable[[], Any]:
        return self.worker_setup or self.setup
