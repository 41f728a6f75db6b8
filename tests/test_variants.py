"""Variants (mixed, stylized) as dataset configs of build/NAME: what load_dataset reads per config, the split
rule, the card's configs, validation per variant blocking the build, and the default config left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from synth.recipe.schema import Splits
from synth.splits import split_of
from synth.store.codec import decode_png
from synth.store.shards import list_shards, read_shard
from tests.conftest import clone_project, variant_recipe


def files(directory) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def shard_rows(folder, columns=("seed", "mask", "provenance")) -> dict[int, dict]:
    out = {}
    for shard in list_shards(folder):
        for row in read_shard(shard, list(columns)).to_pylist():
            out[row["seed"]] = row
    return out


@pytest.fixture
def base_built(tmp_path, tiny_variants_base):
    """The base dataset built before any variant exists: the reference for the default config's bytes."""
    project = clone_project(tiny_variants_base, tmp_path / "project")
    return project, files(project.root / "build/tiny/data")


@pytest.fixture
def with_variants(tmp_path, tiny_variants_base, tiny_variants):
    """``base_built`` after mix, target, stylize and validate-variants (which passed)."""
    return clone_project(tiny_variants, tmp_path / "project"), files(tiny_variants_base.root / "build/tiny/data")


def test_each_variant_is_a_config_load_dataset_reads(with_variants):
    project, default_bytes = with_variants
    project.synth("build", "tiny")
    from datasets import load_dataset

    out = project.root / "build/tiny"
    cache = str(project.root / ".hf-cache")
    assert files(out / "data") == default_bytes  # the default config: byte for byte what a build without variants had

    stylized = shard_rows(project.root / "data/tiny/stylized")
    masks = shard_rows(project.root / "data/tiny/masks")
    seen = set()
    for split, rows in load_dataset(str(out), "stylized", cache_dir=cache).items():
        for row in rows:
            seed = row["seed"]
            assert split_of(seed, Splits(train=0.8, validation=0.1, test=0.1)) == split
            assert row["mask"].mode == "P"
            assert np.array_equal(np.asarray(row["mask"]), decode_png(stylized[seed]["mask"]))
            assert np.array_equal(np.asarray(row["mask"]), decode_png(masks[seed]["mask"]))  # geometry unchanged
            seen.add(seed)
    assert seen == set(range(40))

    mixed = shard_rows(project.root / "data/tiny/mixed")
    splits = Splits(train=0.8, validation=0.1, test=0.1)
    kept = set()
    for split, rows in load_dataset(str(out), "mixed", cache_dir=cache).items():
        for row in rows:
            seed = row["seed"]
            sources = json.loads(mixed[seed]["provenance"])["mix"]["sources"]
            assert {split_of(s, splits) for s in sources} == {split}  # no source from another split
            assert np.array_equal(np.asarray(row["mask"]), decode_png(mixed[seed]["mask"]))
            kept.add(seed)
    # The mix stage draws each composite's sources from one split: every composite is kept, in every split.
    assert kept == set(mixed)
    assert {json.loads(r["provenance"])["mix"]["split"] for r in mixed.values()} == {"train", "validation", "test"}

    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    configs = {c["config_name"]: c["data_files"] for c in meta["configs"]}
    assert set(configs) == {"default", "mixed", "stylized"}
    assert {f["path"] for f in configs["stylized"]} == {
        f"stylized/{s}-*.parquet" for s in ("train", "validation", "test")
    }
    info = {i["config_name"]: i for i in meta["dataset_info"]}
    assert sum(s["num_examples"] for s in info["stylized"]["splits"]) == 40
    assert sum(s["num_examples"] for s in info["mixed"]["splits"]) == len(kept)
    assert "method: reinhard" in text and "pairing: cross-class" in text  # how each config was made
    assert "&id0" not in text  # no YAML aliases: every config spells out its features
    assert "left out" not in text
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["variants"]["mixed"]["validation"]["success"] is True
    assert any(name.startswith("stylized/") for name in lineage["files"])

    # A rebuild links every variant file from the last build (same inode) and gives the same bytes as a fresh one.
    first = files(out)
    inodes = {p.relative_to(out): p.stat().st_ino for p in out.glob("*/*.parquet")}
    project.synth("build", "tiny")
    assert {p.relative_to(out): p.stat().st_ino for p in out.glob("*/*.parquet")} == inodes
    assert files(out) == first
    import shutil

    shutil.rmtree(out)
    project.synth("build", "tiny")
    assert files(out) == first


