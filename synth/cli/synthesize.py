"""``synth synthesize``: generate samples (locally or on Ray, see synth/backends)."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import ADDRESS, BACKEND, GPUS, NAME, QUIET, STORE, WORKERS, backend_options


@app.command()
def synthesize(
    name: NAME,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N seeds: a quick preview subset.")] = None,
    quiet: QUIET = False,
    backend: BACKEND = "local",
    address: ADDRESS = None,
    workers: WORKERS = None,
    gpus_per_worker: GPUS = 0.0,
    store: STORE = None,
) -> None:
    """Generate images and raw label evidence into data/NAME/samples (finished shards are kept).

    Shards are shared by every recipe: one that any recipe already made with the same generator, classes,
    prompts and seeds (the name and the decode and validation sections do not matter) is linked from
    data/.shards instead of generated again, and a recipe whose generator records UNet features also serves
    the same recipe without them. Every shard made goes there. Clear it with `rm -r data/.shards` (it only costs
    regeneration; entries are checked by their checksum before use, so a damaged one is made again).
    """
    from synth.recipe import check_model_files
    from synth.stages.synthesize import synthesize as run

    options = backend_options(backend, address, workers, gpus_per_worker, store)
    recipe = load(name, model_files=False)  # the model's tokenizer is read while the workers start
    report = run(
        recipe,
        ROOT,
        limit=limit,
        show_progress=not quiet,
        backend=backend,
        backend_options=options,
        finish_checks=lambda: check_model_files(recipe, name, ROOT),
    )
    echo(report.summary("synthesize"))
