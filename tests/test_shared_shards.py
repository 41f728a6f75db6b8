"""The samples shards every recipe shares (synth/store/shared.py): a shard another recipe made is taken, not made
again, and is the bytes generation gives; a shard made with UNet features serves a recipe without them; a damaged
entry is never handed out; two recipes synthesizing at once both finish; `dvc repro` generates once.

Tiny random-weight SD (tests/tinymodels.py), two shards of 4 seeds with a partial last batch.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synth.recipe import load_recipe
from synth.stages.synthesize import plans_for, shard_plans, synthesize
from synth.store.shared import FOLDER, intact
from tests.conftest import REPO, cli_env
from tests.tinymodels import diffusion_recipe, save_tiny_sd

FEATURES = {"timesteps": [0, 300], "dim": 16}


def recipe_data(model: Path, name: str, features: bool) -> dict:
    data = diffusion_recipe(model, name=name, seeds=[{"start": 0, "stop": 8}])
    data["generator"]["batch_size"] = 3  # 4 seeds per shard: a batch of 3, then one of 1
    if features:
        data["generator"]["features"] = dict(FEATURES)
    return yaml.safe_load(yaml.safe_dump(data))


def write_recipes(root: Path, model: Path, **names_features: bool) -> None:
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    for name, features in names_features.items():
        (root / "recipes" / f"{name}.yaml").write_text(yaml.safe_dump(recipe_data(model, name, features)))


def digests(root: Path, name: str) -> dict[str, str]:
    shards = sorted((root / "data" / name / "samples").glob("shard-*.parquet"))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shards}


def run(root: Path, name: str):
    return synthesize(load_recipe(name, root), root, show_progress=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "model")


@pytest.fixture(scope="module")
def generated(tmp_path_factory, model) -> Path:
    """A checkout where recipe ``plain`` (no features) was generated; its store holds its two shards."""
    root = tmp_path_factory.mktemp("generated")
    write_recipes(root, model, plain=False)
    report = run(root, "plain")
    assert len(report.written) == 2 and not report.reused
    return root


def test_another_recipe_takes_the_shards_and_they_are_the_generated_bytes(generated, model):
    write_recipes(generated, model, other=False)  # the same generator, prompts and seeds under another name
    report = run(generated, "other")
    assert not report.written and len(report.reused) == 2
    assert "0 written, 0 up to date, 2 from the shared store" in report.summary("synthesize")
    assert digests(generated, "other") == digests(generated, "plain")
    again = run(generated, "other")
    assert len(again.skipped) == 2 and not again.reused  # in its folder now: up to date


def test_a_shard_made_with_features_serves_a_recipe_without_them(generated, model, tmp_path):
    write_recipes(tmp_path, model, features=True, plain=False)
    made = run(tmp_path, "features")
    assert len(made.written) == 2
    served = run(tmp_path, "plain")
    assert not served.written and len(served.reused) == 2
    assert digests(tmp_path, "plain") == digests(generated, "plain")  # == generating without features
    assert digests(tmp_path, "features") != digests(tmp_path, "plain")  # the features recipe keeps its features


def test_a_recipe_with_features_is_not_served_by_one_without(generated, model):
    write_recipes(generated, model, withfeatures=True)
    report = run(generated, "withfeatures")
    assert len(report.written) == 2 and not report.reused


def test_a_tampered_entry_is_not_used_and_is_replaced(generated, model, tmp_path):
    root = tmp_path / "root"
    write_recipes(root, model, plain=False, third=False)
    (root / FOLDER).mkdir(parents=True)
    for entry in (generated / FOLDER).iterdir():
        (root / FOLDER / entry.name).write_bytes(entry.read_bytes())
    plans = shard_plans(load_recipe("plain", root))
    first, second = (next((root / FOLDER).glob(f"{plan.key}-*.parquet")) for plan in plans)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle: the footer still reads
    first.write_bytes(bytes(data))
    second.write_bytes(second.read_bytes()[:-100])  # cut short: the footer is gone
    report = run(root, "third")
    assert sorted(report.written) == sorted(plan.filename for plan in plans) and not report.reused
    assert digests(root, "third") == digests(generated, "plain")
    for plan in plans:
        (entry,) = (root / FOLDER).glob(f"{plan.key}-*.parquet")
        assert intact(entry, len(plan.seeds))


def test_two_recipes_synthesizing_at_once_both_finish(generated, model, tmp_path):
    write_recipes(tmp_path, model, left=False, right=False)
    argv = [sys.executable, "-m", "synth", "synthesize"]
    options = ["--quiet", "--workers", "1"]
    processes = [
        subprocess.Popen([*argv, name, *options], cwd=tmp_path, env=cli_env(REPO), stderr=subprocess.PIPE, text=True)
        for name in ("left", "right")
    ]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors
    expected = digests(generated, "plain")
    assert digests(tmp_path, "left") == expected and digests(tmp_path, "right") == expected
    entries = sorted((tmp_path / FOLDER).iterdir())
    assert [e.name.split("-")[0] for e in entries] == sorted(p.key for p in shard_plans(load_recipe("left", tmp_path)))
    assert all(intact(entry, 4) for entry in entries)  # and no temporary file of either run is left


def test_dvc_repro_generates_once_for_two_recipes_sharing_a_generator(project, model):
    """The project's synthesize stage alone in dvc.yaml, `dvc repro` with no target as README command 1 runs it.
    The recipe with features is listed first and sorts last, so the order is params.yaml's, not the names'."""
    stages = yaml.safe_load((project.root / "dvc.yaml").read_text())
    stages["stages"] = {"synthesize": stages["stages"]["synthesize"]}
    (project.root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    write_recipes(project.root, model, **{"with-features": True, "plain": False})
    project.use_recipes("with-features", "plain")
    project.commit("two recipes, one generator")
    result = project.dvc("repro")  # DVC prints the stages on stdout, the stage commands' summaries on stderr
    assert result.stdout.index("synthesize@with-features") < result.stdout.index("synthesize@plain")
    summaries = [line for line in result.stderr.splitlines() if line.startswith("synthesize: ")]
    assert summaries == [
        "synthesize: 8 samples in 2 shards (2 written, 0 up to date, 0 stale removed)",
        "synthesize: 8 samples in 2 shards (0 written, 0 up to date, 2 from the shared store, 0 stale removed)",
    ]
    assert project.dvc("status").stdout.strip().startswith("Data and pipelines are up to date")


def test_the_default_recipes_list_the_one_with_features_before_the_one_it_serves():
    """`dvc repro` runs synthesize for the recipes in params.yaml's order: a recipe whose generation another,
    recording features, makes too must come after it, or it generates the images itself."""
    names = yaml.safe_load((REPO / "params.yaml").read_text())["recipes"]
    recipes = {name: load_recipe(name, REPO) for name in names}
    keys = {name: [plan.key for plan in shard_plans(recipe)] for name, recipe in recipes.items()}
    served = []
    for name, recipe in recipes.items():
        recording = recipe.generator.side_recording()
        if recording is None:
            continue
        plans = plans_for(recipe, recording.plain, recipe.generator.weights_digest(), None)
        plain_keys = [plan.key for plan in plans]
        for other in names:
            if keys[other] == plain_keys:
                assert names.index(name) < names.index(other), f"{name} must come before {other} in params.yaml"
                served.append(other)
    assert served == ["fashion"], "fashion-datasetgan no longer makes fashion's shards: update params.yaml's comment"
