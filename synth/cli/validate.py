"""``synth validate NAME``: run the expectation suites; exit 1 when the data fails, 2 when the input is bad."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load

DATA_FAILED = 1  # distinct from 2 (bad input: recipe, missing or corrupt shards)


@app.command()
def validate(name: Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]) -> None:
    """Check class balance and mask quality with Great Expectations; write reports/NAME (metrics, details, Data Docs)."""
    from synth.stages.label_checks import summary_line
    from synth.stages.validate import validate as run

    recipe = load(name)
    report = run(recipe, ROOT)
    for line in report.lines():
        echo(line)
    echo(summary_line(recipe, report.metrics))
    echo(report.summary())
    if not report.success:
        raise SystemExit(DATA_FAILED)
