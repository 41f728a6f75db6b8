"""The decode stage: samples shards -> ``data/NAME/masks/shard-*.parquet`` (mask, confidence, statistics).

One masks shard per samples shard, keyed by the decoder settings and the key of its source shard, so changing
only the thresholds re-decodes without touching synthesis.
"""

from __future__ import annotations

import json
from pathlib import Path

from synth.decode.base import Decoder
from synth.errors import UserError
from synth.paths import DatasetPaths
from synth.progress import progress_bar
from synth.recipe import Recipe, canonical_hash
from synth.stages import StageReport
from synth.stats import mask_stats
from synth.palette import palette_bytes
from synth.store.codec import encode_confidence, encode_mask
from synth.store.records import MASKS_SCHEMA, iter_records, rows_to_table
from synth.store.shards import ShardPlan, is_complete, list_shards, parse_name, prune, read_shard, write_atomic

MASKS_FORMAT = 2  # 2: masks are palette PNGs (synth.palette); 1 was greyscale


def mask_shard_plans(recipe: Recipe, samples_dir: Path, trained: str | None = None) -> list[tuple[Path, ShardPlan]]:
    dump = recipe.model_dump(mode="json")
    basis = {"decode": dump["decode"], "taxonomy": dump["taxonomy"], "format": MASKS_FORMAT}
    if trained is not None:  # a trained decoder (datasetgan): retraining it re-decodes every shard
        basis["trained"] = trained
    plans = []
    for source in list_shards(samples_dir):
        index, source_key = parse_name(source)  # type: ignore[misc]
        rows = read_shard_rows(source)
        plans.append((source, ShardPlan(index, tuple(range(rows)), canonical_hash(basis | {"source": source_key})[:16])))
    return plans


def read_shard_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable footer is a corrupt shard
        raise UserError(f"{path}: corrupt shard ({error}); delete it and rerun synthesize") from None


SAMPLE_COLUMNS = ["seed", "prompt", "image", "mask", "arrays", "provenance"]


def decode_shard(decoder: Decoder, recipe: Recipe, source: Path, advance=lambda n=1: None):
    return decode_table(decoder, recipe, read_shard(source, SAMPLE_COLUMNS), source, advance)


def decode_table(decoder: Decoder, recipe: Recipe, samples, source: Path | str, advance=lambda n=1: None):  # noqa: ANN001
    """A masks table from a samples table; ``source`` names where the samples came from, for messages."""
    class_ids = recipe.taxonomy.ids
    palette = palette_bytes(recipe.taxonomy)
    rows = []
    for record in iter_records(samples, source):
        decoded = decoder.decode(record)
        rows.append(
            {
                "seed": record.seed,
                "mask": encode_mask(decoded.mask, palette),
                "confidence": None if decoded.confidence is None else encode_confidence(decoded.confidence),
                "provenance": json.dumps(decoded.provenance, sort_keys=True, separators=(",", ":")),
                **mask_stats(decoded.mask, class_ids, decoded.confidence),
            }
        )
        advance(1)
    return rows_to_table(rows, MASKS_SCHEMA)


def decode(
    recipe: Recipe,
    root: Path = Path("."),
    show_progress: bool = True,
    backend: str = "local",
    backend_options: dict | None = None,
) -> StageReport:
    """Decode every missing masks shard. ``backend`` ("local" or "ray") is how, never what: the bytes are the same."""
    paths = DatasetPaths(Path(root), recipe.name)
    if not list_shards(paths.samples):
        raise UserError(f"{paths.samples}: no samples shards; run `synth synthesize {recipe.name}` first")
    paths.masks.mkdir(parents=True, exist_ok=True)
    plans = mask_shard_plans(recipe, paths.samples, recipe.decode.trained_state(paths))
    report = StageReport(removed=[p.name for p in prune(paths.masks, [plan.filename for _, plan in plans])])
    report.samples = sum(len(plan.seeds) for _, plan in plans)
    todo = []
    for source, plan in plans:
        if is_complete(paths.masks / plan.filename, len(plan.seeds)):
            report.skipped.append(plan.filename)
        else:
            todo.append((source, plan))
    if todo:
        with progress_bar(f"decode {recipe.name}", sum(len(p.seeds) for _, p in todo), show_progress) as advance:
            if backend == "ray":
                from synth.backends.ray_backend import decode_on_ray

                report.written.extend(decode_on_ray(recipe, todo, paths, advance, **(backend_options or {})))
            else:
                _decode_here(recipe, todo, paths, advance, report)
    recipe.decode.finish(recipe, paths)
    return report


def _decode_here(recipe: Recipe, todo: list[tuple[Path, ShardPlan]], paths: DatasetPaths, advance, report: StageReport) -> None:  # noqa: ANN001
    decoder = recipe.decode.build(recipe)
    try:
        decoder.attach(paths)
        for source, plan in todo:
            write_atomic(decode_shard(decoder, recipe, source, advance), paths.masks / plan.filename)
            report.written.append(plan.filename)
    finally:
        decoder.close()
