"""Which samples the report shows, and their pixels: read from the shards, only the rows that are shown.

The per-sample index (seed, shard, class pixel fractions, mean confidence, DatasetGAN uncertainty) comes from the
masks shards' small columns, never from pixels, so choosing examples costs nothing on a large dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.store.codec import decode_confidence, decode_png
from synth.store.labeled import paired_shards
from synth.store.shards import read_shard, select_seeds


@dataclass
class IndexRow:
    seed: int
    pair: int  # position in the list of shard pairs
    class_fraction: list[float]
    mean_confidence: float | None
    uncertainty: float | None


@dataclass
class SampleView:
    seed: int
    prompt: str
    image: np.ndarray
    mask: np.ndarray
    confidence: np.ndarray | None


def sample_index(recipe: Recipe, root: Path) -> tuple[list[tuple[Path, Path]], list[IndexRow]]:
    paths = DatasetPaths(Path(root), recipe.name)
    pairs = paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")
    rows = []
    for i, (_, masks) in enumerate(pairs):
        table = read_shard(masks, ["seed", "class_fraction", "mean_confidence", "provenance"]).to_pylist()
        for r in table:
            uncertainty = json.loads(r["provenance"] or "{}").get("uncertainty")
            rows.append(
                IndexRow(
                    r["seed"],
                    i,
                    list(r["class_fraction"] or []),
                    r["mean_confidence"],
                    None if uncertainty is None else float(uncertainty),
                )
            )
    return pairs, rows


def evenly_spaced(seeds: list[int], count: int) -> list[int]:
    ordered = sorted(seeds)
    if len(ordered) <= count:
        return ordered
    return sorted({ordered[round(i * (len(ordered) - 1) / max(1, count - 1))] for i in range(count)})


def class_examples(recipe: Recipe, rows: list[IndexRow], per_class: int) -> dict[int, list[int]]:
    """Class id -> seeds where it covers the most pixels (ties by seed): what the class looks like at its clearest."""
    out = {}
    for k, cls in enumerate(recipe.taxonomy.classes):
        having = [(r.class_fraction[k], r.seed) for r in rows if k < len(r.class_fraction) and r.class_fraction[k] > 0]
        out[cls.id] = [seed for _, seed in sorted(having, key=lambda item: (-item[0], item[1]))[:per_class]]
    return out


def least_confident(rows: list[IndexRow], count: int) -> tuple[list[int], str]:
    """Seeds the decoder was least sure of: the highest DatasetGAN ensemble uncertainty, else the lowest mean decoder
    confidence; and what ranked them. Both are the decoder's own uncalibrated scores, not the chance a mask is wrong."""
    scored = [(r.uncertainty, r.seed) for r in rows if r.uncertainty is not None]
    if scored:
        return [s for _, s in sorted(scored, key=lambda x: (-x[0], x[1]))[:count]], "highest ensemble uncertainty"
    scored = [(r.mean_confidence, r.seed) for r in rows if r.mean_confidence is not None]
    if scored:
        return [s for _, s in sorted(scored, key=lambda x: (x[0], x[1]))[:count]], "lowest mean decoder confidence"
    return [], ""


def load_views(pairs: list[tuple[Path, Path]], rows: list[IndexRow], seeds: set[int]) -> dict[int, SampleView]:
    """Decode the pixels of ``seeds`` only, one shard pair at a time."""
    pair_of = {r.seed: r.pair for r in rows}
    out: dict[int, SampleView] = {}
    for i, (samples_path, masks_path) in enumerate(pairs):
        wanted = sorted(s for s in seeds if pair_of.get(s) == i)
        if not wanted:
            continue
        samples = select_seeds(read_shard(samples_path, ["seed", "prompt", "image"]), wanted).to_pylist()
        masks = select_seeds(read_shard(masks_path, ["seed", "mask", "confidence"]), wanted).to_pylist()
        masks = {r["seed"]: r for r in masks}
        for s in samples:
            m = masks[s["seed"]]
            confidence = None if m["confidence"] is None else decode_confidence(m["confidence"])
            out[s["seed"]] = SampleView(
                s["seed"], s["prompt"], decode_png(s["image"]), decode_png(m["mask"]), confidence
            )
    return out
