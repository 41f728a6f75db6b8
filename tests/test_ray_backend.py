"""Synthesis on a local Ray cluster gives the local backend's bytes, survives a worker dying mid-shard, and an
unreachable cluster address is one clear error."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import yaml

from synth.recipe import load_recipe
from synth.stages.synthesize import synthesize
from tests import faults
from tests.conftest import tiny_recipe

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    spec = temp / "fault-spec"  # armed by faults.killing(); read by every worker (tests/faults.py)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp),
        log_to_driver=False,
        configure_logging=False,
        runtime_env=faults.runtime_env(spec),
    )
    yield spec
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
    report = synthesize(
        load_recipe("tiny", remote), remote, show_progress=False, backend="ray", backend_options={"workers": 2}
    )
    assert len(report.written) == 4
    assert shard_bytes(remote) == shard_bytes(local)
    again = synthesize(load_recipe("tiny", remote), remote, show_progress=False, backend="ray")
    assert again.written == [] and len(again.skipped) == 4  # finished shards are skipped exactly as locally


def test_a_worker_killed_mid_shard_leaves_no_partial_shard(tmp_path, cluster):
    local, remote = project_with_tiny(tmp_path / "local"), project_with_tiny(tmp_path / "ray")
    synthesize(load_recipe("tiny", local), local, show_progress=False)
    marker = tmp_path / "killed-once"
    with faults.killing(cluster, 2, marker):
        report = synthesize(
            load_recipe("tiny", remote), remote, show_progress=False, backend="ray", backend_options={"workers": 2}
        )
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


def test_dvc_repro_on_ray_with_a_store_makes_the_local_outputs(project, tmp_path, monkeypatch):
    """The backend is chosen by environment, outside dvc.yaml: switching to Ray leaves every stage up to date, and
    rerunning every stage on Ray (synthesize and decode on the workers, through a store) gives the same outputs."""
    project.dvc("repro")
    local = (project.root / "dvc.lock").read_text()
    monkeypatch.setenv("SYNTH_BACKEND", "ray")
    monkeypatch.setenv("SYNTH_STORE", f"file://{tmp_path / 'store'}")
    assert json.loads(project.dvc("status", "--json").stdout or "{}") == {}
    for made in ("data", "build", "reports"):
        shutil.rmtree(project.root / made)
    result = project.dvc("repro", "--force")  # forced: DVC would otherwise restore the outputs from its cache
    assert "synthesize: 40 samples in 4 shards (4 written" in result.stderr
    assert "decode: 40 samples in 4 shards (4 written" in result.stderr
    assert len(list((tmp_path / "store/tiny/samples").glob("shard-*.parquet"))) == 4  # it did go through the store
    assert len(list((tmp_path / "store/tiny/masks").glob("shard-*.parquet"))) == 4
    # every output hash equal: the same bytes (Great Expectations stamps its Data Docs HTML with the run's time)
    assert without_docs(outputs(project.root / "dvc.lock")) == without_docs(outputs(local))


def outputs(lock) -> dict[str, str]:
    stages = yaml.safe_load(lock.read_text() if isinstance(lock, Path) else lock)["stages"]
    return {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}


def without_docs(outs: dict[str, str]) -> dict[str, str]:
    assert "reports/tiny/data_docs" in outs and "data/tiny/samples" in outs and "build/tiny" in outs
    return {path: md5 for path, md5 in outs.items() if not path.endswith("/data_docs")}
