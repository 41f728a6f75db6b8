"""The sharded-stage runner: stale shards go, complete ones stay, only missing ones are made, and an up-to-date
stage never runs its (expensive) setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from synth.backends.local import GPU_DRIVER_FILES
from synth.backends.work import ShardJob, ShardWork
from synth.errors import UserError
from synth.stages.runner import run_sharded
from synth.store.shards import ShardPlan, list_shards, write_atomic

CALLS: list[str] = []


def _setup() -> str:
    CALLS.append("setup")
    return "state"


def _make(state: str, job: ShardJob, source: None, advance) -> pa.Table:
    assert state == "state" and source is None
    CALLS.append(f"make {job.plan.index}")
    advance(len(job.plan.seeds))
    return pa.table({"seed": list(job.plan.seeds)})


def _jobs(key: str) -> list[ShardJob]:
    return [ShardJob(ShardPlan(i, (2 * i, 2 * i + 1), f"{key}{i:015x}")) for i in range(3)]


def test_runner_makes_only_what_is_missing(tmp_path):
    work = ShardWork("tiny", "samples", setup=_setup, make=_make)
    CALLS.clear()
    report = run_sharded(work, _jobs("a"), tmp_path, "test", show_progress=False)
    assert CALLS == ["setup", "make 0", "make 1", "make 2"]
    assert report.samples == 6 and len(report.written) == 3 and not report.skipped

    CALLS.clear()
    again = run_sharded(work, _jobs("a"), tmp_path, "test", show_progress=False)
    assert CALLS == [] and len(again.skipped) == 3 and not again.written  # up to date: no setup at all

    (tmp_path / _jobs("a")[1].plan.filename).write_bytes(b"damaged")
    write_atomic(pa.table({"seed": [0]}), tmp_path / "shard-00009-ffffffffffffffff.parquet")  # no longer planned
    (tmp_path / ".shard-00000-x.parquet.123.tmp").write_bytes(b"left by a killed run")
    CALLS.clear()
    repaired = run_sharded(work, _jobs("a"), tmp_path, "test", show_progress=False)
    assert CALLS == ["setup", "make 1"]
    assert sorted(repaired.removed) == [".shard-00000-x.parquet.123.tmp", "shard-00009-ffffffffffffffff.parquet"]
    assert [p.name for p in list_shards(tmp_path)] == [job.plan.filename for job in _jobs("a")]


def test_checks_left_for_later_run_before_anything_is_removed_or_made(tmp_path):
    work = ShardWork("tiny", "samples", setup=_setup, make=_make)
    stale = tmp_path / "shard-00009-ffffffffffffffff.parquet"
    write_atomic(pa.table({"seed": [0]}), stale)

    def refuse() -> None:
        raise UserError("recipes/tiny.yaml: taxonomy.classes[1].name: cannot be located")

    CALLS.clear()
    with pytest.raises(UserError):
        run_sharded(work, _jobs("a"), tmp_path, "test", show_progress=False, finish_checks=refuse)
    assert CALLS == [] and [p.name for p in tmp_path.iterdir()] == [stale.name]

    checked: list[int] = []
    report = run_sharded(
        work, _jobs("a"), tmp_path, "test", show_progress=False, finish_checks=lambda: checked.append(1)
    )
    assert checked == [1] and CALLS == ["setup", "make 0", "make 1", "make 2"] and report.removed == [stale.name]
    run_sharded(work, _jobs("a"), tmp_path, "test", show_progress=False, finish_checks=lambda: checked.append(2))
    assert checked == [1, 2]  # an up-to-date stage still checks its recipe


@pytest.mark.skipif(any(Path(f).exists() for f in GPU_DRIVER_FILES), reason="a GPU driver: torch must be asked")
def test_default_workers_asks_torch_only_where_a_gpu_may_be():
    """Without a GPU driver the per-core default is known without importing torch (a second before any
    worker could start)."""
    code = (
        "import sys; from synth.backends.local import default_workers; print(default_workers(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(os.sched_getaffinity(0))), "False"]