def test_synth_export_writes_a_variant_config(with_variants):
    """`synth export --config stylized` exports the stylized config: its images, the default config's masks."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    from synth.store.codec import decode_png

    project, _ = with_variants
    project.synth("build", "tiny")
    result = project.synth("export", "tiny", "--format", "coco", "--config", "stylized")
    out = project.root / "exports/tiny/stylized/coco"
    assert "export coco (stylized): exports/tiny/stylized/coco (train " in result.stderr
    stylized = shard_rows(project.root / "data/tiny/stylized", ("seed", "mask", "image"))
    seen = set()
    for split in ("train", "validation", "test"):
        coco = COCO(str(out / "annotations" / f"{split}.json"))
        for image in coco.dataset["images"]:
            seed = int(Path(image["file_name"]).stem)
            truth = decode_png(stylized[seed]["mask"])
            exported = np.zeros_like(truth)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
                exported[mask_utils.decode(ann["segmentation"]).astype(bool)] = ann["category_id"]
            assert np.array_equal(exported, np.where(truth == 255, 0, truth))
            pixels = np.asarray(Image.open(out / "images" / image["file_name"]).convert("RGB"))
            assert np.array_equal(pixels, decode_png(stylized[seed]["image"]))  # the stylized image, not the base
            seen.add(seed)
    assert seen == set(stylized)
    wrong = project.synth("export", "tiny", "--config", "night", check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "--config night: " in wrong.stderr and "has no such config; it has default, mixed, stylized" in wrong.stderr


def test_a_failed_variant_blocks_the_build_and_leaves_it_as_it_was(with_variants):
    project, _ = with_variants
    project.synth("build", "tiny")
    before = files(project.root / "build/tiny")
    # 13 composites asked for, 12 made: a real failed expectation (row count), not an edited summary
    mix = {"count": 13, "samples_per_shard": 5, "seed": 7, "pairing": "cross-class"}
    project.write_recipe(variant_recipe(mix=mix, hub_repo="synth-org/tiny"))
    failed = project.synth("validate-variants", "tiny", check=False)
    assert failed.returncode == 1 and "mixed FAILED" in failed.stderr and "stylized passed" in failed.stderr
    assert json.loads((project.root / "reports/tiny/validation-variants.json").read_text())["mixed"]["success"] is False

    result = project.synth("build", "tiny", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "reports/tiny/validation-variants.json: variant mixed failed validation; fix the recipe or pass "
        "--allow-invalid to build an unvalidated dataset"
    )
    assert files(project.root / "build/tiny") == before
    assert not [p for p in (project.root / "build").iterdir() if p.name.startswith(".")]

    project.synth("build", "tiny", "--allow-invalid")
    assert "FAILED — this config is unvalidated" in (project.root / "build/tiny/README.md").read_text()
    # and publish refuses it like a failed default config (the dry run checks before any upload)
    project.commit("13 composites")
    project.synth("build", "tiny", "--allow-invalid")
    refused = project.synth("publish", "tiny", "--dry-run", check=False)
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "build/tiny: config mixed failed validation; fix the data, or pass --force to publish it marked unvalidated"
    )
    assert "dry run" in project.synth("publish", "tiny", "--dry-run", "--force").stdout


def test_unvalidated_variant_shards_are_refused(base_built):
    project, _ = base_built
    project.synth("mix", "tiny", "--quiet")
    result = project.synth("build", "tiny", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "data/tiny/mixed: mixed shards are not validated; run `synth validate-variants tiny` first"
    )


def test_a_recipe_without_variants_gets_an_empty_summary_and_the_same_build(built_project):
    project = built_project  # the tiny recipe (no variants) built
    before = files(project.root / "build/tiny")
    assert "makes none" in project.synth("validate-variants", "tiny").stderr
    assert json.loads((project.root / "reports/tiny/validation-variants.json").read_text()) == {}
    project.synth("build", "tiny")
    assert files(project.root / "build/tiny") == before  # card, lineage and data: no trace of variants
