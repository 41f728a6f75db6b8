"""The target stage: the recipe's target domain -> ``data/NAME/target/{images,eval}/shard-00000-KEY.parquet``.

Folders and Hub datasets live outside the pipeline, so DVC runs this stage every time (``always_changed``);
the shard key is a hash of the images' pixels, so unchanged images leave the shard, and every stage after it,
untouched.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from synth.adapt.target import load_source
from synth.backends.work import ShardJob, ShardWork
from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.stages import StageReport, require_section
from synth.stages.runner import run_sharded
from synth.stats import image_stats
from synth.store.codec import encode_png
from synth.store.records import SAMPLES_SCHEMA, rows_to_table
from synth.store.shards import ShardPlan, prune

TARGET_FORMAT = 2  # 2: keyed by the decoded pixels, so an up-to-date shard is found without encoding anything


def target(recipe: Recipe, root: Path = Path(".")) -> StageReport:
    settings = require_section(recipe, "target", "adapt_recipes")
    report = StageReport()
    for kind in ("images", "eval"):
        source = getattr(settings, kind)
        out_dir = DatasetPaths(Path(root), recipe.name).target / kind
        out_dir.mkdir(parents=True, exist_ok=True)
        if source is None:
            report.removed += [p.name for p in prune(out_dir, [])]
            continue
        items = load_source(source, recipe.context(), Path(root), f"target.{kind}")
        if kind != "eval":  # target images are used unlabeled, whatever they came with
            items = [(ident, image, None) for ident, image, _ in items]
        key = canonical_hash(
            {"format": TARGET_FORMAT, "rows": [[ident, _digest(image), _digest(mask)] for ident, image, mask in items]}
        )[:16]
        # The rows (PNG, statistics) are made in ``setup``, which runs only when the shard is not already there:
        # this stage runs on every `dvc repro`, and a no-op must write and encode nothing.
        work = ShardWork(recipe.name, f"target/{kind}", setup=partial(_table, items, source), make=_made)
        done = run_sharded(
            work, [ShardJob(ShardPlan(0, tuple(range(len(items))), key))], out_dir, f"target {kind}", False
        )
        report.removed += done.removed
        report.samples += done.samples
        report.skipped += [f"{kind}/{name}" for name in done.skipped]
        report.written += [f"{kind}/{name}" for name in done.written]
    return report


def _table(items, source):
    rows = [
        {
            "seed": i,
            "prompt": ident,
            "image": encode_png(image),
            "mask": None if mask is None else encode_png(mask),
            "arrays": [],
            **image_stats(image),
            "provenance": json.dumps(
                {"source": source.model_dump(mode="json"), "id": ident}, sort_keys=True, separators=(",", ":")
            ),
        }
        for i, (ident, image, mask) in enumerate(items)
    ]
    return rows_to_table(rows, SAMPLES_SCHEMA)


def _made(table, _job: ShardJob, _source, _advance):
    """The one shard of a target set: its rows are read (and keyed) before the shard is planned."""
    return table


def _digest(array) -> str | None:
    """The pixels (and their shape and type): what the shard's PNG holds, without encoding it."""
    import hashlib

    if array is None:
        return None
    array = np.ascontiguousarray(array)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()
