"""Cityscapes layout: ``leftImg8bit/SPLIT/CITY/CITY_000000_SEED_leftImg8bit.png`` and
``gtFine/SPLIT/CITY/..._gtFine_labelIds.png`` (greyscale class ids, 255 ignore) plus ``_gtFine_color.png``.

CITY is the dataset name (``_`` would break Cityscapes' ``city_sequence_frame`` names, so it becomes ``-``), the
sequence is 000000 and the frame is the seed. Splits are ``train``, ``val`` (the build's ``validation``) and
``test``. The label ids are the taxonomy's ids, not Cityscapes' 34 classes: ``labels.json`` lists them (id,
name, colour, trainId = id, ignore 255). Cityscapes images are PNG, so JPEG images are decoded and stored
losslessly as PNG.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from synth.core.palette import palette_rgb
from synth.export.source import BuiltDataset
from synth.store.codec import PNG_COMPRESS_LEVEL

CITYSCAPES_SPLIT = {"train": "train", "validation": "val", "test": "test"}


def write(dataset: BuiltDataset, folder: Path) -> tuple[dict[str, int], list[str]]:
    recipe = dataset.recipe
    city = recipe.name.replace("_", "-")
    lut = palette_rgb(recipe.taxonomy)
    counts = {}
    for split in dataset.splits:
        name = CITYSCAPES_SPLIT[split]
        images, labels = folder / "leftImg8bit" / name / city, folder / "gtFine" / name / city
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        n = 0
        for row in dataset.rows(split):
            base = f"{city}_000000_{row.seed:06d}"
            if row.suffix == ".png":
                (images / f"{base}_leftImg8bit.png").write_bytes(row.image_bytes)
            else:
                row.image().save(images / f"{base}_leftImg8bit.png", format="PNG", compress_level=PNG_COMPRESS_LEVEL)
            mask = row.mask()
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(mask)).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
            (labels / f"{base}_gtFine_labelIds.png").write_bytes(buffer.getvalue())
            Image.fromarray(lut[mask]).save(
                labels / f"{base}_gtFine_color.png", format="PNG", compress_level=PNG_COMPRESS_LEVEL
            )
            n += 1
        counts[split] = n
    classes = (
        [{"id": 0, "name": "background", "color": "#000000", "trainId": 0}]
        + [
            {"id": c.id, "name": c.name, "color": c.color, "trainId": c.id, "parent": c.parent}
            for c in recipe.taxonomy.classes
        ]
        + [{"id": 255, "name": "ignore", "color": "#ffffff", "trainId": 255}]
    )
    (folder / "labels.json").write_text(json.dumps(classes, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts, []
