"""``synth preview``: the contact sheet reports/NAME/preview.png."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


@app.command()
def preview(
    name: NAME,
    count: Annotated[int, typer.Option(min=1, max=64, help="Samples on the sheet.")] = 8,
) -> None:
    """Write reports/NAME/preview.png: samples, mask overlays and the class legend."""
    from synth.stages.preview import preview as run

    echo(f"preview: {run(load(name), ROOT, count)}")
