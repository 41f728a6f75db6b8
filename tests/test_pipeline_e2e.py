"""The whole factory as a user drives it: `dvc repro`, edit a recipe, `dvc repro` again, `load_dataset`. The
first `dvc repro` of the tiny project runs once per test worker (the ``tiny_reproduced`` template in conftest.py);
each test edits its own copy of the result."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def changed_stages(project) -> set[str]:
    status = json.loads(project.dvc("status", "--json").stdout or "{}")
    return {name.split(":")[-1] for name in status}


def test_dvc_repro_builds_a_dataset_that_load_dataset_reads(reproduced_project):
    project = reproduced_project
    assert changed_stages(project) == set()

    from datasets import load_dataset

    dataset = load_dataset(str(project.root / "build" / "tiny"))
    assert set(dataset) <= {"train", "validation", "test"} and "train" in dataset
    assert sum(len(split) for split in dataset.values()) == 40
    row = dataset["train"][0]
    image, mask = row["image"], np.asarray(row["mask"])
    assert image.size == (64, 64) and image.mode == "RGB"
    assert mask.shape == (64, 64)
    assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}
    id2label = json.loads((project.root / "build/tiny/id2label.json").read_text())
    assert id2label == {"0": "background", "1": "car", "2": "wheel", "3": "tree"}

    metrics = json.loads(project.dvc("metrics", "show", "--json").stdout)
    assert metrics  # the validation summary is a DVC metric


def inodes(directory) -> dict[str, int]:
    return {path.name: path.stat().st_ino for path in directory.glob("*.parquet")}


def test_extending_the_seeds_through_dvc_keeps_every_finished_file(reproduced_project):
    """The whole chain is incremental under DVC, not only each command on its own: shards, masks and the build's
    split files that were finished stay the same files (same inode), and only the new seeds' files appear."""
    project = reproduced_project
    folders = [project.root / p for p in ("data/tiny/samples", "data/tiny/masks", "build/tiny/data")]
    before = [inodes(folder) for folder in folders]
    recipe = project.read_recipe("tiny")
    recipe["seeds"] = [{"start": 0, "stop": 50}]  # 10 per shard: one new shard
    project.write_recipe(recipe)
    project.dvc("repro")
    for folder, old in zip(folders, before):
        new = inodes(folder)
        assert {name: new.get(name) for name in old} == old, folder
        assert len(new) > len(old), folder
    assert changed_stages(project) == set()

    from datasets import load_dataset

    dataset = load_dataset(str(project.root / "build" / "tiny"))
    assert sorted(seed for split in dataset.values() for seed in split["seed"]) == list(range(50))

    # ...and every output equals what a from-scratch `dvc repro` of the extended recipe makes, byte for byte.
    stepwise = output_bytes(project.root)
    for folder in ("data/tiny", "build/tiny", "reports/tiny"):
        shutil.rmtree(project.root / folder)
    shutil.rmtree(project.root / "data/.shards", ignore_errors=True)  # the shared samples store: generate again
    project.dvc("repro")
    assert output_bytes(project.root) == stepwise


def output_bytes(root) -> dict[str, bytes]:
    """Every file the tiny recipe's stages write, by path; not the Data Docs (Great Expectations' own pages)."""
    files = [p for folder in ("data/tiny", "build/tiny", "reports/tiny") for p in (root / folder).rglob("*")]
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(files)
        if p.is_file() and "data_docs" not in p.relative_to(root).parts
    }


def test_editing_a_validation_threshold_reruns_only_validate_build_and_report(reproduced_project):
    project = reproduced_project
    recipe = project.read_recipe("tiny")
    recipe["validation"]["max_components"] = 30
    project.write_recipe(recipe)
    # the report draws the threshold; the variants (none here) are held to the same thresholds
    rerun = {"validate@tiny", "validate-variants@tiny", "build@tiny", "report@tiny"}
    assert changed_stages(project) == rerun
    result = project.dvc("repro")
    for stage in rerun:
        assert f"Running stage '{stage}'" in result.stdout
    for stage in ("synthesize@tiny", "decode@tiny", "preview@tiny"):
        assert f"Stage '{stage}' didn't change, skipping" in result.stdout
    assert changed_stages(project) == set()


def test_editing_the_generator_reruns_everything_after_it(reproduced_project):
    project = reproduced_project
    recipe = project.read_recipe("tiny")
    recipe["generator"]["max_scale"] = 0.35
    project.write_recipe(recipe)
    assert {"synthesize@tiny"} <= changed_stages(project)
    result = project.dvc("repro")
    assert "didn't change, skipping" not in result.stdout.split("synthesize@tiny")[0]


def test_a_recipe_breaking_class_balance_fails_the_pipeline(project):
    recipe = project.read_recipe("tiny")
    recipe["taxonomy"]["classes"][2]["weight"] = 0.02  # 'tree' almost never drawn...
    recipe["prompts"]["classes_per_sample"] = {"min": 1, "max": 1}  # ...as one class per sample is drawn
    recipe["validation"]["min_class_presence"] = 0.3
    project.write_recipe(recipe)
    result = project.dvc("repro", check=False)
    assert result.returncode != 0
    assert "class_balance" in result.stdout + result.stderr and "tree" in result.stdout + result.stderr
    assert not (project.root / "build" / "tiny").exists()
