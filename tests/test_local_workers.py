"""The local backend's worker processes (synth/backends/processes.py): the bytes of one process, finished shards
kept, and a worker's error is the same one line and exit code 2 as in one process."""

from __future__ import annotations

from pathlib import Path

from synth.recipe import load_recipe
from synth.stages.synthesize import synthesize


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.parquet"))}


def test_two_worker_processes_write_the_bytes_of_one(project, tmp_path):
    alone = tmp_path / "alone"
    (alone / "recipes").mkdir(parents=True)
    (alone / "recipes/tiny.yaml").write_bytes((project.root / "recipes/tiny.yaml").read_bytes())
    synthesize(load_recipe("tiny", alone), alone, show_progress=False)
    made = project.synth("synthesize", "tiny", "--workers", "2")
    assert "4 written" in made.stderr
    samples = project.root / "data/tiny/samples"
    assert shard_bytes(samples) == shard_bytes(alone / "data/tiny/samples")
    assert not list(samples.glob(".*.tmp"))
    again = project.synth("synthesize", "tiny")  # nothing left to make
    assert "0 written, 4 up to date" in again.stderr


def test_a_worker_error_is_one_line_exit_2(project):
    project.synth("synthesize", "tiny", "--workers", "2")
    shard = sorted((project.root / "data/tiny/samples").glob("shard-*.parquet"))[1]
    shard.write_bytes(b"not parquet")
    result = project.synth("decode", "tiny", "--quiet", "--workers", "2", check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{shard.name}: corrupt shard" in lines[0], result.stderr
    assert not list((project.root / "data/tiny/masks").glob(".*.tmp"))
