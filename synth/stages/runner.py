"""The loop every sharded stage runs: plan -> prune -> skip finished -> reuse -> progress -> make and write atomically.

A stage says which shards it consists of (``ShardJob``s, each named by the key of what makes it) and how one is
made (``ShardWork``); this module removes shards no longer planned (and leftovers of killed runs), skips the
complete ones, takes what it can from ``reuse`` (synthesize: the shards other recipes made, synth/store/shared.py)
and hands the rest to an executor with one progress bar. ``setup`` runs only when something is left to make, so
an up-to-date stage loads no model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synth.backends.local import run_locally
from synth.backends.work import ShardJob, ShardWork
from synth.progress import progress_bar
from synth.stages import StageReport
from synth.store.shards import ShardPlan, is_complete, prune


def run_sharded(
    work: ShardWork,
    jobs: list[ShardJob],
    out_dir: Path,
    description: str,
    show_progress: bool = True,
    backend: str = "local",
    backend_options: dict | None = None,
    report: StageReport | None = None,
    reuse: Callable[[ShardPlan, Path], bool] | None = None,
) -> StageReport:
    """Bring ``out_dir`` to exactly the planned shards; ``backend`` ("local" or "ray") is how, never what.

    ``reuse(plan, path)`` is asked for each missing shard before anything is made: True when it put that shard,
    complete, at ``path``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = report or StageReport()
    report.removed += [p.name for p in prune(out_dir, [job.plan.filename for job in jobs])]
    report.samples += sum(len(job.plan.seeds) for job in jobs)
    todo = []
    for job in jobs:
        if is_complete(out_dir / job.plan.filename, len(job.plan.seeds)):
            report.skipped.append(job.plan.filename)
        elif reuse is not None and reuse(job.plan, out_dir / job.plan.filename):
            report.reused.append(job.plan.filename)
        else:
            todo.append(job)
    if not todo:
        return report
    with progress_bar(description, sum(len(job.plan.seeds) for job in todo), show_progress) as advance:
        if backend == "ray":
            from synth.backends.ray_backend import run_on_ray

            report.written.extend(run_on_ray(work, todo, out_dir, advance, **(backend_options or {})))
        else:
            report.written.extend(run_locally(work, todo, out_dir, advance, **(backend_options or {})))
    return report
