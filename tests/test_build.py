"""The Hub-ready build: what load_dataset sees, the card's metadata, determinism and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from synth.recipe.schema import Splits
from synth.splits import split_of
from synth.store.codec import decode_png
from synth.store.shards import list_shards, read_shard


@pytest.fixture
def decoded(validated_project):
    """The tiny recipe synthesized, decoded and validated, not built (this test's copy of a session template)."""
    return validated_project


def stored_masks(project) -> dict[int, np.ndarray]:
    out = {}
    for shard in list_shards(project.root / "data/tiny/masks"):
        for row in read_shard(shard, ["seed", "mask"]).to_pylist():
            out[row["seed"]] = decode_png(row["mask"])
    return out


def files(directory) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_build_is_what_load_dataset_reads(built_project):
    decoded = built_project  # `synth build` of the validated tiny recipe
    from datasets import load_dataset

    out = decoded.root / "build/tiny"
    dataset = load_dataset(
        str(out), cache_dir=str(decoded.root / ".hf-cache")
    )  # a shared cache may hold an older build
    masks = stored_masks(decoded)
    seen = 0
    for split, rows in dataset.items():
        for row in rows:
            assert split_of(row["seed"], Splits()) == split
            mask = np.asarray(row["mask"])
            assert row["mask"].mode == "P" and np.array_equal(mask, masks[row["seed"]])  # palette PNG, ids kept
            assert row["image"].mode == "RGB" and row["image"].size == (64, 64)
            seen += 1
    assert seen == 40

    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["task_categories"] == ["image-segmentation"]
    assert meta["annotations_creators"] == ["machine-generated"]
    assert meta["license"] == "cc-by-4.0"
    assert meta["size_categories"] == ["n<1K"]
    assert {c["split"] for c in meta["configs"][0]["data_files"]} == set(dataset)
    assert sum(s["num_examples"] for s in meta["dataset_info"]["splits"]) == 40
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["recipe_hash"] in text and lineage["git_commit"] in text
    assert len(lineage["git_commit"]) == 40  # the fixture commits the recipe: not dirty
    assert lineage["validation"]["success"] is True
    assert "| 2 | wheel | `#3cb44b` | wheel | car | 0.5 |" in text


def test_the_card_explains_columns_labels_limits_and_shows_a_preview(built_project):
    """Everything a user needs before training: a preview inside the build, every column explained, the label
    convention for transformers, known limitations, usefulness (here: not measured), links that resolve."""
    import re

    from PIL import Image

    decoded = built_project  # `synth build` of the validated tiny recipe
    out = decoded.root / "build/tiny"
    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["source_datasets"] == ["original"]  # the scenes generator was trained on nothing
    for feature in meta["dataset_info"]["features"]:
        assert f"- `{feature['name']}`: " in text, feature["name"]
    assert "do_reduce_labels=False" in text and "ignore_index=255" in text
    assert "None" not in text.split("## Lineage")[1].split("## Validation")[0]  # no Python value printed bare
    assert "## Known limitations" in text and "not photographs" in text
    assert "Not measured: the recipe has no `evaluate:` section" in text
    validation = json.loads((decoded.root / "reports/tiny/validation.json").read_text())
    from validation.outcome import verdict

    assert f"`mask_quality`: {verdict(True, validation['expectations'])} (" in text
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "preview.png" in links
    for link in links:  # relative links resolve inside the build: the Hub shows the folder as it is
        assert "://" in link or (out / link).is_file(), link
    with Image.open(out / "preview.png") as preview:
        assert preview.size[0] == 480 and preview.size[1] > 4 * 160  # four samples: image | overlay | mask
        assert np.asarray(preview.convert("L")).std() > 20
    assert "preview.png" not in json.loads((out / "lineage.json").read_text())["files"]  # not data


def test_the_cards_transformers_conventions_hold_on_a_built_row(built_project):
    """What the card tells transformers users, checked on a built row: SegFormer with ``do_reduce_labels=False``
    trains on the mask's ids as they are (with ``True`` background would become 255 and every class shift down
    by one, as the card warns); the card's `instances` snippet, run as written, gives Mask2Former one binary mask
    per stored object with the class the mask gives it."""
    import re

    from datasets import load_dataset
    from transformers import Mask2FormerImageProcessor, SegformerImageProcessor

    decoded = built_project  # `synth build` of the validated tiny recipe
    out = decoded.root / "build/tiny"
    text = (out / "README.md").read_text()
    assert "- `instances`: " in text and "do_reduce_labels=False" in text
    row = load_dataset(str(out), cache_dir=str(decoded.root / ".hf-cache"), split="train")[0]
    instances, mask = np.asarray(row["instances"]), np.asarray(row["mask"])

    def segformer_labels(reduce: bool) -> np.ndarray:
        processor = SegformerImageProcessor(size={"height": 64, "width": 64}, do_reduce_labels=reduce)
        return processor(row["image"], segmentation_maps=row["mask"], return_tensors="np")["labels"][0]

    assert np.array_equal(segformer_labels(False), mask)
    assert np.array_equal(segformer_labels(True), np.where(mask == 0, 255, mask.astype(np.int64) - 1))

    (snippet,) = re.findall(r"## Instances\n.*?```python\n(.*?)```", text, re.S)
    scope = {"np": np, "row": row, "processor": Mask2FormerImageProcessor(size={"height": 64, "width": 64})}
    exec(snippet, scope)
    numbers = [n for n in np.unique(instances) if n]
    assert len(numbers) > 0 and np.array_equal(instances > 0, mask > 0)
    masks, labels = scope["inputs"]["mask_labels"][0].numpy(), scope["inputs"]["class_labels"][0].tolist()
    assert len(masks) == len(numbers)
    for binary, label, number in zip(masks.astype(bool), labels, numbers, strict=True):
        assert np.array_equal(binary, instances == number) and label == mask[instances == number][0]


def test_a_generator_trained_on_a_dataset_names_it_as_source(tmp_path):
    from synth.card.card import card_metadata
    from synth.card.lineage import model_training_data
    from synth.recipe.load import parse_recipe
    from tests.conftest import tiny_recipe

    model = tmp_path / "models/m"
    model.mkdir(parents=True)
    (model / "README.md").write_text("---\nlicense: mit\ndatasets:\n  - fashion_mnist\n---\n# m\n")
    assert model_training_data("models/m", tmp_path) == ["fashion_mnist"]
    assert model_training_data("org/hub-model", tmp_path) == []  # a Hub id: no card offline
    recipe = parse_recipe(tiny_recipe(), "recipes/tiny.yaml")
    meta = card_metadata(recipe, {"train": 1}, {"train": 10}, trained_on=["fashion_mnist"])
    assert meta["source_datasets"] == ["extended|fashion_mnist"]


def test_the_model_revision_is_words_never_a_bare_none():
    """The card and the report print the revision a user can pin; a local model (models/fashion-sd) has none."""
    from synth.card.lineage import model_revision

    assert model_revision({"model": "models/fashion-sd", "revision": None}).startswith("none: local weights")
    assert model_revision({"model": "org/sd", "revision": "a" * 40}) == "a" * 40
    assert model_revision({"model": None, "revision": None}) == "none"


def test_same_inputs_same_bytes(decoded):
    decoded.synth("build", "tiny")
    first = files(decoded.root / "build/tiny")
    decoded.synth("build", "tiny")
    assert files(decoded.root / "build/tiny") == first


def test_build_refuses_without_validation(decoded_project):
    project = decoded_project  # synthesized and decoded, never validated
    result = project.synth("build", "tiny", check=False)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "reports/tiny/validation.json: no validation summary; run `synth validate tiny` first"
    )
    assert not (project.root / "build").exists()


