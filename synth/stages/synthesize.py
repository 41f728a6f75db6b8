"""The synthesize stage: recipe -> ``data/NAME/samples/shard-*.parquet`` (images and raw label evidence)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path

import pyarrow as pa

from synth.backends.work import ShardJob, ShardWork
from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.core.torch_runtime import NUMERICS_THREADS
from synth.generate.base import Generator, GeneratorConfig
from synth.generate.prompts import plan_sample
from synth.recipe import STAGES, Recipe
from synth.stages import StageReport
from synth.stages.runner import run_sharded
from synth.store.encoder import Encoder, ThreadEncoder, open_encoder
from synth.store.records import without_recording
from synth.store.shards import ShardPlan, group_seeds, read_shard
from synth.store.shared import SharedShards

SAMPLES_FORMAT = 2  # bump when the bytes a shard holds change for the same recipe (2: one torch thread)


def shard_plans(recipe: Recipe, limit: int | None = None) -> list[ShardPlan]:
    """The shards this recipe consists of, each keyed by what determines its bytes and nothing else.

    The key leaves out the recipe's other seed ranges, so extending a range leaves finished shards' keys alone;
    and the recipe's name, so recipes that generate alike share their shards (synth/store/shared.py).
    """
    return plans_for(recipe, recipe.generator, recipe.generator.weights_digest(), limit)


def plans_for(recipe: Recipe, generator: GeneratorConfig, weights: str | None, limit: int | None) -> list[ShardPlan]:
    """``shard_plans`` as if the recipe named ``generator``, whose local weights digest to ``weights``."""
    seeds = recipe.all_seeds()
    if limit is not None:
        seeds = seeds[:limit]
    dump = recipe.model_dump(mode="json") | {"generator": generator.model_dump(mode="json")}
    basis = {k: dump[k] for k in STAGES["synthesize"].key_fields} | {"format": SAMPLES_FORMAT}
    if weights is not None:
        basis["weights"] = weights  # local weights: the recipe names a path, the key what is in it
    if (evidence := generator.evidence_format()) is not None:
        basis["evidence"] = evidence  # what the generator stores beside each image
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
    context = recipe.context()
    plans = [plan_sample(context, seed) for seed in plan.seeds]
    step = max(1, generator.batch_size)
    for start in range(0, len(plans), step):
        batch = plans[start : start + step]
        for sample in generator.generate(batch):
            encoder.put(sample)
        advance(len(batch))
    return encoder.finish()


def _setup(recipe_json: dict, generator: Generator | None = None, process_encoder: bool = False):
    """Per worker: the recipe, its generator (built here unless given) and, locally, the encoder process.

    The encoder starts before the generator, so its start-up overlaps loading a model. On Ray each actor is one
    of several parallel workers: it encodes on a thread (``make_shard``) instead of starting another process.
    """
    recipe = Recipe.model_validate(recipe_json)
    encoder = open_encoder(recipe.image_format) if process_encoder else None
    try:
        own = generator is None
        return recipe, generator or recipe.generator.build(recipe.context()), own, encoder
    except BaseException:
        if encoder is not None:
            encoder.close(abort=True)
        raise


def _make(state, job: ShardJob, _source, advance):
    recipe, generator, _, encoder = state
    if encoder is None:
        return make_shard(generator, recipe, job.plan, advance)
    return feed_shard(generator, recipe, job.plan, encoder, advance)  # a future: written while the next is made


def _teardown(state, failed: bool) -> None:
    _, generator, own, encoder = state
    try:
        if own:
            generator.close()
    finally:
        if encoder is not None:
            encoder.close(abort=failed)


def synthesize(
    recipe: Recipe,
    root: Path = Path("."),
    limit: int | None = None,
    show_progress: bool = True,
    generator: Generator | None = None,
    backend: str = "local",
    backend_options: dict | None = None,
    finish_checks: Callable[[], object] | None = None,
) -> StageReport:
    """Make every missing shard that no recipe made before. ``backend`` ("local" or "ray") is how, never what: the
    bytes are the same. ``finish_checks``: what the caller left out of loading ``recipe`` (the CLI: the checks
    that read the model's tokenizer), run before anything is made, while local worker processes start.

    Locally, ``backend_options={"workers": N}`` makes shards in N one-thread processes (synth/backends/processes.py;
    None: one per core); a ``generator`` built by the caller lives in this process, so it makes them here.
    A shard whose key ``data/.shards`` holds is linked from there; every shard this call makes goes there (only
    those: a shard that was in the folder before is not re-checked, so nothing damaged since spreads to others).
    """
    if backend != "ray" and generator is not None:
        backend_options = {"workers": 1}
    work = samples_work(recipe, generator)
    weights = recipe.generator.weights_digest()
    plans = plans_for(recipe, recipe.generator, weights, limit)
    out_dir = DatasetPaths(Path(root), recipe.name).samples
    shared = SharedShards(Path(root))
    jobs = [ShardJob(plan) for plan in plans]
    report = run_sharded(
        work,
        jobs,
        out_dir,
        f"synthesize {recipe.name}",
        show_progress,
        backend,
        backend_options,
        reuse=shared.fetch,
        finish_checks=finish_checks,
    )
    made = set(report.written)
    share(recipe, [plan for plan in plans if plan.filename in made], out_dir, shared, weights, limit)
    return report


def share(
    recipe: Recipe, plans: list[ShardPlan], out_dir: Path, shared: SharedShards, weights: str | None, limit: int | None
) -> None:
    """Put the shards just made in the shared store; for a generator that records something on the side (UNet
    features), also each shard less that recording, which is the shard of the same recipe without it."""
    for plan in plans:
        shared.keep(plan, out_dir / plan.filename)
    recording = recipe.generator.side_recording()
    if recording is None:
        return
    changes = recording.provenance_changes()
    plain_plans = {plan.index: plan for plan in plans_for(recipe, recording.plain, weights, limit)}
    for plan in plans:
        plain = plain_plans[plan.index]
        if not shared.has(plain.key):
            made = read_shard(out_dir / plan.filename)
            shared.keep_table(plain, without_recording(made, recording.arrays, changes))


def samples_work(recipe: Recipe, generator: Generator | None = None) -> ShardWork:
    """How one samples shard is made, for an executor. The one in-process worker uses ``generator`` (if given) and
    encodes in a child process beside it; a worker among several builds its own and encodes on a thread."""
    dump = recipe.model_dump(mode="json")
    return ShardWork(
        name=recipe.name,
        kind="samples",
        setup=partial(_setup, dump, generator, process_encoder=True),
        worker_setup=partial(_setup, dump, None, process_encoder=False),
        make=_make,
        teardown=_teardown,
        threads=NUMERICS_THREADS,  # the bytes must not depend on the executor's or the machine's thread count
    )
