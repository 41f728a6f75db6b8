"""The decode stage: samples shards -> ``data/NAME/masks/shard-*.parquet`` (mask, confidence, statistics).

One masks shard per samples shard, keyed by the decoder settings and the key of its source shard, so changing
only the thresholds re-decodes without touching synthesis.
"""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from synth.agreement import agreement_stats
from synth.backends.work import ShardJob, ShardWork
from synth.core.atomic import write_text
from synth.core.hashing import canonical_hash
from synth.core.palette import palette_bytes
from synth.core.paths import DatasetPaths
from synth.core.torch_runtime import NUMERICS_THREADS
from synth.decode.base import Decoded, Decoder
from synth.errors import UserError
from synth.labelcheck.gate import JUDGE_RULE, judge_check, judge_exclusions
from synth.recipe import STAGES, Recipe
from synth.stages import StageReport
from synth.stages.runner import run_sharded
from synth.stats import mask_stats
from synth.store.codec import encode_confidence, encode_mask
from synth.store.records import MASKS_SCHEMA, iter_records, rows_to_table
from synth.store.shards import ShardPlan, list_shards, shard_name

MASKS_FORMAT = 3  # 3: + mask-image agreement (synth.agreement); 2: masks are palette PNGs; 1 was greyscale
JUDGED_FORMAT = 2  # 2: every pixel judge-checked labels make ignore gets confidence 0.5 (1: rejected regions only)


def mask_shard_plans(recipe: Recipe, samples_dir: Path, trained: str | None = None) -> list[tuple[Path, ShardPlan]]:
    dump = recipe.model_dump(mode="json")
    basis = {k: dump[k] for k in STAGES["decode"].key_fields} | {"format": MASKS_FORMAT}
    if trained is not None:  # a trained decoder (datasetgan): retraining it re-decodes every shard
        basis["trained"] = trained
    if recipe.decode.judge_labels is not None:  # only judge-checked masks re-decode when the check changes
        basis["judged_format"] = JUDGED_FORMAT
    plans = []
    for source in list_shards(samples_dir):
        index, source_key = shard_name(source)
        rows = read_shard_rows(source)
        plans.append(
            (source, ShardPlan(index, tuple(range(rows)), canonical_hash(basis | {"source": source_key})[:16]))
        )
    return plans


def read_shard_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception as error:
        raise UserError(f"{path}: corrupt shard ({error}); delete it and rerun synthesize") from None


SAMPLE_COLUMNS = ["seed", "prompt", "image", "mask", "arrays", "provenance"]


def decode_table(decoder: Decoder, recipe: Recipe, samples, source: Path | str, advance=lambda n=1: None, judge=None):
    """A masks table from a samples table; ``source`` names where the samples came from, for messages. With
    ``judge`` (``decode.judge_labels``), every decoded mask is judged before it is stored (synth.labelcheck.gate)."""
    class_ids = recipe.taxonomy.ids
    palette = palette_bytes(recipe.taxonomy)
    records, decoded = [], []
    for record in iter_records(samples, source):
        records.append(record)
        decoded.append(decoder.decode(record))
        advance(1)
    if judge is not None and decoded:
        decoded = judged(decoded, [r.image for r in records], class_ids, judge, recipe.decode.judge_labels)
    rows = [
        {
            "seed": record.seed,
            "mask": encode_mask(d.mask, palette),
            "confidence": None if d.confidence is None else encode_confidence(d.confidence),
            "provenance": json.dumps(d.provenance, sort_keys=True, separators=(",", ":")),
            **mask_stats(d.mask, class_ids, d.confidence),
            **agreement_stats(record.image, d.mask),
        }
        for record, d in zip(records, decoded)
    ]
    return rows_to_table(rows, MASKS_SCHEMA)


