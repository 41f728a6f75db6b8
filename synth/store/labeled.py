"""Labeled samples for the stages that consume a finished dataset (mix, stylize, evaluate).

A labeled sample is a samples-shard row joined with its masks-shard row (same shard index, same seed order),
or a row of a shard that carries its own mask (mixed, stylized, target). Pixels decode lazily.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from synth.errors import UserError
from synth.store.codec import decode_png
from synth.store.shards import list_shards, read_shard, shard_name


@dataclass
class Labeled:
    seed: int
    prompt: str
    image_png: bytes
    mask_png: bytes | None
    provenance: dict = field(default_factory=dict)
    class_fraction: list[float] = field(default_factory=list)  # per class id; only masks shards store it
    shard: str = ""

    @cached_property
    def image(self) -> np.ndarray:
        return decode_png(self.image_png)

    @cached_property
    def mask(self) -> np.ndarray | None:
        return None if self.mask_png is None else decode_png(self.mask_png)

    @property
    def required_mask(self) -> np.ndarray:
        """``mask`` of a row that must have one (a decoded or mixed sample), or one line naming the row."""
        if self.mask is None:
            raise UserError(f"{self.shard}: seed {self.seed} has no mask")
        return self.mask


def paired_shards(samples_dir: Path, masks_dir: Path, rerun: str) -> list[tuple[Path, Path]]:
    """(samples shard, masks shard) by index; a missing or extra masks shard means decode is out of date."""
    samples = {shard_name(p).number: p for p in list_shards(samples_dir)}
    masks = {shard_name(p).number: p for p in list_shards(masks_dir)}
    if not samples:
        raise UserError(f"{samples_dir}: no samples shards; run `{rerun}` first")
    if set(samples) != set(masks):
        raise UserError(f"{masks_dir}: masks shards do not match {samples_dir}; rerun `synth decode`")
    return [(samples[i], masks[i]) for i in sorted(samples)]


def read_pair(samples_path: Path, masks_path: Path) -> list[Labeled]:
    samples = read_shard(samples_path, ["seed", "prompt", "image", "provenance"]).to_pylist()
    masks = read_shard(masks_path, ["seed", "mask", "class_fraction"]).to_pylist()
    if [r["seed"] for r in samples] != [r["seed"] for r in masks]:
        raise UserError(f"{masks_path}: seeds differ from {samples_path.name}; rerun `synth decode`")
    return [
        Labeled(
            s["seed"],
            s["prompt"],
            s["image"],
            m["mask"],
            json.loads(s["provenance"]),
            m["class_fraction"],
            samples_path.name,
        )
        for s, m in zip(samples, masks)
    ]


def load_dataset_labeled(samples_dir: Path, masks_dir: Path, name: str) -> list[Labeled]:
    out: list[Labeled] = []
    for samples_path, masks_path in paired_shards(samples_dir, masks_dir, f"synth synthesize {name}"):
        out.extend(read_pair(samples_path, masks_path))
    return out


def load_self_labeled(directory: Path, what: str) -> list[Labeled]:
    """Rows of shards in the samples schema whose ``mask`` column is filled (mixed, stylized, target)."""
    shards = list_shards(directory)
    if not shards:
        raise UserError(f"{directory}: no shards; run `{what}` first")
    out = []
    for path in shards:
        for row in read_shard(path, ["seed", "prompt", "image", "mask", "provenance"]).to_pylist():
            out.append(
                Labeled(
                    row["seed"],
                    row["prompt"],
                    row["image"],
                    row["mask"],
                    json.loads(row["provenance"]),
                    shard=path.name,
                )
            )
    return out
