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
) -> None:
    """Generate images and raw label evidence into data/NAME/samples (finished shards are kept)."""
    from synth.stages.synthesize import synthesize as run

    echo(run(load(name), ROOT, limit=limit, show_progress=not quiet).summary("synthesize"))


@app.command()
def decode(name: NAME, quiet: QUIET = False) -> None:
    """Turn raw label evidence into masks, confidences and per-sample statistics in data/NAME/masks."""
    from synth.stages.decode import decode as run

    echo(run(load(name), ROOT, show_progress=not quiet).summary("decode"))
