"""One command per DVC stage; each loads the recipe and calls the library function of the same name."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load

NAME = Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]
QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@app.command()
def synthesize(
    name: NAME,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N seeds: a quick preview subset.")] = None,
    quiet: QUIET = False,
    backend: Annotated[
        str, typer.Option(envvar="SYNTH_BACKEND", help="local, or ray (needs the `ray` extra). Never changes a byte.")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(envvar="SYNTH_RAY_ADDRESS", help="Ray cluster: HOST:PORT, ray://HOST:PORT or auto.")
    ] = None,
    workers: Annotated[int, typer.Option(envvar="SYNTH_WORKERS", min=1, help="Ray actors, each loading the generator once.")] = 2,
    gpus_per_worker: Annotated[float, typer.Option(envvar="SYNTH_GPUS_PER_WORKER", min=0, help="GPUs each Ray actor reserves.")] = 0.0,
) -> None:
    """Generate images and raw label evidence into data/NAME/samples (finished shards are kept)."""
    from synth.backends import BACKENDS
    from synth.errors import UserError
    from synth.stages.synthesize import synthesize as run

    if backend not in BACKENDS:
        raise UserError(f"--backend {backend}: unknown backend; choose one of {', '.join(BACKENDS)}")
    if backend == "local" and address is not None:
        raise UserError("--address: only meaningful with --backend ray")
    options = {"address": address, "workers": workers, "gpus_per_worker": gpus_per_worker} if backend == "ray" else None
    recipe = load(name)
    echo(run(recipe, ROOT, limit=limit, show_progress=not quiet, backend=backend, backend_options=options).summary("synthesize"))


@app.command()
def decode(name: NAME, quiet: QUIET = False) -> None:
    """Turn raw label evidence into masks, confidences and per-sample statistics in data/NAME/masks."""
    from synth.stages.decode import decode as run

    echo(run(load(name), ROOT, show_progress=not quiet).summary("decode"))
