"""Exports read back with each format's own conventions (pycocotools for COCO) equal the build, mask for mask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_recipe
from PIL import Image


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A build with JPEG images, a part-of class and ignore pixels (so every value path is exercised)."""
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("export") / "project")
    recipe = tiny_recipe(image_format="jpeg")
    recipe["taxonomy"]["classes"].append({"id": 4, "name": "茶碗", "color": "#911eb4"})
    project.write_recipe(recipe)
    project.use_recipes("tiny")
    project.commit("initial")
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    _add_ignore_pixels(project.root)
    project.synth("validate", "tiny", check=False)
    project.synth("build", "tiny", "--allow-invalid")
    return project


def _add_ignore_pixels(root: Path) -> None:
    """Exact masks have no 255; put a 3x3 ignore block into every mask shard row so exports must keep it."""
    import pyarrow.parquet as pq

    from synth.core.palette import palette_bytes
    from synth.recipe import load_recipe
    from synth.store.codec import decode_png, encode_mask

    palette = palette_bytes(load_recipe("tiny", root).taxonomy)
    for path in sorted((root / "data/tiny/masks").glob("shard-*.parquet")):
        table = pq.read_table(path)
        masks = []
        for data in table.column("mask").to_pylist():
            mask = decode_png(data).copy()
            mask[:3, :3] = 255
            masks.append(encode_mask(mask, palette))
        table = table.set_column(table.schema.get_field_index("mask"), table.schema.field("mask"), [masks])
        pq.write_table(table, path)


def build_masks(project) -> dict[str, dict[int, np.ndarray]]:
    return {split: {seed: row["mask"] for seed, row in rows.items()} for split, rows in build_rows(project).items()}


def build_rows(project, root: Path | None = None) -> dict[str, dict[int, dict[str, np.ndarray]]]:
    """split -> seed -> the image columns of the build (``mask``, and ``instances`` where present) as arrays."""
    from datasets import load_dataset

    root = root or project.root
    dataset = load_dataset(str(root / "build/tiny"), cache_dir=str(root / ".hf-cache"))
    columns = [c for c in ("mask", "instances") if c in dataset.column_names["train"]]
    return {
        split: {row["seed"]: {c: np.asarray(row[c]) for c in columns} for row in rows}
        for split, rows in dataset.items()
    }


