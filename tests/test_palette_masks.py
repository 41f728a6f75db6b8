"""Masks are palette PNGs whose colours are the taxonomy's, whose values are still the class ids."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from synth.core.palette import palette_rgb
from synth.recipe.schema import Taxonomy
from synth.store.codec import decode_png, encode_mask, encode_png
from synth.store.shards import list_shards, read_shard

TAXONOMY = Taxonomy(
    classes=[{"id": 1, "name": "car", "color": "#e6194b"}, {"id": 2, "name": "Fuß", "color": "#3cb44b"}]
)


def test_encode_mask_keeps_ids_and_carries_the_taxonomy_palette():
    mask = np.array([[0, 1, 2], [255, 2, 1]], dtype=np.uint8)
    data = encode_mask(mask, palette_rgb(TAXONOMY).tobytes())
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "P"
        colours = np.array(image.getpalette()[: 3 * 256], dtype=np.uint8).reshape(-1, 3)
        rgb = np.asarray(image.convert("RGB"))
    assert np.array_equal(decode_png(data), mask)
    assert tuple(colours[0]) == (0, 0, 0) and tuple(colours[255]) == (255, 255, 255)
    assert tuple(colours[1]) == (0xE6, 0x19, 0x4B) and tuple(colours[2]) == (0x3C, 0xB4, 0x4B)
    assert tuple(rgb[0, 1]) == (0xE6, 0x19, 0x4B)  # what a viewer shows
    assert decode_png(encode_png(mask)).tolist() == decode_png(data).tolist()  # greyscale reads the same


def test_decode_writes_palette_masks_and_old_greyscale_builds_still_load(built_project):
    project = built_project  # `synth synthesize`, `decode`, `validate` and `build` of the tiny recipe
    exact = {}
    for shard in list_shards(project.root / "data/tiny/samples"):
        exact |= {r["seed"]: decode_png(r["mask"]) for r in read_shard(shard, ["seed", "mask"]).to_pylist()}
    for shard in list_shards(project.root / "data/tiny/masks"):
        for row in read_shard(shard, ["seed", "mask"]).to_pylist():
            with Image.open(io.BytesIO(row["mask"])) as image:
                assert image.mode == "P"
            assert np.array_equal(decode_png(row["mask"]), exact[row["seed"]])
    assert "palette" in (project.root / "build/tiny/README.md").read_text()

    # A build made before palette masks (greyscale "L" PNGs) loads the same way.
    for path in sorted((project.root / "build/tiny/data").glob("*.parquet")):
        table = pq.read_table(path)
        masks = table.column("mask").to_pylist()
        grey = [{"bytes": encode_png(decode_png(m["bytes"])), "path": m["path"]} for m in masks]
        index = table.schema.get_field_index("mask")
        table = table.set_column(index, table.schema.field("mask"), [grey])
        path.unlink()
        pq.write_table(table, path)
    from datasets import load_dataset

    for rows in load_dataset(str(project.root / "build/tiny"), cache_dir=str(project.root / ".hf-cache")).values():
        for row in rows:
            assert row["mask"].mode == "L"
            assert np.array_equal(np.asarray(row["mask"]), exact[row["seed"]])
