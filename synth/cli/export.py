"""``synth export NAME --format FORMAT``: a built dataset in another tool's layout (formats: synth/export/formats.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.export.formats import EXPORT_FORMATS

FORMAT_HELP = "; ".join(f"{name}: {f.summary}" for name, f in EXPORT_FORMATS.items()) + "."


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml); reads build/NAME.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "coco",
    out: Annotated[
        Path | None, typer.Option(help="Folder to write; default exports/NAME/FORMAT (exports/NAME/CONFIG/FORMAT).")
    ] = None,
    config: Annotated[str, typer.Option(help="Dataset config: default, or a variant the build holds (mixed, ...).")] = (
        "default"
    ),
) -> None:
    """Write build/NAME in another tool's layout (--format; docs/export.md says what each does with ignore pixels)."""
    from synth.export import export as run

    echo(run(load(name), ROOT, fmt, out, config).summary())
