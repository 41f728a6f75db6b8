"""The synthesize stage: recipe -> ``data/NAME/samples/shard-*.parquet`` (images and raw label evidence)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from synth.generate.base import Generator
from synth.generate.prompts import plan_sample
from synth.core.paths import DatasetPaths
from synth.progress import progress_bar
from synth.recipe import Recipe, canonical_hash
from synth.stages import StageReport
from synth.store.encoder import Encoder, ThreadEncoder, open_encoder
from synth.store.shards import ShardPlan, group_seeds, is_complete, prune, write_atomic

SAMPLES_FORMAT = 1  # bump when the bytes a shard holds change for the same recipe


def shard_plans(recipe: Recipe, limit: int | None = None) -> list[ShardPlan]:
    """The shards this recipe consists of, each keyed by what determines its bytes and nothing else.

    The key leaves out the recipe's other seed ranges, so extending a range leaves finished shards' keys alone.
    """
    seeds = recipe.all_seeds()
    if limit is not None:
        seeds = seeds[:limit]
    dump = recipe.model_dump(mode="json")
    keys = ("generator", "taxonomy", "prompts", "image_size", "image_format")
    basis = {k: dump[k] for k in keys} | {"format": SAMPLES_FORMAT}
    return [
        ShardPlan(index, members, canonical_hash(basis | {"seeds": list(members)})[:16])
        for index, members in group_seeds(seeds, recipe.samples_per_shard).items()
    ]


def make_shard(
    generator: Generator, recipe: Recipe, plan: ShardPlan, advance=lambda n=1: None, encoder: Encoder | None = None
) -> pa.Table:
    """Generate one shard's samples in seed order; ``encoder`` turns them into the table beside the generator.

    Without one, a thread of this process encodes: right for callers that are themselves one of several parallel
    workers (Ray actors), where another process per worker would only compete for the same cores.
    """
    if encoder is not None:
        return feed_shard(generator, recipe, plan, encoder, advance).result()
    with ThreadEncoder(recipe.image_format) as own:
        return feed_shard(generator, recipe, plan, own, advance).result()


def feed_shard(generator: Generator, recipe: Recipe, plan: ShardPlan, encoder: Encoder, advance) -> Future:
    """Generate a shard into ``encoder`` and return without waiting for its table, so the next shard can start."""
    plans = [plan_sample(recipe, seed) for seed in plan.seeds]
    step = max(1, generator.batch_size)
    for start in range(0, len(plans), step):
        batch = plans[start : start + step]
        for sample in generator.generate(batch):
            encoder.put(sample)
        advance(len(batch))
    return encoder.finish()


def _write_when_ready(table: Future, path: Path) -> None:
    write_atomic(table.result(), path)


def synthesize(
    recipe: Recipe,
    root: Path = Path("."),
    limit: int | None = None,
    show_progress: bool = True,
    generator: Generator | None = None,
    backend: str = "local",
    backend_options: dict | None = None,
) -> StageReport:
    """Make every missing shard. ``backend`` ("local" or "ray") is how, never what: the bytes are the same."""
    out_dir = DatasetPaths(Path(root), recipe.name).samples
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = shard_plans(recipe, limit)
    report = StageReport(removed=[p.name for p in prune(out_dir, [p.filename for p in plans])])
    todo = []
    for plan in plans:
        if is_complete(out_dir / plan.filename, len(plan.seeds)):
            report.skipped.append(plan.filename)
        else:
            todo.append(plan)
    report.samples = sum(len(p.seeds) for p in plans)
    if not todo:
        return report
    with progress_bar(f"synthesize {recipe.name}", sum(len(p.seeds) for p in todo), show_progress) as advance:
        if backend == "ray":
            from synth.backends.ray_backend import run_on_ray

            report.written.extend(run_on_ray(recipe, todo, out_dir, advance, **(backend_options or {})))
        else:
            # The encoder starts before the generator, so its start-up overlaps loading a model; shards are
            # written by a thread (Parquet releases the GIL) while the next one is generated.
            with open_encoder(recipe.image_format) as encoder, ThreadPoolExecutor(1, "write") as writer:
                own = generator is None
                generator = generator or recipe.generator.build(recipe)
                try:
                    writes = [
                        (plan, writer.submit(_write_when_ready, feed_shard(generator, recipe, plan, encoder, advance),
                                             out_dir / plan.filename))
                        for plan in todo
                    ]
                    for plan, written in writes:
                        written.result()
                        report.written.append(plan.filename)
                finally:
                    if own:
                        generator.close()
    return report
