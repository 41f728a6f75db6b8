"""Synthesis on a local Ray cluster gives the local backend's bytes, survives a worker dying mid-shard, and an
unreachable cluster address is one clear error."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import yaml

from synth.recipe import load_recipe
from synth.stages.synthesize import synthesize
from tests.conftest import tiny_recipe

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def project_with_tiny(root: Path, **changes) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe(**changes)))
    return root


def shard_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "data/tiny/samples").glob("shard-*.parquet"))}


def test_ray_backend_writes_the_local_bytes(tmp_path, cluster):
    local, remote = project_with_tiny(tmp_path / "local"), project_with_tiny(tmp_path / "ray")
    synthesize(load_recipe("tiny", local), local, show_progress=False)
    report = synthesize(load_recipe("tiny", remote), remote, show_progress=False, backend="ray", backend_options={"workers": 2})
    assert len(report.written) == 4
    assert shard_bytes(remote) == shard_bytes(local)
    again = synthesize(load_recipe("tiny", remote), remote, show_progress=False, backend="ray")
    assert again.written == [] and len(again.skipped) == 4  # finished shards are skipped exactly as locally


def test_a_worker_killed_mid_shard_leaves_no_partial_shard(tmp_path, cluster, monkeypatch):
    local, remote = project_with_tiny(tmp_path / "local"), project_with_tiny(tmp_path / "ray")
    synthesize(load_recipe("tiny", local), local, show_progress=False)
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("SYNTH_FAULT_KILL_SHARD", f"2:{marker}")  # actors inherit the driver's environment
    report = synthesize(load_recipe("tiny", remote), remote, show_progress=False, backend="ray", backend_options={"workers": 2})
    assert marker.exists(), "the fault was not injected"
    assert sorted(report.written) == sorted(shard_bytes(local))  # each shard once: no duplicate
    assert shard_bytes(remote) == shard_bytes(local)
    leftovers = list((remote / "data/tiny/samples").glob(".*.tmp"))
    synthesize(load_recipe("tiny", remote), remote, show_progress=False)
    assert not list((remote / "data/tiny/samples").glob(".*.tmp")) and len(leftovers) <= 1


def test_unreachable_address_is_one_line_exit_2(project):
    with socket.socket() as probe:  # a port on loopback that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = project.synth("synthesize", "tiny", "--backend", "ray", "--address", f"127.0.0.1:{port}", check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"--address 127.0.0.1:{port}: no Ray cluster reachable")
    assert not list((project.root / "data/tiny/samples").glob("shard-*"))
