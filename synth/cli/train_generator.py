"""`synth train-generator`: train the fashion text-to-image model (the frozen DVC stage of the same name)."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo


@app.command("train-generator")
def train_generator(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No training log.")] = False,
) -> None:
    """Train the fashion text-to-image model (params.yaml train_generator:) into models/fashion-sd."""
    from synth.stages.train_generator import train_generator as run

    summary = run(ROOT, log=(lambda m: None) if quiet else echo)
    echo(f"train-generator: {summary['unet_steps_done']} UNet steps in {summary['seconds']} s")
