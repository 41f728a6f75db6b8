"""The target stage: the recipe's target domain -> ``data/NAME/target/{images,eval}/shard-00000-KEY.parquet``.

Folders and Hub datasets live outside the pipeline, so DVC runs this stage every time (``always_changed``);
the shard key is a hash of the images' bytes, so unchanged images leave the shard, and every stage after it,
untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from synth.adapt.target import load_source
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe, canonical_hash
from synth.stages import StageReport
from synth.stages.mix import require_section
from synth.stats import image_stats
from synth.store.codec import encode_png
from synth.store.records import SAMPLES_SCHEMA, rows_to_table
from synth.store.shards import ShardPlan, is_complete, prune, write_atomic

TARGET_FORMAT = 1


def target_dir(root: Path, name: str) -> Path:
    return DatasetPaths(Path(root), name).root / "data" / name / "target"


def target(recipe: Recipe, root: Path = Path(".")) -> StageReport:
    settings = require_section(recipe, "target", "adapt_recipes")
    report = StageReport()
    for kind in ("images", "eval"):
        source = getattr(settings, kind)
        out_dir = target_dir(root, recipe.name) / kind
        out_dir.mkdir(parents=True, exist_ok=True)
        if source is None:
            report.removed += [p.name for p in prune(out_dir, [])]
            continue
        items = load_source(source, recipe, Path(root), f"target.{kind}")
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
                    "provenance": json.dumps({"source": source.model_dump(mode="json"), "id": ident}, sort_keys=True, separators=(",", ":")),
                }
            )
        key = canonical_hash({"format": TARGET_FORMAT, "rows": [[r["prompt"], _digest(r["image"]), _digest(r["mask"])] for r in rows]})[:16]
        plan = ShardPlan(0, tuple(range(len(rows))), key)
        report.removed += [p.name for p in prune(out_dir, [plan.filename])]
        report.samples += len(rows)
        if is_complete(out_dir / plan.filename, len(rows)):
            report.skipped.append(f"{kind}/{plan.filename}")
        else:
            write_atomic(rows_to_table(rows, SAMPLES_SCHEMA), out_dir / plan.filename)
            report.written.append(f"{kind}/{plan.filename}")
    return report


def _digest(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()
