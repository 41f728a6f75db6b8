"""``synth train-decoder``: train the DatasetGAN label decoder on the annotations."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


@app.command("train-decoder")
def train_decoder(
    name: NAME,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-member log lines.")] = False,
    force: Annotated[bool, typer.Option(help="Retrain even if the checkpoint is up to date.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar="SYNTH_WORKERS",
            min=1,
            help="One-thread processes training ensemble members side by side (default one per CPU core). "
            "Never changes a byte.",
        ),
    ] = None,
) -> None:
    """Train the DatasetGAN label decoder on annotations/NAME into data/NAME/decoder (other decoders: a marker)."""
    from synth.stages.train_decoder import train_decoder as run

    recipe = load(name)
    echo(run(recipe, ROOT, log=(lambda m: None) if quiet else echo, force=force, workers=workers).summary(recipe.name))
