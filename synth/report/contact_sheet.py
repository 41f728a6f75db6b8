"""A contact sheet of samples with their masks: the preview stage writes one, ``synth review`` draws two side by side."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from synth.core.fonts import label_font
from synth.core.labels import IGNORE_ID
from synth.core.palette import IGNORE_RGB, palette_rgb
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.store.codec import decode_png
from synth.store.labeled import paired_shards
from synth.store.shards import read_shard, select_seeds

CELL = 160


def palette(recipe: Recipe) -> np.ndarray:
    """Mask value -> RGB: taxonomy colours, black background, white ignore."""
    return palette_rgb(recipe.taxonomy)


def pick_seeds(seeds: list[int], count: int) -> list[int]:
    """Evenly spaced over the sorted seeds: the same recipe always previews the same samples."""
    if len(seeds) <= count:
        return sorted(seeds)
    ordered = sorted(seeds)
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)] if count > 1 else ordered[:1]


def _cell(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array).resize(
        (CELL, CELL), Image.Resampling.NEAREST if array.ndim == 2 else Image.Resampling.BILINEAR
    )


def contact_sheet(
    recipe: Recipe,
    root: Path = Path("."),
    count: int = 8,
    seeds: list[int] | None = None,
    leave_out: Collection[int] = (),
) -> Image.Image:
    """``seeds``: exactly these (those the data holds), e.g. the same seeds of two versions for a review.
    Otherwise ``count`` evenly spaced seeds of those the data holds less ``leave_out`` (what build leaves out)."""
    paths = DatasetPaths(Path(root), recipe.name)
    pairs = dict(enumerate(paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")))
    samples = {i: pair[0] for i, pair in pairs.items()}
    masks = {i: pair[1] for i, pair in pairs.items()}
    all_seeds = {i: read_shard(p, ["seed"]).column("seed").to_pylist() for i, p in samples.items()}
    held = [s for shard_seeds in all_seeds.values() for s in shard_seeds if s not in leave_out]
    chosen = set(held).intersection(seeds) if seeds is not None else set(pick_seeds(held, count))
    lut = palette(recipe)
    rows = []
    for index in sorted(samples):
        if not chosen.intersection(all_seeds[index]):
            continue
        wanted = chosen.intersection(all_seeds[index])
        # only the columns drawn (a samples shard's arrays can be most of its bytes), only the previewed rows
        images = {
            r["seed"]: r["image"]
            for r in select_seeds(read_shard(samples[index], ["seed", "image"]), wanted).to_pylist()
        }
        decoded = {
            r["seed"]: r["mask"] for r in select_seeds(read_shard(masks[index], ["seed", "mask"]), wanted).to_pylist()
        }
        for seed in sorted(wanted):
            image = decode_png(images[seed])
            mask = decode_png(decoded[seed])
            colours = lut[mask]
            labeled = (mask != 0)[..., None]
            overlay = np.where(labeled, 0.45 * image + 0.55 * colours, image).astype(np.uint8)
            rows.append((seed, _cell(image), _cell(overlay), _cell(colours)))
    legend_h = 18 * (len(recipe.taxonomy.classes) + 2) + 8
    sheet = Image.new("RGB", (3 * CELL, len(rows) * (CELL + 14) + legend_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = label_font(12)  # covers Latin, Greek, Cyrillic and CJK names where such a font is installed
    for i, (seed, *cells) in enumerate(rows):
        y = i * (CELL + 14)
        draw.text((4, y + 1), f"seed {seed}: image | overlay | mask", fill=(220, 220, 220), font=font)
        for j, cell in enumerate(cells):
            sheet.paste(cell, (j * CELL, y + 14))
    y = len(rows) * (CELL + 14) + 4
    entries = [(0, "background", (0, 0, 0))] + [(c.id, c.name, c.rgb) for c in recipe.taxonomy.classes]
    entries.append((IGNORE_ID, "ignore", IGNORE_RGB))
    for k, (value, name, rgb) in enumerate(entries):
        draw.rectangle([6, y + 18 * k, 20, y + 18 * k + 12], fill=tuple(rgb), outline=(128, 128, 128))
        draw.text((28, y + 18 * k), f"{value}: {name}", fill=(220, 220, 220), font=font)
    return sheet
