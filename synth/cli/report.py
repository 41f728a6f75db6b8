"""``synth report NAME``: the offline HTML report of one dataset."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load


@app.command()
def report(name: Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]) -> None:
    """Write reports/NAME/report/index.html: lineage, class charts, validation failures, galleries; opens offline."""
    from synth.stages.report import report as run

    echo(f"report: {run(load(name), ROOT)}")
