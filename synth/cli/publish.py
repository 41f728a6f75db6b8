"""``synth publish``: upload a build to the Hub as one tagged commit and record it in registry/."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, load
from synth.cli.options import NAME


@app.command()
def publish(
    name: NAME,
    force: Annotated[
        bool, typer.Option(help="Publish even though validation failed (the card says unvalidated).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be uploaded and the tag; upload nothing.")
    ] = False,
) -> None:
    """Upload build/NAME to the recipe's hub_repo as one commit, tag it v<version>, record it in registry/."""
    from synth.publish.hub import publish as run

    for line in run(load(name), ROOT, force=force, dry_run=dry_run).lines():
        typer.echo(line)
