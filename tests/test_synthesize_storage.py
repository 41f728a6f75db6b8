"""Shard storage as users rely on it: same recipe same bytes, killed runs resume, extensions add only new shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from synth.recipe import load_recipe
from synth.stages.synthesize import synthesize
from synth.store.codec import decode_png
from tests.conftest import cli_env, copy_project, tiny_recipe


def shard_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("shard-*.parquet"))}


def make(tmp_path: Path, name: str, **changes) -> Path:
    root = tmp_path / name
    (root / "recipes").mkdir(parents=True)
    import yaml

    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe(**changes)))
    return root


def test_same_recipe_same_bytes(tmp_path):
    a, b = make(tmp_path, "a"), make(tmp_path, "b")
    synthesize(load_recipe("tiny", a), a, show_progress=False)
    synthesize(load_recipe("tiny", b), b, show_progress=False)
    first, second = shard_bytes(a / "data/tiny/samples"), shard_bytes(b / "data/tiny/samples")
    assert len(first) == 4 and first == second


def test_samples_hold_exact_masks_and_provenance(tmp_path):
    root = make(tmp_path, "p")
    synthesize(load_recipe("tiny", root), root, show_progress=False)
    table = pq.read_table(sorted((root / "data/tiny/samples").glob("*.parquet"))[0])
    assert table.column("seed").to_pylist() == list(range(10))
    row = table.slice(0, 1).to_pylist()[0]
    image, mask = decode_png(row["image"]), decode_png(row["mask"])
    assert image.shape == (64, 64, 3) and mask.shape == (64, 64)
    assert set(np.unique(mask)) <= {0, 1, 2, 3}
    import json

    provenance = json.loads(row["provenance"])
    assert provenance["seed"] == 0 and provenance["generator"] == "scenes" and provenance["prompt"] == row["prompt"]
    assert provenance["settings_hash"]


def test_extending_seeds_writes_only_new_shards(tmp_path):
    root = make(tmp_path, "e")
    synthesize(load_recipe("tiny", root), root, show_progress=False)
    samples = root / "data/tiny/samples"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in samples.glob("shard-*")}
    import yaml

    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe(seeds=[{"start": 0, "stop": 60}])))
    report = synthesize(load_recipe("tiny", root), root, show_progress=False)
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in samples.glob("shard-*")}
    assert sorted(report.skipped) == sorted(before)
    assert len(report.written) == 2 and not report.removed
    assert all(after[name] == stamp for name, stamp in before.items())  # untouched, not rewritten


def test_changed_generator_replaces_stale_shards(tmp_path):
    root = make(tmp_path, "s")
    synthesize(load_recipe("tiny", root), root, show_progress=False)
    import yaml

    recipe = tiny_recipe()
    recipe["generator"]["max_scale"] = 0.4
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    report = synthesize(load_recipe("tiny", root), root, show_progress=False)
    assert len(report.written) == 4 and len(report.removed) == 4
    assert len(list((root / "data/tiny/samples").glob("shard-*"))) == 4


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc; elsewhere none, and the check below is vacuous there)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_killed_run_resumes_to_identical_bytes(tmp_path):
    """kill -9 mid-run: its worker processes end with it, and the next run makes exactly the missing shards."""
    recipe = tiny_recipe(seeds=[{"start": 0, "stop": 240}], samples_per_shard=20, image_size=96)
    clean = copy_project(tmp_path / "clean")
    clean.write_recipe(recipe)
    clean.synth("synthesize", "tiny", "--quiet")

    killed = copy_project(tmp_path / "killed")
    killed.write_recipe(recipe)
    samples = killed.root / "data/tiny/samples"
    process = subprocess.Popen(
        [sys.executable, "-m", "synth", "synthesize", "tiny", "--quiet"],
        cwd=killed.root,
        env=cli_env(killed.root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(samples.glob("shard-*.parquet"))) < 2:
        time.sleep(0.02)
    workers = _children(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_running(pid) for pid in workers), "worker processes outlived the killed run"
    finished = len(list(samples.glob("shard-*.parquet")))
    assert 2 <= finished < 12, "the run should have been killed mid-way"

    result = killed.synth("synthesize", "tiny", "--quiet")
    assert f"{finished} up to date" in result.stderr
    assert not list(samples.glob(".*tmp"))
    assert shard_bytes(samples) == shard_bytes(clean.root / "data/tiny/samples")


def test_damaged_shard_is_regenerated(tmp_path):
    root = make(tmp_path, "d")
    synthesize(load_recipe("tiny", root), root, show_progress=False)
    shard = sorted((root / "data/tiny/samples").glob("shard-*"))[1]
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])
    report = synthesize(load_recipe("tiny", root), root, show_progress=False)
    assert report.written == [shard.name]
    assert shard.read_bytes() == good


def test_limit_makes_a_preview_subset(tmp_path):
    project = copy_project(tmp_path / "l")
    project.write_recipe(tiny_recipe())
    result = project.synth("synthesize", "tiny", "--limit", "15", "--quiet")
    assert "15 samples in 2 shards" in result.stderr
    rows = sum(pq.read_metadata(p).num_rows for p in (project.root / "data/tiny/samples").glob("shard-*"))
    assert rows == 15
