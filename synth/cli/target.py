"""``synth target``: the optional target-domain stage."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


@app.command()
def target(name: NAME) -> None:
    """Bring the recipe's target-domain images (and labeled eval set) into data/NAME/target."""
    from synth.stages.target import target as run

    echo(run(load(name), ROOT).summary("target"))
