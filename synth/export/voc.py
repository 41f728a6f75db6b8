"""Pascal VOC segmentation: ``JPEGImages/``, ``SegmentationClass/`` (palette PNGs), ``ImageSets/Segmentation/``.

Mask values are the class ids with 255 as VOC's own "void" (ignore); the palette is the taxonomy's colours, as in
the dataset itself. ``labelmap.txt`` lists ``name:r,g,b::`` per value (CVAT's and Datumaro's VOC convention): 0
background, the classes in id order, and last ``ignore`` (mask value 255, the palette's white).
VOC readers open ``JPEGImages/ID.jpg``: JPEG images are copied as built; PNG/WebP images are re-encoded as JPEG
quality 95 (lossy; the summary says so). Split lists are ``train.txt``, ``val.txt`` (the build's
``validation``), ``test.txt`` and ``trainval.txt``.
"""

from __future__ import annotations

import io
from pathlib import Path

from synth.core.labels import IGNORE_ID
from synth.core.palette import palette_bytes
from synth.export.source import BuiltDataset
from synth.store.codec import encode_mask

VOC_SPLIT = {"train": "train", "validation": "val", "test": "test"}
JPEG_QUALITY = 95


def write(dataset: BuiltDataset, folder: Path) -> tuple[dict[str, int], list[str]]:
    recipe = dataset.recipe
    palette = palette_bytes(recipe.taxonomy)
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (folder / sub).mkdir(parents=True)
    counts, lists, reencoded = {}, {}, 0
    for split in dataset.splits:
        ids = []
        for row in dataset.rows(split):
            if row.suffix in (".jpg", ".jpeg"):
                (folder / "JPEGImages" / f"{row.stem}.jpg").write_bytes(row.image_bytes)
            else:
                buffer = io.BytesIO()
                row.image().save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
                (folder / "JPEGImages" / f"{row.stem}.jpg").write_bytes(buffer.getvalue())
                reencoded += 1
            (folder / "SegmentationClass" / f"{row.stem}.png").write_bytes(encode_mask(row.mask(), palette))
            ids.append(row.stem)
        lists[VOC_SPLIT[split]] = ids
        counts[split] = len(ids)
    lists["trainval"] = lists.get("train", []) + lists.get("val", [])
    for name, ids in lists.items():
        (folder / "ImageSets/Segmentation" / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    ignore = tuple(palette[3 * IGNORE_ID : 3 * IGNORE_ID + 3])
    entries = [("background", (0, 0, 0))] + [(c.name, c.rgb) for c in recipe.taxonomy.classes] + [("ignore", ignore)]
    labelmap = "# label:color_rgb:parts:actions\n" + "".join(f"{n}:{r},{g},{b}::\n" for n, (r, g, b) in entries)
    (folder / "labelmap.txt").write_text(labelmap, encoding="utf-8")
    notes = [f"{reencoded} images re-encoded as JPEG q{JPEG_QUALITY} (VOC readers expect .jpg)"] if reencoded else []
    return counts, notes