def judged(decoded: list[Decoded], images: list, class_ids: list[int], judge, cfg) -> list[Decoded]:
    """The decoded masks with the judge's verdicts applied (rejected regions and unjudged specks ignore, where the
    recipe says so) and its agreement in their provenance, which the exclusion list reads once every shard is
    decoded. Every pixel the check made ignore gets the decoders' ignore confidence (0.5), whatever the reason."""
    checked = judge_check(images, [d.mask for d in decoded], class_ids, judge, cfg)
    out = []
    for d, c in zip(decoded, checked):
        confidence = d.confidence
        made_ignore = c.mask != d.mask
        if confidence is not None and made_ignore.any():
            confidence = np.where(made_ignore, np.float32(0.5), confidence).astype(np.float32)
        out.append(Decoded(c.mask, confidence, d.provenance | c.provenance))
    return out


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
    plans = mask_shard_plans(recipe, paths.samples, recipe.decode.trained_state(paths))
    build_judge(recipe)  # a judge that cannot load stops here, before any shard is written or removed
    work = ShardWork(
        name=recipe.name,
        kind="masks",
        # Locally the decoder reads its trained state where train-decoder wrote it; a Ray worker gets a copy.
        setup=partial(_setup, recipe.model_dump(mode="json"), _trained_files(paths) if backend == "ray" else root),
        make=_make,
        teardown=_teardown,
        source_columns=tuple(SAMPLE_COLUMNS),
        threads=NUMERICS_THREADS,  # the decoder's float arithmetic, as the generator's: the same on every backend
    )
    jobs = [ShardJob(plan, str(source)) for source, plan in plans]
    report = run_sharded(work, jobs, paths.masks, f"decode {recipe.name}", show_progress, backend, backend_options)
    listing = recipe.decode.exclusions(recipe.context(), paths.masks)
    gate = recipe.decode.judge_labels
    if gate is not None and gate.min_agreement > 0:
        listing = with_judge_exclusions(listing, recipe.name, judge_exclusions(paths.masks, gate))
    if listing is not None:
        write_exclusions(paths, listing)
    elif paths.excluded.is_file():  # a setting that excluded samples was turned off: nothing is left out now
        paths.excluded.unlink()
    return report


def build_judge(recipe: Recipe):
    """The judge of ``decode.judge_labels``, or None when the recipe does not check labels."""
    gate = recipe.decode.judge_labels
    if gate is None:
        return None
    return gate.judge.build([c.phrase for c in recipe.taxonomy.classes], where="decode.judge_labels.judge")


def _trained_files(paths: DatasetPaths) -> dict[str, bytes]:
    """The trained decoder's folder, as bytes: a worker on another machine lays it out again."""
    if not paths.decoder.is_dir():
        return {}
    return {str(p.relative_to(paths.decoder)): p.read_bytes() for p in sorted(paths.decoder.rglob("*")) if p.is_file()}


def _setup(recipe_json: dict, trained: dict[str, bytes] | Path):
    """Per worker: the recipe and its decoder, attached to the trained state under the project root ``trained``,
    or to a private copy of the trained files ``trained`` (a worker that may be on another machine)."""
    recipe = Recipe.model_validate(recipe_json)
    home = None
    if isinstance(trained, dict):
        home = tempfile.TemporaryDirectory(prefix="synth-decoder-")
        paths = DatasetPaths(Path(home.name), recipe.name)
        for relative, data in trained.items():
            (paths.decoder / relative).parent.mkdir(parents=True, exist_ok=True)
            (paths.decoder / relative).write_bytes(data)
    else:
        paths = DatasetPaths(Path(trained), recipe.name)
    decoder = recipe.decode.build(recipe.context())
    try:
        decoder.attach(paths)
        judge = build_judge(recipe)
    except BaseException:
        decoder.close()
        if home is not None:
            home.cleanup()
        raise
    return recipe, decoder, home, judge


def _make(state, job: ShardJob, samples, advance):
    recipe, decoder, _, judge = state
    return decode_table(decoder, recipe, samples, job.source, advance, judge)


def _teardown(state, failed: bool) -> None:
    _, decoder, home, _ = state
    try:
        decoder.close()
    finally:
        if home is not None:
            home.cleanup()


def with_judge_exclusions(listing: dict | None, name: str, judged_out: list[dict]) -> dict:
    """The decoder's exclusion listing (or a new one) with the judge's: a seed both name keeps both reasons."""
    listing = dict(listing or {"recipe": name, "excluded": []})
    merged = {int(e["seed"]): dict(e) for e in listing["excluded"]}
    for entry in judged_out:
        seed = entry["seed"]
        merged[seed] = (
            merged[seed] | entry | {"reason": f"{merged[seed]['reason']}; {entry['reason']}"}
            if seed in merged
            else entry
        )
    rules = [r for r in (listing.get("rule"), JUDGE_RULE) if r]
    return listing | {
        "rule": "; ".join(rules),
        "excluded": [merged[s] for s in sorted(merged)],
        "excluded_count": len(merged),
    }


def write_exclusions(paths: DatasetPaths, listing: dict) -> None:
    """The samples the decoder excludes: ``masks/excluded.json``, inside the stage's DVC output (build reads it;
    people see the excluded and most uncertain samples in the report page)."""
    write_text(paths.excluded, json.dumps(listing, indent=1, sort_keys=True) + "\n")
