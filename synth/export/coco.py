"""COCO: ``images/SPLIT/SEED.EXT`` and ``annotations/SPLIT.json``, one RLE annotation per object.

COCO annotations are object instances. Where the build has an ``instances`` column (the generator knew which
object each pixel shows: ``scenes``), each object is one annotation, whatever its shape: two touching cars are
two annotations, a car cut in two by a person in front is one. Otherwise the build holds semantic masks only (a
class id per pixel), so each 8-connected region of a class is one annotation: two separate wheels are two
objects, but two cars that touch are one, and a decoder's speckles are objects of their own (filter by ``area``
if that matters). The export's summary line says which of the two it did. ``segmentation`` is an RLE encoded by ``pycocotools``, ``iscrowd`` 0, ``area`` and ``bbox`` from the RLE; with
Detectron2 set ``cfg.INPUT.MASK_FORMAT = "bitmask"`` (RLE, not polygons). Categories are the taxonomy (id =
class id, ``supercategory`` = ``parent``, or the class itself at the top level). COCO has no ignore label: pixels
with 255 are kept per image as an RLE in ``images[].ignore_rle`` (absent when there are none; an extra key that
COCO readers skip), so the class-id mask can be rebuilt exactly. Image bytes are copied as built, never
re-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.export.source import BuiltDataset


def _rle(binary: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))


def _json_rle(rle: dict) -> dict:
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def regions(present: np.ndarray) -> list[np.ndarray]:
    """The 8-connected regions of a boolean mask, largest first (ties: top-left first), as boolean masks."""
    from scipy import ndimage

    labels, count = ndimage.label(present, structure=EIGHT_CONNECTED)
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    order = sorted(range(count), key=lambda i: -sizes[i])  # stable: equal sizes keep scan order
    return [labels == i + 1 for i in order]


def objects(mask: np.ndarray, instances: np.ndarray | None, class_ids: list[int]) -> list[tuple[int, np.ndarray]]:
    """``(class id, pixels)`` of every annotation of one image, by class id, then object number (or region size).

    With an instance map, one per object: the pixels of the object that show the class. Pixels that show a class
    but no object (none for ``scenes``, whose map covers every labeled pixel) fall back to connected regions.
    """
    found = []
    for class_id in class_ids:
        of_class = mask == class_id
        if not of_class.any():
            continue
        if instances is None:
            found += [(class_id, region) for region in regions(of_class)]
            continue
        numbers = np.unique(instances[of_class])
        found += [(class_id, of_class & (instances == number)) for number in numbers if number]
        if numbers[0] == 0:
            found += [(class_id, region) for region in regions(of_class & (instances == 0))]
    return found


def categories(dataset: BuiltDataset) -> list[dict]:
    return [
        {"id": c.id, "name": c.name, "supercategory": c.parent or c.name, "color": c.color}
        for c in dataset.recipe.taxonomy.classes
    ]


def write(dataset: BuiltDataset, folder: Path) -> tuple[dict[str, int], list[str]]:
    from pycocotools import mask as mask_utils

    recipe = dataset.recipe
    class_ids = [c.id for c in recipe.taxonomy.classes]
    (folder / "annotations").mkdir()
    counts = {}
    for split in dataset.splits:
        (folder / "images" / split).mkdir(parents=True)
        images: list[dict] = []
        annotations: list[dict] = []
        for row in dataset.rows(split):
            mask = row.mask()
            name = f"{split}/{row.stem}{row.suffix}"
            (folder / "images" / name).write_bytes(row.image_bytes)
            entry = {
                "id": row.seed,
                "file_name": name,
                "height": int(mask.shape[0]),
                "width": int(mask.shape[1]),
                "seed": row.seed,
                "prompt": row.prompt,
            }
            if (mask == IGNORE_ID).any():
                entry["ignore_rle"] = _json_rle(_rle(mask == IGNORE_ID))
            images.append(entry)
            for class_id, pixels in objects(mask, row.instances(), class_ids):
                rle = _rle(pixels)
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": row.seed,
                        "category_id": class_id,
                        "segmentation": _json_rle(rle),
                        "area": float(mask_utils.area(rle)),
                        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                        "iscrowd": 0,
                    }
                )
        document = {
            "info": {
                "description": f"{recipe.name} {recipe.version} ({split}), exported by synth-datasets",
                "version": recipe.version,
            },
            "licenses": [{"id": 1, "name": recipe.license}],
            "images": images,
            "annotations": annotations,
            "categories": categories(dataset),
        }
        (folder / "annotations" / f"{split}.json").write_text(
            json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        counts[split] = len(images)
    how = "instances column" if dataset.has_instances else "the build has no instances"
    unit = "object" if dataset.has_instances else "connected region of a class"
    return counts, [f"one annotation per {unit} ({how})"]
