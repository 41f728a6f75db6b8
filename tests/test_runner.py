"""The sharded-stage runner: stale shards go, complete ones stay, only missing ones are made, and an up-to-date
stage never runs its (expensive) setup."""

from __future__ import annotations

import pyarrow as pa

from synth.backends.work import ShardJob, ShardWork
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
