"""Generation's bytes depend neither on torch's thread count nor on the backend or its workers
(docs/reproducibility.md).

The recipe captures UNet features (tiny random-weight SD built from its config) and has a partial last batch:
small batches are where oneDNN's convolutions pick a thread-dependent blocking, which is what made Ray's
one-thread workers write different shards from the local backend before generation fixed its thread count.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

from synth.recipe.load import parse_recipe
from synth.stages.synthesize import synthesize
from tests.tinymodels import diffusion_recipe, save_tiny_sd

FEATURES = {"timesteps": [0, 300], "dim": 16}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    model = save_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "model")
    data = diffusion_recipe(model, decode={"type": "datasetgan", "features": {"type": "captured"}})
    data["generator"]["features"] = dict(FEATURES)
    data["generator"]["batch_size"] = 3  # 4 seeds per shard: a full batch of 3, then one of 1
    data["seeds"] = [{"start": 0, "stop": 8}]
    return parse_recipe(yaml.safe_load(yaml.safe_dump(data)), "recipes/tinysd.yaml")


def shard_digests(root: Path) -> dict[str, str]:
    shards = sorted((root / "data/tinysd/samples").glob("shard-*.parquet"))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shards}


def synthesized_with_threads(recipe, root: Path, threads: int) -> dict[str, str]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # what the caller's process happens to run with
    try:
        synthesize(recipe, root, show_progress=False)
        assert torch.get_num_threads() == threads  # the stage leaves the caller's setting as it found it
    finally:
        torch.set_num_threads(before)
    return shard_digests(root)


def test_thread_count_of_the_calling_process_changes_no_byte(recipe, tmp_path):
    one = synthesized_with_threads(recipe, tmp_path / "one", 1)
    two = synthesized_with_threads(recipe, tmp_path / "two", 2)
    assert len(one) == 2 and one == two


def test_local_worker_processes_write_the_one_process_bytes(recipe, tmp_path):
    one = synthesized_with_threads(recipe, tmp_path / "one", 2)
    synthesize(recipe, tmp_path / "two", show_progress=False, backend_options={"workers": 2})
    assert len(one) == 2 and shard_digests(tmp_path / "two") == one


@pytest.mark.slow
def test_ray_workers_write_the_local_bytes_with_captured_features(recipe, tmp_path):
    ray = pytest.importorskip("ray")
    local = synthesized_with_threads(recipe, tmp_path / "local", 2)
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False, configure_logging=False)
    try:
        synthesize(recipe, tmp_path / "ray", show_progress=False, backend="ray", backend_options={"workers": 2})
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    assert shard_digests(tmp_path / "ray") == local
