"""``synth validate-variants NAME``: the variants (mixed, stylized) with the base's suites; exit 1 when one fails."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.validate import DATA_FAILED


@app.command("validate-variants")
def validate_variants(name: Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]) -> None:
    """Validate each variant the recipe makes (mixed, stylized); write reports/NAME/validation-variants.json."""
    from synth.stages.validate_variants import validate_variants as run

    report = run(load(name), ROOT)
    for line in report.lines():
        echo(line)
    echo(report.summary())
    if not report.success:
        raise SystemExit(DATA_FAILED)
