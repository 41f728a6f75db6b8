"""``synth export-photos``: bundled photographs as unlabeled target images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import app


@app.command("export-photos")
def export_photos(
    folder: Annotated[Path, typer.Argument(help="Where to write the PNGs.")] = Path("targets/photos"),
) -> None:
    """Write scikit-image's bundled photographs (astronaut, chelsea, coffee, rocket) as unlabeled target images."""
    from synth.adapt.target import export_photos as run

    for path in run(folder):
        typer.echo(str(path))
