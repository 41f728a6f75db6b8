"""The loop every sharded stage runs: plan -> skip finished -> prune -> reuse -> progress -> make and write atomically.

A stage says which shards it consists of (``ShardJob``s, each named by the key of what makes it) and how one is
made (``ShardWork``); this module removes shards no longer planned (and leftovers of killed runs), skips the
complete ones, takes what it can from ``reuse`` (synthesize: the shards other recipes made, synth/store/shared.py)
and hands the rest to an executor with one progress bar. ``setup`` runs only when something is left to make, so
an up-to-date stage loads no model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synth.backends.local import LocalExecutor
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
    finish_checks: Callable[[], object] | None = None,
) -> StageReport:
    """Bring ``out_dir`` to exactly the planned shards; ``backend`` ("local" or "ray") is how, never what.

    ``reuse(plan, path)`` is asked for each missing shard before anything is made: True when it put that shard,
    complete, at ``path``. ``finish_checks`` (the recipe checks the caller left out of loading it) runs before
    anything in ``out_dir`` is removed or made; where shards are missing, local worker processes are already
    starting then, so a check that raises costs no waiting and one that passes overlaps their set-up."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = report or StageReport()
    missing = [job for job in jobs if not is_complete(out_dir / job.plan.filename, len(job.plan.seeds))]
    missing_names = {job.plan.filename for job in missing}
    executor = _open_executor(backend, backend_options, work, out_dir, len(missing)) if missing else None
    try:
        if finish_checks is not None:
            finish_checks()
        report.removed += [p.name for p in prune(out_dir, [job.plan.filename for job in jobs])]
        report.samples += sum(len(job.plan.seeds) for job in jobs)
        report.skipped += [job.plan.filename for job in jobs if job.plan.filename not in missing_names]
        todo = []
        for job in missing:
            if reuse is not None and reuse(job.plan, out_dir / job.plan.filename):
                report.reused.append(job.plan.filename)
            else:
                todo.append(job)
        if todo and executor is not None:
            with progress_bar(description, sum(len(job.plan.seeds) for job in todo), show_progress) as advance:
                report.written.extend(executor.run(todo, advance))
    finally:
        if executor is not None:
            executor.close()
    return report


class _RayExecutor:
    def __init__(self, work: ShardWork, out_dir: Path, options: dict):
        self.work, self.out_dir, self.options = work, out_dir, options

    def run(self, jobs: list[ShardJob], advance) -> list[str]:
        from synth.backends.ray_backend import run_on_ray

        return run_on_ray(self.work, jobs, self.out_dir, advance, **self.options)

    def close(self) -> None:
        pass


def _open_executor(backend: str, options: dict | None, work: ShardWork, out_dir: Path, shards: int):
    if backend == "ray":
        return _RayExecutor(work, out_dir, options or {})
    return LocalExecutor(work, out_dir, shards, **(options or {}))
