"""The target stage: the recipe's target domain -> ``data/NAME/target/{images,eval}/shard-00000-KEY.parquet``.

Folders and Hub datasets live outside the pipeline, so DVC runs this stage every time (``always_changed``);
the shard key is a hash of the images' bytes, so unchanged images leave the shard, and every stage after it,
untouched.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

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

TARGET_FORMAT = 1


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
        rows = []
        for i, (ident, image, mask) in enumerate(items):
            keep_mask = mask if kind == "eval" else None  # target images are used unlabeled, whatever they came with
            rows.append(
                {
                    "seed": i,
                    "prompt": ident,
                    "image": encode_png(image),
                    "mask": None if keep_mask is None else encode_png(keep_mask),
                    "arrays": [],
                    **image_stats(image),
                    "provenance": json.dumps(
                        {"source": source.model_dump(mode="json"), "id": ident}, sort_keys=True, separators=(",", ":")
                    ),
                }
            )
        key = canonical_hash(
            {"format": TARGET_FORMAT, "rows": [[r["prompt"], _digest(r["image"]), _digest(r["mask"])] for r in rows]}
        )[:16]
        work = ShardWork(recipe.name, f"target/{kind}", setup=partial(rows_to_table, rows, SAMPLES_SCHEMA), make=_made)
        done = run_sharded(
            work, [ShardJob(ShardPlan(0, tuple(range(len(rows))), key))], out_dir, f"target {kind}", False
        )
        report.removed += done.removed
        report.samples += done.samples
        report.skipped += [f"{kind}/{name}" for name in done.skipped]
        report.written += [f"{kind}/{name}" for name in done.written]
    return report


def _made(table, _job: ShardJob, _source, _advance):
    """The one shard of a target set: its rows are read (and keyed) before the shard is planned."""
    return table


def _digest(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()
