"""COCO: ``images/SPLIT/SEED.EXT`` and ``annotations/SPLIT.json``, one RLE annotation per connected region.

COCO annotations are object instances. The build holds semantic masks (a class id per pixel, no instance ids), so
each 8-connected region of a class is one annotation: two separate wheels are two objects, but two cars that
touch are one, and a decoder's speckles are objects of their own (filter by ``area`` if that matters).
``segmentation`` is an RLE encoded by ``pycocotools``, ``iscrowd`` 0, ``area`` and ``bbox`` from the RLE; with
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


def categories(dataset: BuiltDataset) -> list[dict]:
    return [
        {"id": c.id, "name": c.name, "supercategory": c.parent or c.name, "color": c.color}
        for c in dataset.recipe.taxonomy.classes
    ]


def write(dataset: BuiltDataset, folder: Path) -> tuple[dict[str, int], list[str]]:
    from pycocotools import mask as mask_utils

    recipe = dataset.recipe
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
            for cls in recipe.taxonomy.classes:
                for region in regions(mask == cls.id):
                    rle = _rle(region)
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": row.seed,
                            "category_id": cls.id,
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
    return counts, []
