"""``synth target``: the optional target-domain stage."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


@app.command()
def target(
    name: NAME,
    tracked_inputs: Annotated[
        bool,
        typer.Option(
            "--tracked-inputs",
            help="Refuse a folder or a Hub dataset at a branch (they change outside the recipe): the `target` DVC "
            "stage passes it, as DVC reruns that stage only when the recipe or code changes.",
        ),
    ] = False,
) -> None:
    """Bring the recipe's target-domain images (and labeled eval set) into data/NAME/target."""
    from synth.stages.target import target as run

    echo(run(load(name), ROOT, tracked_inputs=tracked_inputs).summary("target"))