def test_samples_without_instance_maps_are_one_line_and_no_build(decoded):
    """Samples shards written before scenes stored its objects (no ``arrays["instances"]``) cannot give the
    ``instances`` column: the build names the shard and the seed, says what to rerun, and writes nothing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = list_shards(decoded.root / "data/tiny/samples")[1]
    table = pq.read_table(shard)
    empty = pa.array([[]] * table.num_rows, table.schema.field("arrays").type)
    pq.write_table(table.set_column(table.schema.get_field_index("arrays"), "arrays", empty), shard)
    seed = table.column("seed")[0].as_py()
    result = decoded.synth("build", "tiny", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"data/tiny/samples/{shard.name}: seed {seed} has no instance map; rerun `synth synthesize tiny`"
    )
    left = sorted(p.relative_to(decoded.root).as_posix() for p in (decoded.root / "build").rglob("*"))
    assert left == [], left


def test_failed_validation_blocks_unless_allowed(decoded):
    summary = decoded.root / "reports/tiny/validation.json"
    summary.write_text(json.dumps(json.loads(summary.read_text()) | {"success": False}))
    result = decoded.synth("build", "tiny", check=False)
    assert result.returncode == 2 and "validation failed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    decoded.synth("build", "tiny", "--allow-invalid")
    assert "unvalidated" in (decoded.root / "build/tiny/README.md").read_text()


def test_preview_and_list(decoded):
    decoded.synth("preview", "tiny")
    from PIL import Image

    with Image.open(decoded.root / "reports/tiny/preview.png") as sheet:
        assert sheet.format == "PNG" and sheet.size[0] > 0
    listing = decoded.synth("list").stdout
    assert "tiny" in listing and "4/4" in listing and "passed" in listing and "not built" in listing


def test_preview_shows_what_the_build_ships_never_a_left_out_sample(decoded):
    """reports/NAME/preview.png (the DVC plot a pull request shows) picks its seeds among the shipped samples."""
    import numpy as np
    from PIL import Image

    from synth.recipe import load_recipe
    from synth.report.contact_sheet import contact_sheet, pick_seeds

    left_out = [0, 6, 11, 39]  # four of the eight seeds an evenly spaced pick of 0-39 would show
    assert set(left_out) < set(pick_seeds(list(range(40)), 8))
    listing = decoded.root / "data/tiny/masks/excluded.json"
    listing.write_text(json.dumps({"excluded": [{"seed": s, "reason": "uncertain"} for s in left_out]}))
    decoded.synth("preview", "tiny")
    recipe = load_recipe("tiny", decoded.root)
    shipped = pick_seeds([s for s in range(40) if s not in left_out], 8)
    expected = np.asarray(contact_sheet(recipe, decoded.root, seeds=shipped).convert("RGB"))
    with Image.open(decoded.root / "reports/tiny/preview.png") as sheet:
        assert np.array_equal(np.asarray(sheet.convert("RGB")), expected)


def test_split_assignment_is_stable_and_roughly_proportional():
    splits = Splits(train=0.7, validation=0.2, test=0.1)
    names = [split_of(seed, splits) for seed in range(5000)]
    assert names == [split_of(seed, splits) for seed in range(5000)]
    share = {n: names.count(n) / len(names) for n in ("train", "validation", "test")}
    assert abs(share["train"] - 0.7) < 0.03 and abs(share["validation"] - 0.2) < 0.03


def test_seeds_a_decoder_excluded_are_left_out_and_listed(decoded):
    listing = decoded.root / "data/tiny/masks/excluded.json"
    listing.write_text(json.dumps({"excluded": [{"seed": 3, "uncertainty": 0.9, "reason": "uncertain"}]}))
    decoded.synth("build", "tiny")
    from datasets import load_dataset

    seeds = {row["seed"] for split in load_dataset(str(decoded.root / "build/tiny")).values() for row in split}
    assert seeds == set(range(40)) - {3}
    lineage = json.loads((decoded.root / "build/tiny/lineage.json").read_text())
    assert lineage["excluded"] == [{"seed": 3, "reason": "uncertain"}]
    assert "3 (uncertain)" in (decoded.root / "build/tiny/README.md").read_text()


def test_extended_build_links_unchanged_files_and_equals_a_fresh_build(built_project):
    decoded = built_project
    data = decoded.root / "build/tiny/data"
    before = {p.name: p.stat().st_ino for p in data.glob("*.parquet")}
    decoded.write_recipe(decoded.read_recipe("tiny") | {"seeds": [{"start": 0, "stop": 60}]})
    decoded.synth("synthesize", "tiny", "--quiet")
    decoded.synth("decode", "tiny", "--quiet")
    decoded.synth("validate", "tiny")
    decoded.synth("build", "tiny")
    after = {p.name: p.stat().st_ino for p in data.glob("*.parquet")}
    assert all(after[name] == inode for name, inode in before.items())  # linked, not rewritten
    new = set(after) - set(before)
    assert new and all(name.split("-")[1] in ("00004.parquet", "00005.parquet") for name in new)

    stepwise = files(decoded.root / "build/tiny")
    import shutil

    shutil.rmtree(decoded.root / "build/tiny")
    decoded.synth("build", "tiny")
    assert files(decoded.root / "build/tiny") == stepwise
    from datasets import load_dataset

    assert sum(len(split) for split in load_dataset(str(decoded.root / "build/tiny")).values()) == 60


def test_changed_exclusions_rewrite_only_the_files_they_touch(built_project):
    decoded = built_project
    data = decoded.root / "build/tiny/data"
    before = {p.name: p.stat().st_ino for p in data.glob("*.parquet")}
    (decoded.root / "data/tiny/masks/excluded.json").write_text(
        json.dumps({"excluded": [{"seed": 3, "reason": "uncertain"}]})
    )
    decoded.synth("build", "tiny")
    changed = {p.name for p in data.glob("*.parquet") if before.get(p.name) != p.stat().st_ino}
    assert changed == {f"{split_of(3, Splits())}-00000.parquet"}
