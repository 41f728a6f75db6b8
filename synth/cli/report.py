"""``synth report NAME``: the offline HTML report of one dataset."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


@app.command()
def report(name: NAME) -> None:
    """Write reports/NAME/report/index.html: lineage, class charts, validation failures, galleries; opens offline."""
    from synth.stages.report import report as run

    echo(f"report: {run(load(name), ROOT)}")
