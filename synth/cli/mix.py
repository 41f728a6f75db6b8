"""``synth mix``: the optional HydraMix stage."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME, QUIET_TRAINING


@app.command()
def mix(name: NAME, quiet: QUIET_TRAINING = False) -> None:
    """Make composites of N source samples (recipe `mix:`) into data/NAME/mixed, masks exact."""
    from synth.stages.mix import mix as run

    echo(run(load(name), ROOT, show_progress=not quiet, log=(lambda m: None) if quiet else echo).summary("mix"))