def read_coco(out: Path, expected: dict[str, dict[int, dict[str, np.ndarray]]]):
    """Every image's annotations, read with pycocotools, checked against the build's mask: same images, one
    category per annotation, annotations never overlap, ``area`` is the pixel count, and the annotations with
    ``ignore_rle`` rebuild the class-id mask exactly. Yields ``(seed, row, [(category, pixels), ...])`` per image."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    for split, rows in expected.items():
        coco = COCO(str(out / "annotations" / f"{split}.json"))
        assert {c["name"]: c["supercategory"] for c in coco.loadCats(coco.getCatIds())} == {
            "car": "car",
            "wheel": "car",
            "tree": "tree",
            "茶碗": "茶碗",
        }
        assert sorted(coco.getImgIds()) == sorted(rows)
        for image_id, row in rows.items():
            mask = row["mask"]
            info = coco.loadImgs(image_id)[0]
            assert (out / "images" / info["file_name"]).is_file() and info["file_name"].endswith(".jpg")
            annotations = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            assert {a["category_id"] for a in annotations} == set(np.unique(mask)) - {0, 255}
            rebuilt, found = np.zeros_like(mask), []
            for annotation in annotations:
                binary = coco.annToMask(annotation).astype(bool)
                assert not rebuilt[binary].any()  # annotations never overlap
                assert annotation["iscrowd"] == 0 and annotation["area"] == binary.sum()
                rebuilt[binary] = annotation["category_id"]
                found.append((annotation["category_id"], binary))
            rebuilt[mask_utils.decode(info["ignore_rle"]).astype(bool)] = 255
            assert np.array_equal(rebuilt, mask), (split, image_id)
            yield image_id, row, found


def test_coco_export_has_one_annotation_per_object_of_the_generator(built):
    """scenes knows its objects: the build carries them (``instances``, equal to the samples' instance maps) and
    COCO holds one annotation per object; the objects read back equal the stored instance maps."""
    from scipy import ndimage

    from synth.store.codec import decode_array
    from synth.store.records import records_from_table
    from synth.store.shards import list_shards, read_shard

    result = built.synth("export", "tiny", "--format", "coco")
    assert result.stderr.startswith("export coco: exports/tiny/coco (train ")
    assert result.stderr.strip().endswith("; one annotation per object (instances column)")
    stored = {
        record.seed: decode_array(record.array_bytes["instances"])
        for shard in list_shards(built.root / "data/tiny/samples")
        for record in records_from_table(read_shard(shard), shard)
    }
    rows = build_rows(built)
    touching = 0
    for seed, row, found in read_coco(built.root / "exports/tiny/coco", rows):
        mask, instances = row["mask"], row["instances"]
        assert np.array_equal(instances, stored[seed])  # the build's column is what the generator stored
        read_back = np.zeros_like(instances)
        for category, binary in found:
            (number,) = np.unique(instances[binary])  # one object per annotation ...
            assert number > 0 and np.array_equal(binary, (instances == number) & (mask == category))
            read_back[binary] = number
        # ... and every object is one annotation: the map read back is the stored one (less the ignore pixels)
        assert np.array_equal(read_back, np.where(mask == 255, 0, instances))
        for category in {c for c, _ in found}:
            regions = ndimage.label(mask == category, structure=np.ones((3, 3)))[1]
            touching += sum(c == category for c, _ in found) > regions
    assert touching > 0  # objects of one class that touch (one region in the mask) are separate annotations


def test_coco_export_without_instances_has_one_annotation_per_region(built, tmp_path):
    """A build whose generator does not know its objects (no ``instances`` column): one annotation per
    8-connected region of a class, as many as the class has regions."""
    import shutil

    import pyarrow.parquet as pq
    from scipy import ndimage

    from synth.export import export
    from synth.recipe import load_recipe

    shutil.copytree(built.root / "recipes", tmp_path / "recipes")
    shutil.copytree(built.root / "build/tiny", tmp_path / "build/tiny")
    for path in (tmp_path / "build/tiny/data").glob("*.parquet"):
        pq.write_table(pq.read_table(path).drop_columns(["instances"]), path)
    report = export(load_recipe("tiny", tmp_path), tmp_path, "coco")
    assert report.notes == ["one annotation per connected region of a class (the build has no instances)"]
    for _, row, found in read_coco(tmp_path / "exports/tiny/coco", build_rows(built, tmp_path)):
        for _category, binary in found:
            assert ndimage.label(binary, structure=np.ones((3, 3)))[1] == 1  # a single 8-connected region ...
        for category in {c for c, _ in found}:
            # ... and as many annotations as the class has separate regions (two wheels are two objects)
            regions = ndimage.label(row["mask"] == category, structure=np.ones((3, 3)))[1]
            assert sum(c == category for c, _ in found) == regions


def test_voc_export_equals_the_build(built):
    built.synth("export", "tiny", "--format", "voc", "--out", "voc-out")
    out = built.root / "voc-out"
    names = {"train": "train", "validation": "val", "test": "test"}
    for split, masks in build_masks(built).items():
        ids = (out / "ImageSets/Segmentation" / f"{names[split]}.txt").read_text().split()
        assert sorted(int(i) for i in ids) == sorted(masks)
        for i in ids:  # what torchvision's VOCSegmentation and mmsegmentation open for an id
            with Image.open(out / "JPEGImages" / f"{i}.jpg") as image:
                assert image.format == "JPEG" and image.size == (64, 64)
            with Image.open(out / "SegmentationClass" / f"{i}.png") as target:
                assert target.mode == "P"
                assert tuple(target.getpalette()[3:6]) == (0xE6, 0x19, 0x4B)  # class 1's colour
                assert np.array_equal(np.asarray(target), masks[int(i)])
    trainval = (out / "ImageSets/Segmentation/trainval.txt").read_text().split()
    assert len(trainval) == len(build_masks(built)["train"]) + len(build_masks(built).get("validation", {}))
    # labelmap.txt, read back the way Datumaro/CVAT do: one `name:r,g,b::` per mask value, 255 (ignore) last;
    # every colour is the mask PNGs' palette entry of its value.
    lines = [
        line for line in (out / "labelmap.txt").read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    entries = [(line.split(":")[0], tuple(int(v) for v in line.split(":")[1].split(","))) for line in lines]
    assert [name for name, _ in entries] == ["background", "car", "wheel", "tree", "茶碗", "ignore"]
    with Image.open(next((out / "SegmentationClass").glob("*.png"))) as target:
        palette = target.getpalette()
    values = [0, 1, 2, 3, 4, 255]
    assert [rgb for _, rgb in entries] == [tuple(palette[3 * v : 3 * v + 3]) for v in values]


def test_cityscapes_export_equals_the_build(built):
    built.synth("export", "tiny", "--format", "cityscapes")
    out = built.root / "exports/tiny/cityscapes"
    names = {"train": "train", "validation": "val", "test": "test"}
    for split, masks in build_masks(built).items():
        seen = {}
        # torchvision's Cityscapes reader: every image in leftImg8bit/SPLIT/CITY, its target by name in gtFine.
        for image_path in sorted((out / "leftImg8bit" / names[split]).glob("*/*_leftImg8bit.png")):
            city = image_path.parent.name
            target = (
                out
                / "gtFine"
                / names[split]
                / city
                / image_path.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png")
            )
            with Image.open(target) as labels:
                assert labels.mode == "L"
                seen[int(image_path.name.split("_")[2])] = np.asarray(labels)
        assert sorted(seen) == sorted(masks)
        for seed, labels in seen.items():
            assert np.array_equal(labels, masks[seed])
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert [entry["id"] for entry in labels] == [0, 1, 2, 3, 4, 255]


def test_export_refuses_bad_input_in_one_line(built, project):
    result = built.synth("export", "tiny", "--format", "yolo", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "--format yolo: unknown format; choose one of coco, voc, cityscapes"
    result = project.synth("export", "tiny", check=False)  # nothing built in this fresh project
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "build/tiny: not built; data/tiny/samples is missing: run `synth synthesize tiny` and the stages after it, "
        "up to build"
    )
    assert not (project.root / "exports").exists()
    (built.root / "occupied").mkdir()
    (built.root / "occupied/notes.txt").write_text("mine")
    result = built.synth("export", "tiny", "--out", "occupied", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert (built.root / "occupied/notes.txt").read_text() == "mine"
