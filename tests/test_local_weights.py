"""A recipe names a local model by path; the samples shard key follows what is in it.

Retraining ``models/fashion-sd`` in place must remake the recipes that load it (and only them), while editing
its model card must not."""

from __future__ import annotations

import shutil

import yaml

from synth.recipe import load_recipe
from synth.stages.synthesize import shard_plans
from tests.conftest import tiny_recipe
from tests.tinymodels import diffusion_recipe, save_tiny_sd


def _keys(root, name):
    return [plan.key for plan in shard_plans(load_recipe(name, root))]


def _write(root, recipe):
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / f"{recipe['name']}.yaml").write_text(yaml.safe_dump(recipe))


def test_new_weights_at_the_same_path_change_the_samples_key_and_a_card_edit_does_not(tmp_path):
    model = save_tiny_sd(tmp_path / "models" / "sd")
    _write(tmp_path, diffusion_recipe(model))
    _write(tmp_path, tiny_recipe())
    before, scenes_before = _keys(tmp_path, "tinysd"), _keys(tmp_path, "tiny")

    (model / "README.md").write_text("# a model card\n")
    assert _keys(tmp_path, "tinysd") == before

    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight: a retrained model at the same path
    weights.write_bytes(bytes(data))
    after = _keys(tmp_path, "tinysd")
    assert len(after) == len(before) and not set(after) & set(before)
    assert _keys(tmp_path, "tiny") == scenes_before  # recipes without local weights keep their shards


def test_the_digest_is_of_content_not_of_location(tmp_path):
    from synth.generate.diffusion import folder_digest

    model = save_tiny_sd(tmp_path / "a")
    moved = tmp_path / "b"
    shutil.copytree(model, moved)
    assert folder_digest(model) == folder_digest(moved)
    (moved / "scheduler" / "scheduler_config.json").write_text("{}")  # configs are part of the model too
    assert folder_digest(model) != folder_digest(moved)


def test_training_scratch_stays_out_of_the_models_dependency():
    """`synth train-generator` writes checkpoints under models/ (git-ignored); DVC must not hash them into the
    `models` dependency, or main's dvc.lock records a hash a fresh clone never computes and every stage that
    depends on models/ reruns there (it did: 102 files hashed on main, 29 in a clone)."""
    import os
    from pathlib import Path

    from dvc.repo import Repo

    root = Path(__file__).resolve().parents[1]
    section = yaml.safe_load((root / "params.yaml").read_text())["train_generator"]
    scratch = [section["checkpoints"]]
    with Repo(str(root)) as repo:
        ignored = {path: repo.dvcignore.is_ignored(repo.fs, os.path.join(repo.root_dir, path)) for path in scratch}
        kept = repo.dvcignore.is_ignored(repo.fs, os.path.join(repo.root_dir, section["out"]))
    assert all(ignored.values()), ignored
    assert not kept  # the model itself is part of the dependency
