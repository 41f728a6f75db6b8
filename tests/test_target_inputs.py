"""The target stage decides from its inputs' keys: unchanged inputs render nothing and write nothing; a changed
source, a tampered record or a damaged shard makes the set again, with the bytes a first run makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import synth.stages.target as target_stage
from synth.core.paths import DatasetPaths
from synth.recipe import load_recipe
from synth.stages.target import INPUTS_FOLDER, target
from tests.conftest import tiny_recipe

NIGHT = {"background_palette": "night", "tint": [0.6, 0.8, 1.3], "gamma": 1.4}


def _recipe(root: Path, images_stop: int = 1006):
    data = tiny_recipe()
    data["target"] = {
        "images": {"type": "scenes", "seeds": {"start": 1000, "stop": images_stop}, "generator": NIGHT},
        "eval": {"type": "scenes", "seeds": {"start": 2000, "stop": 2004}, "generator": NIGHT},
    }
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / f"{data['name']}.yaml").write_text(yaml.safe_dump(data))
    return load_recipe(data["name"], root)


def _shards(root: Path, name: str) -> dict[str, bytes]:
    folder = DatasetPaths(root, name).target
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("shard-*.parquet"))}


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The sets the stage renders (``load_source`` calls), by where."""
    calls: list[str] = []
    real = target_stage.load_source

    def load_source(source, context, root, where):
        calls.append(where)
        return real(source, context, root, where)

    monkeypatch.setattr(target_stage, "load_source", load_source)
    return calls


def test_unchanged_inputs_render_nothing_and_tampering_is_never_trusted(tmp_path, counted):
    recipe = _recipe(tmp_path)
    first = target(recipe, tmp_path)
    assert len(first.written) == 2 and counted == ["target.images", "target.eval"]
    made = _shards(tmp_path, recipe.name)
    stamps = {p: p.stat().st_mtime_ns for p in DatasetPaths(tmp_path, recipe.name).target.rglob("shard-*")}

    counted.clear()
    again = target(recipe, tmp_path)
    assert counted == [] and again.written == [] and len(again.skipped) == 2 and again.samples == 10
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # A record whose sha256 does not match the shard is not used: the set is rendered and found up to date.
    records = sorted((tmp_path / INPUTS_FOLDER).glob("*.json"))
    assert len(records) == 2
    entry = json.loads(records[0].read_text())
    records[0].write_text(json.dumps(entry | {"sha256": "0" * 64}))
    target(recipe, tmp_path)
    assert len(counted) == 1 and _shards(tmp_path, recipe.name) == made
    assert json.loads(records[0].read_text()) == entry  # and recorded again

    # A damaged shard is not trusted either: it is made again, byte-identical to the first run's.
    counted.clear()
    shard = next(DatasetPaths(tmp_path, recipe.name).target.glob("images/shard-*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-100])
    report = target(recipe, tmp_path)
    assert counted == ["target.images"] and report.written == [f"images/{shard.name}"]
    assert _shards(tmp_path, recipe.name) == made


def test_a_changed_source_is_made_again(tmp_path, counted):
    target(_recipe(tmp_path), tmp_path)
    counted.clear()
    recipe = _recipe(tmp_path, images_stop=1008)
    report = target(recipe, tmp_path)
    assert counted == ["target.images"] and len(report.written) == 1 and len(report.removed) == 1
    assert report.samples == 12
